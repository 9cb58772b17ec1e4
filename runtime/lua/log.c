/*
 * log.c: Log and LogStatus, and the log lines the host writes itself.
 *
 * A log line goes to stdout (warnings and errors to stderr) and is appended to <bot dir>/log.txt with one
 * write(2), so lines from a dying process are whole; a full disk never leaves a torn line either, and the lines it
 * loses are counted (log_append, core/logsink.c). The status panel is kept below the log on a terminal
 * (erased and redrawn around each log line) and always written atomically to <bot dir>/status.txt.
 */
#include "lua/api.h"
#include "lua/ctx.h"
#include "core/clock.h"
#include "core/fsutil.h"
#include "data/json.h"
#include "lua/log.h"
#include "core/logsink.h"
#include "core/outq.h"
#include "core/termpanel.h"
#include "core/termtext.h"

#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

void log_write(struct bot *b, enum log_level level, const char *msg, size_t len)
{
    static const char *const tags[] = {"", "warning: ", "error: ", ""};
    char head[64 + ID_MAX];
    size_t hn = logsink_stamp(clock_now_ms(b), head, sizeof head);
    if (b && b->sched && b->sched->nbots > 1)    /* several bots share the terminal: say whose line it is */
        hn += (size_t)snprintf(head + hn, sizeof head - hn, "[%s] ", b->id);
    size_t tn = strlen(tags[level]);
    size_t total = hn + tn + len + 1;
    char small[1024], *line = total <= sizeof small ? small : malloc(total);
    if (!line)
        return;
    memcpy(line, head, hn);
    memcpy(line + hn, tags[level], tn);
    memcpy(line + hn + tn, msg, len);
    line[total - 1] = '\n';

    int fd = level == LOG_INFO ? STDOUT_FILENO : level == LOG_FILE ? -1 : STDERR_FILENO;
    struct sched *s = b ? b->sched : NULL;
    if (s && s->quiet && level == LOG_INFO)
        fd = -1;    /* replay --quiet: the log file only */
    if (fd >= 0 && s && s->progress && (fd == STDERR_FILENO || fd == s->progress_fd)) {
        /* The replay's progress bar is on this terminal: the line goes to the bar's queue, so the two stay in
         * order, and erases the bar first (the scheduler draws it again below the line). */
        fd = s->progress_fd;
        if (s->progress_drawn)
            outq_write(fd, "\r\x1b[K", 4);
        s->progress_drawn = 0;
    }
    if (fd >= 0)
        termpanel_write(fd, line, total);   /* above the status panels, when stdout is a terminal */
    if (b && b->log_fd >= 0)
        log_append(b->log_fd, line, total);     /* a full disk must not stop the strategy */
    if (line != small)
        free(line);
}

