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

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

/* The panel currently drawn on the terminal (stdout is one per process). */
static char *panel;
static int panel_lines;
static int stdout_tty = -1;

static int on_tty(void)
{
    if (stdout_tty < 0)
        stdout_tty = isatty(STDOUT_FILENO);
    return stdout_tty;
}

static void panel_erase(void)
{
    if (panel_lines > 0)
        outq_printf(STDOUT_FILENO, "\x1b[%dF\x1b[J", panel_lines);
}

static void panel_draw(void)
{
    if (panel && panel_lines > 0) {
        outq_write(STDOUT_FILENO, panel, strlen(panel));
        outq_write(STDOUT_FILENO, "\n", 1);
    }
}

void log_write(struct bot *b, enum log_level level, const char *msg, size_t len)
{
    static const char *const tags[] = {"", "warning: ", "error: "};
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

    int redraw = on_tty() && panel_lines > 0;
    if (redraw)
        panel_erase();
    outq_write(level == LOG_INFO ? STDOUT_FILENO : STDERR_FILENO, line, total);
    if (redraw)
        panel_draw();
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
    /* The last panel stays on screen, below the log, as the final word of the run. */
    free(panel);
    panel = NULL;
    panel_lines = 0;
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
    lua_call(L, 1, 2);  /* stack: rendered warnings */
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
    int rc = fs_write_atomic(path, withnl, len + 1, err, sizeof err), e = errno;
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
    if (on_tty()) {
        panel_erase();
        char *p = malloc(len + 1);
        if (p) {
            memcpy(p, r, len);
            p[len] = '\0';
            free(panel);
            panel = p;
            panel_lines = 1;
            for (size_t i = 0; i < len; i++)
                panel_lines += panel[i] == '\n';
        }
        panel_draw();
    }
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

static const luaL_Reg funcs[] = {
    {"Log", f_Log},
    {"LogStatus", f_LogStatus},
    {NULL, NULL}
};

int luaopen_log(lua_State *L)
{
    lua_pushglobaltable(L);
    luaL_setfuncs(L, funcs, 0);
    return 1;
}