void log_printf(struct bot *b, enum log_level level, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    log_write(b, level, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

void log_panel_clear(void)
{
    termpanel_clear();      /* the last panels stay on screen, below the log, as the final word of the run */
}

/* Joins the arguments the way Log shows them: strings and numbers as Lua prints them, nil as null, tables
 * (without __tostring) as JSON. A table that is not JSON (a cycle, a function) is named, not fatal. */
static void join_args(lua_State *L, int n, luaL_Buffer *out)
{
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(out, ' ');
        if (lua_isnil(L, i)) {
            luaL_addstring(out, "null");
        } else if (lua_type(L, i) == LUA_TTABLE && !luaL_getmetafield(L, i, "__tostring")) {
            jbuf jb;
            char err[JSON_ERRLEN];
            jbuf_init(&jb);
            if (json_encode(L, i, &jb, err, sizeof err) == 0)
                luaL_addlstring(out, jb.p, jb.len);
            else {
                luaL_addstring(out, "<table that is not JSON: ");
                luaL_addstring(out, err);
                luaL_addchar(out, '>');
            }
            jbuf_free(&jb);
        } else {
            if (lua_type(L, i) == LUA_TTABLE)
                lua_pop(L, 1);      /* the __tostring pushed by luaL_getmetafield */
            luaL_tolstring(L, i, NULL);
            luaL_addvalue(out);
        }
    }
}

/* Log(...): one line, arguments joined by single spaces. */
static int f_Log(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_Buffer buf;
    luaL_buffinit(L, &buf);     /* pushes a placeholder above the arguments */
    join_args(L, n, &buf);
    luaL_pushresult(&buf);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    log_write(bot_of(L), LOG_INFO, s, len);
    return 0;
}

/* Writes <bot dir>/status.json, the panel as the dashboard draws it: {"time":MS,"blocks":[...]} from the blocks at
 * idx (stdlib/status.lua, docs/dashboard.md), replaced atomically. A failure is not said: status.txt, in the same
 * folder, says it (write_status_file). */
static void write_status_json(lua_State *L, struct bot *b, int idx)
{
    jbuf jb;
    jbuf_init(&jb);
    char head[64], err[JSON_ERRLEN + 4200];
    int n = snprintf(head, sizeof head, "{\"time\":%lld,\"blocks\":", (long long)clock_now_ms(b));
    if (jbuf_add(&jb, head, (size_t)n) == 0 && json_encode(L, idx, &jb, err, sizeof err) == 0 &&
        jbuf_add(&jb, "}\n", 2) == 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/status.json", b->dir);
        if (fs_write_atomic_mode(path, jb.p, jb.len, 0600, FS_VOLATILE, err, sizeof err) != 0) { /* said by status.txt */ }
    }
    jbuf_free(&jb);
}

/* Renders the LogStatus text at index text (backtick tables, stdlib/status.lua), logs its warnings, and pushes
 * the panel. */
static const char *render(lua_State *L, struct bot *b, int text, size_t *len)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, "stratrun.status_render") != LUA_TFUNCTION) {
        lua_pop(L, 1);
        lua_getglobal(L, "require");
        lua_pushliteral(L, "status");
        lua_call(L, 1, 1);
        lua_getfield(L, -1, "render");
        lua_remove(L, -2);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, "stratrun.status_render");
    }
    lua_pushvalue(L, text);
    lua_call(L, 1, 3);  /* stack: rendered warnings blocks */
    write_status_json(L, b, lua_gettop(L));
    lua_pop(L, 1);
    if (lua_istable(L, -1)) {
        lua_Integer nw = luaL_len(L, -1);
        for (lua_Integer i = 1; i <= nw; i++) {
            lua_geti(L, -1, i);
            size_t wl;
            const char *w = lua_tolstring(L, -1, &wl);
            if (w)
                log_write(b, LOG_WARN, w, wl);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return luaL_checklstring(L, -1, len);
}

#define STATUS_FAIL_KEY "stratrun.status_fail"    /* registry: errno of the failure last logged, while writes fail */

/* Writes the status file. A failure (a full or read-only disk) is logged once per condition, and the recovery once. */
static void write_status_file(lua_State *L, struct bot *b, const char *r, size_t len)
{
    char path[4200], err[300];
    snprintf(path, sizeof path, "%s/status.txt", b->dir);
    char *withnl = malloc(len + 1);
    if (!withnl)
        return;
    memcpy(withnl, r, len);
    withnl[len] = '\n';
    int rc = fs_write_atomic_mode(path, withnl, len + 1, 0600, FS_VOLATILE, err, sizeof err), e = errno;
    free(withnl);
    int failing = lua_getfield(L, LUA_REGISTRYINDEX, STATUS_FAIL_KEY) == LUA_TNUMBER;
    if (rc == 0) {
        if (failing)
            log_printf(b, LOG_INFO, "LogStatus: %s is written again", path);
        lua_pushnil(L);
    } else {
        if (!failing || lua_tointeger(L, -1) != e)
            log_printf(b, LOG_WARN, "%s (said once until a write succeeds)", err);
        lua_pushinteger(L, e);
    }
    lua_setfield(L, LUA_REGISTRYINDEX, STATUS_FAIL_KEY);
    lua_pop(L, 1);
}

/* LogStatus(...): replaces the status panel. Backtick segments holding table JSON render as tables
 * (stdlib/status.lua). */
static int f_LogStatus(lua_State *L)
{
    struct bot *b = bot_of(L);
    int n = lua_gettop(L);
    luaL_Buffer buf;
    luaL_buffinit(L, &buf);
    join_args(L, n, &buf);
    luaL_pushresult(&buf);
    if (b->sched && b->sched->virtual_) {
        /* A replay keeps the latest text and renders it once, at the end (log_status_flush): rendering and
         * writing millions of panels nobody sees would cost more than the replay itself. */
        lua_setfield(L, LUA_REGISTRYINDEX, "stratrun.panel");
        return 0;
    }
    size_t len;
    const char *r = render(L, b, lua_gettop(L), &len);
    write_status_file(L, b, r, len);
    /* One panel per bot, labelled with its ID when the process runs several. */
    termpanel_set(b->sched && b->sched->nbots > 1 ? b->id : NULL, r, len);
    return 0;
}

int log_status_flush(lua_State *L)
{
    struct bot *b = lua_touserdata(L, 1);
    if (lua_getfield(L, LUA_REGISTRYINDEX, "stratrun.panel") != LUA_TSTRING)
        return 0;
    size_t len;
    const char *r = render(L, b, lua_gettop(L), &len);
    write_status_file(L, b, r, len);
    return 0;
}


/* Appends one whole line to <bot dir>/name, with one write (fs_append_whole). 0, or -1 with the failure logged. */
static int append_to(struct bot *b, const char *name, const char *line, size_t len)
{
    char path[4200], err[4400];
    snprintf(path, sizeof path, "%s/%s", b->dir, name);
    int rc = fs_append_file(path, line, len, err, sizeof err);
    if (rc != 0)
        log_printf(b, LOG_WARN, "%s", err);
    return rc;
}

/* The optional count of LogProfitReset and LogReset: a whole number >= 0, or nil for 0. */
static lua_Integer opt_keep(lua_State *L, const char *fn)
{
    if (lua_isnoneornil(L, 1))
        return 0;
    int ok;
    lua_Integer n = lua_tointegerx(L, 1, &ok);
    if (!ok || n < 0)
        return luaL_error(L, "%s: the number of entries to keep must be a whole number >= 0, not %s", fn,
                          luaL_tolstring(L, 1, NULL));
    return n;
}

/* LogProfit(profit, ...): appends "time_ms,profit" to <bot dir>/profit.csv and logs "Profit: profit ...", unless
 * the last argument is "&" (the series only). */
static int f_LogProfit(lua_State *L)
{
    struct bot *b = bot_of(L);
    int n = lua_gettop(L);
    if (lua_type(L, 1) != LUA_TNUMBER || lua_tonumber(L, 1) != lua_tonumber(L, 1) ||
        lua_tonumber(L, 1) - lua_tonumber(L, 1) != 0)
        return luaL_error(L, "LogProfit: profit must be a finite number, not %s", luaL_tolstring(L, 1, NULL));
    const char *value = luaL_tolstring(L, 1, NULL);
    char line[128];
    int len = snprintf(line, sizeof line, "%lld,%s\n", (long long)clock_now_ms(b), value);
    append_to(b, "profit.csv", line, (size_t)len);
    lua_pop(L, 1);
    if (n >= 2 && lua_type(L, n) == LUA_TSTRING && strcmp(lua_tostring(L, n), "&") == 0)
        return 0;
    luaL_Buffer buf;
    luaL_buffinit(L, &buf);
    luaL_addstring(&buf, "Profit: ");
    join_args(L, n, &buf);
    luaL_pushresult(&buf);
    size_t ml;
    const char *msg = lua_tolstring(L, -1, &ml);
    log_write(b, LOG_INFO, msg, ml);
    return 0;
}

/* LogProfitReset([n]): empties the profit series, or keeps its last n points. */
static int f_LogProfitReset(lua_State *L)
{
    struct bot *b = bot_of(L);
    lua_Integer keep = opt_keep(L, "LogProfitReset");
    char path[4200], err[4400];
    snprintf(path, sizeof path, "%s/profit.csv", b->dir);
    if (fs_keep_last_lines(path, (long long)keep, 0, NULL, err, sizeof err) != 0)
        return luaL_error(L, "%s", err);
    return 0;
}

/* LogReset([n]): empties the bot's log file, or keeps its last n lines; its rotated files go (log_reset). */
static int f_LogReset(lua_State *L)
{
    struct bot *b = bot_of(L);
    lua_Integer keep = opt_keep(L, "LogReset");
    char err[4400];
    if (b->log_fd >= 0 && log_reset(b->log_fd, (long long)keep, err, sizeof err) != 0)
        return luaL_error(L, "LogReset: %s", err);
    return 0;
}

#define LAST_ERROR_KEY "stratrun.last_error"        /* registry: the message GetLastError returns next */
#define FILTERS_KEY "stratrun.error_filters"        /* registry: struct filters, SetErrorFilter's expressions */
#define FILTERS_MAX 64

struct filters {
    int n;
    regex_t re[FILTERS_MAX];
};

static int filters_gc_all(struct filters *f)
{
    for (int i = 0; i < f->n; i++)
        regfree(&f->re[i]);
    f->n = 0;
    return 0;
}

static int filters_gc(lua_State *L)
{
    return filters_gc_all(lua_touserdata(L, 1));
}

static struct filters *filters_of(lua_State *L)
{
    return api_registry_object(L, FILTERS_KEY, sizeof(struct filters), filters_gc);
}

/* SetErrorFilter(regex): error lines matching regex (POSIX extended syntax) are no longer logged; each call adds one,
 * "" removes them all. */
static int f_SetErrorFilter(lua_State *L)
{
    const char *re = luaL_checkstring(L, 1);
    struct filters *f = filters_of(L);
    if (!*re)
        return filters_gc_all(f);
    if (f->n == FILTERS_MAX)
        return luaL_error(L, "SetErrorFilter: %d filters are set, the most allowed (SetErrorFilter(\"\") removes them)",
                          FILTERS_MAX);
    int rc = regcomp(&f->re[f->n], re, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[200];
        regerror(rc, &f->re[f->n], why, sizeof why);
        return luaL_error(L, "SetErrorFilter: '%s' is not a POSIX extended regular expression: %s", re, why);
    }
    f->n++;
    return 0;
}

/* GetLastError(): the last error a platform call reported (an exchange call that failed), or nil; taken, so that
 * the next call says nil until a new error. */
static int f_GetLastError(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, LAST_ERROR_KEY);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LAST_ERROR_KEY);
    return 1;
}

void log_call_error(lua_State *L, const char *msg, size_t len)
{
    lua_pushlstring(L, msg, len);
    lua_setfield(L, LUA_REGISTRYINDEX, LAST_ERROR_KEY);
    struct filters *f = filters_of(L);
    for (int i = 0; i < f->n; i++)
        if (regexec(&f->re[i], msg, 0, NULL, 0) == 0)
            return;
    log_write(bot_of(L), LOG_INFO, msg, len);
}

/* require("stratrun.log").error(msg): log_call_error, for stdlib/exchange.lua. */
static int f_api_error(lua_State *L)
{
    size_t len;
    const char *msg = luaL_checklstring(L, 1, &len);
    log_call_error(L, msg, len);
    return 0;
}

/* require("stratrun.log").warn(msg): a warning line of the bot's log (stderr and log.txt). */
static int f_api_warn(lua_State *L)
{
    size_t len;
    const char *msg = luaL_checklstring(L, 1, &len);
    log_write(bot_of(L), LOG_WARN, msg, len);
    return 0;
}

/* require("stratrun.log").width(s): the terminal columns s takes (core/termtext.h), for the status tables. */
static int f_api_width(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_pushinteger(L, (lua_Integer)tt_width(s, len));
    return 1;
}

int luaopen_logapi(lua_State *L)
{
    static const luaL_Reg api[] = {
        {"error", f_api_error}, {"warn", f_api_warn}, {"width", f_api_width}, {NULL, NULL}
    };
    luaL_newlib(L, api);
    return 1;
}

static const luaL_Reg funcs[] = {
    {"GetLastError", f_GetLastError},
    {"Log", f_Log},
    {"LogProfit", f_LogProfit},
    {"LogProfitReset", f_LogProfitReset},
    {"LogReset", f_LogReset},
    {"LogStatus", f_LogStatus},
    {"SetErrorFilter", f_SetErrorFilter},
    {NULL, NULL}
};

int luaopen_log(lua_State *L)
{
    lua_pushglobaltable(L);
    luaL_setfuncs(L, funcs, 0);
    return 1;
}
