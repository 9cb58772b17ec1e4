/*
 * replay.c: the span of a replay and its summary. The summary's figures come from each bot's own exchange
 * (exchange._summary() in stdlib/exchange.lua), so the C side only lays them out.
 */
#include "host/replay.h"
#include "host/bot.h"
#include "core/clock.h"
#include "core/fsutil.h"
#include "core/numfmt.h"
#include "core/timeparse.h"
#include "data/json.h"
#include "lua/api.h"
#include "lua/log.h"
#include "data/market.h"
#include "host/options.h"
#include "core/outq.h"
#include "host/scheduler.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>

int replay_span(struct sched *s, const struct market *m, const struct options *o, char *err, size_t errlen)
{
    int64_t first, last;
    market_span(m, &first, &last);
    if (last == INT64_MAX && o->to_ms == INT64_MIN) {
        snprintf(err, errlen, "market '%s' has no end: give it bars=N, or give --to", market_url(m));
        return -1;
    }
    int64_t from = o->from_ms != INT64_MIN ? o->from_ms : first, to = o->to_ms != INT64_MIN ? o->to_ms : last;
    if (from > to) {
        snprintf(err, errlen, "nothing to replay: --from is after --to or after the market data ends");
        return -1;
    }
    s->start_ns = from * 1000000;
    s->end_ns = to * 1000000;
    return 0;
}

/* The folder of path (".", or "/" for a file at the root) into dir. */
static void folder_of(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, size, ".");
    else if (slash == path)
        snprintf(dir, size, "/");
    else
        snprintf(dir, size, "%.*s", (int)(slash - path), path);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int replay_check_outputs(const struct options *o, char *err, size_t errlen)
{
    const char *files[][2] = {{"--json", o->json_out}, {"--report", o->report}};
    char dir[4096];
    for (size_t i = 0; i < 2; i++) {
        const char *path = files[i][1];
        if (!path)
            continue;
        folder_of(path, dir, sizeof dir);
        if (!*path || path[strlen(path) - 1] == '/' || is_dir(path)) {
            snprintf(err, errlen, "option %s: '%s' is a folder; give a file name", files[i][0], path);
            return -1;
        }
        if (!is_dir(dir)) {
            snprintf(err, errlen, "option %s: the folder of '%s' does not exist (%s)", files[i][0], path, dir);
            return -1;
        }
    }
    if (o->csv_dir) {
        struct stat st;
        if (stat(o->csv_dir, &st) == 0 ? !S_ISDIR(st.st_mode) : (folder_of(o->csv_dir, dir, sizeof dir), !is_dir(dir))) {
            snprintf(err, errlen, "option --csv: '%s' is neither a folder nor one that can be made in an existing "
                     "folder", o->csv_dir);
            return -1;
        }
    }
    return 0;
}

static const char *const figures[] = {"orders", "fills", "fees", "balance", "stocks", "value", "pnl"};
#define NFIG (sizeof figures / sizeof figures[0])

#define MORE_MAX 15         /* exchanges after the first a summary shows (the config allows 16 per bot) */

struct summary {
    struct bot *b;
    int ref;                /* the bot's results table (stdlib/results.lua), in its state's registry */
    double fig[NFIG];
    double more[MORE_MAX][NFIG];    /* exchanges[2..]: its `exchanges` list */
    char line[MORE_MAX + 1][512];   /* each exchange's `line`, shown under its row (a futures account's) */
    int nmore;
    int ok;
};

static void read_figures(lua_State *L, double *fig, char *line, size_t size)
{
    for (size_t i = 0; i < NFIG; i++) {
        lua_getfield(L, -1, figures[i]);
        fig[i] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    lua_getfield(L, -1, "line");
    snprintf(line, size, "%s", lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "");
    lua_pop(L, 1);
}

/* The bot's results (stdlib/results.lua: its exchange's totals, fills, equity and figures, its LogProfit and Chart
 * series), made in the bot's own state, through the door, and kept in its registry for copy_value: (struct
 * summary). Taken from the preload table, not the strategy's require or globals. */
static int summary_protected(lua_State *L)
{
    struct summary *sm = lua_touserdata(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    if (lua_getfield(L, -1, "results") != LUA_TFUNCTION)
        return 0;
    lua_pushliteral(L, "results");
    lua_call(L, 1, 1);
    lua_pushinteger(L, sm->b->sched->start_ns / 1000000);
    lua_call(L, 1, 1);
    if (!lua_istable(L, -1))
        return 0;
    int t = lua_gettop(L);
    read_figures(L, sm->fig, sm->line[0], sizeof sm->line[0]);
    if (lua_getfield(L, -1, "exchanges") == LUA_TTABLE)
        for (; sm->nmore < MORE_MAX && lua_rawgeti(L, -1, sm->nmore + 1) == LUA_TTABLE; lua_pop(L, 1)) {
            sm->nmore++;
            read_figures(L, sm->more[sm->nmore - 1], sm->line[sm->nmore], sizeof sm->line[0]);
        }
    lua_settop(L, t);
    sm->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    sm->ok = 1;
    return 0;
}

/* Copies the JSON-shaped value at L's idx to the top of J: numbers, strings, booleans, json.null and tables of
 * them (string or integer keys; empty json.array tables stay arrays); anything else becomes nil. A year of
 * minutes is millions of numbers: copied as they are, they cost neither the encoding nor the decoding of JSON.
 * L is only read, without allocating or raising (its stack grows by lua_checkstack only), so this runs inside J's
 * protected call. */
static void copy_value(lua_State *J, lua_State *L, int idx, int depth)
{
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            lua_pushinteger(J, lua_tointeger(L, idx));
        else
            lua_pushnumber(J, lua_tonumber(L, idx));
        return;
    case LUA_TSTRING: {
        size_t n;
        const char *p = lua_tolstring(L, idx, &n);
        lua_pushlstring(J, p, n);
        return;
    }
    case LUA_TBOOLEAN:
        lua_pushboolean(J, lua_toboolean(L, idx));
        return;
    case LUA_TLIGHTUSERDATA:    /* json.null */
        lua_pushlightuserdata(J, lua_touserdata(L, idx));
        return;
    case LUA_TTABLE:
        break;
    default:
        lua_pushnil(J);
        return;
    }
    idx = lua_absindex(L, idx);
    if (depth > JSON_MAX_DEPTH || !lua_checkstack(L, 3)) {
        lua_pushnil(J);
        return;
    }
    luaL_checkstack(J, 4, "the results nest too deep");
    lua_Unsigned n = lua_rawlen(L, idx);
    lua_createtable(J, n < INT32_MAX ? (int)n : 0, 0);
    if (n == 0 && json_is_array(L, idx)) {
        json_push_mark_mt(J, 1);
        lua_setmetatable(J, -2);
    }
    for (lua_Unsigned i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i);
        copy_value(J, L, -1, depth + 1);
        lua_pop(L, 1);
        lua_rawseti(J, -2, (lua_Integer)i);
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            size_t kn;
            const char *k = lua_tolstring(L, -2, &kn);
            lua_pushlstring(J, k, kn);
        } else if (lua_isinteger(L, -2) && (lua_tointeger(L, -2) < 1 || (lua_Unsigned)lua_tointeger(L, -2) > n)) {
            lua_pushinteger(J, lua_tointeger(L, -2));
        } else {
            lua_pop(L, 1);
            continue;
        }
        copy_value(J, L, -1, depth + 1);
        lua_rawset(J, -3);
        lua_pop(L, 1);
    }
}

/* The replay's results in a state of the host's own: {from, to, bots = {...}} from the bots' JSON, completed with
 * the whole replay's figures (stdlib/replay_results.lua); then the figures table, --json, --csv and --report from
 * it. (struct results, under lua_pcall) */
struct results {
    struct sched *s;
    const struct options *o;
    struct summary *sm;
    jbuf table, json, fills, equity, html;
    char err[JSON_ERRLEN + 256];
};

/* Calls require(module)[fn] on the value at the top, leaving the value and pushing nres results. */
static void call_module(lua_State *J, const char *module, const char *fn, int nres)
{
    lua_getglobal(J, "require");
    lua_pushstring(J, module);
    lua_call(J, 1, 1);
    lua_getfield(J, -1, fn);
    lua_remove(J, -2);
    lua_pushvalue(J, -2);
    lua_call(J, 1, nres);
}

static void take_string(lua_State *J, int idx, jbuf *out)
{
    size_t n;
    const char *p = lua_tolstring(J, idx, &n);
    jbuf_init(out);
    if (p && n > 0) {
        char *copy = malloc(n + 1);
        if (!copy)
            luaL_error(J, "out of memory");
        memcpy(copy, p, n + 1);
        out->p = copy;
        out->len = n;
        out->cap = n + 1;
    }
}

/* The bot's channel publications ({time, seq, data}) and reads ({time, seq, channel}) into its table at the top,
 * with how many were beyond the cap (publications_dropped, reads_dropped). */
static void push_chanlog(lua_State *J, const struct chanlog *c)
{
    static const struct chanlog_list none;
    static const char *const names[][3] = {{"publications", "data", "publications_dropped"},
                                           {"reads", "channel", "reads_dropped"}};
    for (int i = 0; i < 2; i++) {
        const struct chanlog_list *l = !c ? &none : i == 0 ? &c->publications : &c->reads;
        lua_createtable(J, (int)l->n, 0);
        json_push_mark_mt(J, 1);
        lua_setmetatable(J, -2);
        for (size_t k = 0; k < l->n; k++) {
            lua_createtable(J, 0, 3);
            lua_pushinteger(J, l->rec[k].time);
            lua_setfield(J, -2, "time");
            lua_pushinteger(J, l->rec[k].seq);
            lua_setfield(J, -2, "seq");
            lua_pushlstring(J, l->rec[k].text, l->rec[k].len);
            lua_setfield(J, -2, names[i][1]);
            lua_rawseti(J, -2, (lua_Integer)k + 1);
        }
        lua_setfield(J, -2, names[i][0]);
        lua_pushinteger(J, l->dropped);
        lua_setfield(J, -2, names[i][2]);
    }
}

/* ---- --csv: written here, not in Lua: a year of minutes is millions of cells, each number in its shortest exact
 * form (numfmt.c) ---- */

static void csv_add(lua_State *J, jbuf *out, const char *p, size_t n)
{
    if (jbuf_add(out, p, n) != 0)
        luaL_error(J, "out of memory");
}

/* The cell of field `key` of the table at idx (key NULL: the value at idx): a number exactly, a string quoted when
 * it holds a comma, a quote or a line break, nothing for anything else. Then `sep`. */
static void csv_cell(lua_State *J, jbuf *out, int idx, const char *key, char sep)
{
    char num[40];
    size_t n = 0;
    if (key)
        lua_getfield(J, idx, key);
    else
        lua_pushvalue(J, idx);
    if (lua_isinteger(J, -1)) {
        lua_Integer v = lua_tointeger(J, -1);
        if (v < 0)
            num[n++] = '-';
        n += fmt_u64(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, num + n);
        csv_add(J, out, num, n);
    } else if (lua_type(J, -1) == LUA_TNUMBER) {
        double d = lua_tonumber(J, -1);
        if (isfinite(d))
            csv_add(J, out, num, fmt_double(d, num));
    } else if (lua_type(J, -1) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(J, -1, &len);
        if (strcspn(s, ",\"\r\n") < len) {
            csv_add(J, out, "\"", 1);
            for (size_t i = 0; i < len; i++) {
                if (s[i] == '"')
                    csv_add(J, out, "\"", 1);     /* a quote is doubled */
                csv_add(J, out, s + i, 1);
            }
            csv_add(J, out, "\"", 1);
        } else {
            csv_add(J, out, s, len);
        }
    }
    lua_pop(J, 1);
    csv_add(J, out, &sep, 1);
}

/* fills.csv's columns after bot, time_ms and exchange */
static const char *const fill_fields[] = {"side", "price", "amount", "fee", "order", "effect", "position", "pnl"};
#define NFILL (sizeof fill_fields / sizeof fill_fields[0])

/* fills.csv and equity.csv of the results table at the top of J: long format, the bot's ID in every row (docs/report.md). */
static void csv_write(lua_State *J, jbuf *fills, jbuf *equity)
{
    static const char fh[] = "bot,time_ms,exchange,side,price,amount,fee,order,effect,position,pnl\n";
    static const char eh[] = "bot,time_ms,equity\n";
    csv_add(J, fills, fh, sizeof fh - 1);
    csv_add(J, equity, eh, sizeof eh - 1);
    luaL_checkstack(J, 8, NULL);
    lua_getfield(J, -1, "bots");
    int bots = lua_gettop(J);
    for (lua_Integer i = 1; lua_rawgeti(J, bots, i) == LUA_TTABLE; i++) {
        int b = lua_gettop(J);
        lua_getfield(J, b, "id");
        int id = lua_gettop(J);
        if (lua_getfield(J, b, "trades") == LUA_TTABLE)
            for (lua_Integer k = 1; lua_rawgeti(J, -1, k) == LUA_TTABLE; k++) {
                csv_cell(J, fills, id, NULL, ',');
                csv_cell(J, fills, -1, "time", ',');
                if (lua_getfield(J, -1, "exchange") == LUA_TNIL)
                    csv_add(J, fills, "1,", 2);         /* the bot's first exchange */
                else
                    csv_cell(J, fills, -1, NULL, ',');
                lua_pop(J, 1);
                for (size_t f = 0; f < NFILL; f++)
                    csv_cell(J, fills, -1, fill_fields[f], f + 1 < NFILL ? ',' : '\n');
                lua_pop(J, 1);
            }
        lua_settop(J, id);
        if (lua_getfield(J, b, "equity") == LUA_TTABLE) {
            lua_getfield(J, -1, "time");
            lua_getfield(J, -2, "value");
            int t = lua_gettop(J) - 1, v = t + 1;
            if (lua_istable(J, t) && lua_istable(J, v)) {
                lua_Integer n = (lua_Integer)lua_rawlen(J, t);
                for (lua_Integer k = 1; k <= n; k++) {
                    csv_cell(J, equity, id, NULL, ',');
                    lua_rawgeti(J, t, k);
                    csv_cell(J, equity, -1, NULL, ',');
                    lua_pop(J, 1);
                    lua_rawgeti(J, v, k);
                    csv_cell(J, equity, -1, NULL, '\n');
                    lua_pop(J, 1);
                }
            }
        }
        lua_settop(J, bots);
    }
    lua_settop(J, bots - 1);
}

static int results_protected(lua_State *J)
{
    struct results *a = lua_touserdata(J, 1);
    struct sched *s = a->s;
    /* A state that lives for a moment: collecting it while it fills (millions of numbers) only costs time. */
    lua_gc(J, LUA_GCSTOP);
    api_open_host(J);
    lua_createtable(J, 0, 3);
    lua_pushinteger(J, s->start_ns / 1000000);
    lua_setfield(J, -2, "from");
    lua_pushinteger(J, s->now_ns / 1000000);
    lua_setfield(J, -2, "to");
    lua_createtable(J, s->nbots, 0);
    for (int i = 0; i < s->nbots; i++) {
        struct summary *sm = &a->sm[i];
        lua_State *L = sm->b->L;
        if (sm->ok && L && lua_checkstack(L, 1)) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, sm->ref);
            copy_value(J, L, -1, 0);
            lua_pop(L, 1);
        } else {
            lua_newtable(J);
        }
        if (!lua_istable(J, -1)) {
            lua_pop(J, 1);
            lua_newtable(J);
        }
        lua_pushstring(J, sm->b->id);
        lua_setfield(J, -2, "id");
        lua_pushstring(J, sm->b->script);
        lua_setfield(J, -2, "script");
        lua_pushinteger(J, sm->b->status);
        lua_setfield(J, -2, "status");
        push_chanlog(J, sm->b->chanlog);
        lua_rawseti(J, -2, i + 1);
    }
    lua_setfield(J, -2, "bots");
    call_module(J, "replay_results", "complete", 0);
    call_module(J, "replay_results", "table", 1);
    take_string(J, -1, &a->table);
    lua_pop(J, 1);
    if (a->o->json_out && json_encode(J, -1, &a->json, a->err, sizeof a->err) != 0)
        return luaL_error(J, "%s", a->err);
    if (a->o->csv_dir)
        csv_write(J, &a->fills, &a->equity);
    if (a->o->report) {
        call_module(J, "report", "render", 1);
        take_string(J, -1, &a->html);
        lua_pop(J, 1);
    }
    return 0;
}

/* Writes one output file, saying on stderr why not. */
static void write_out(const char *what, const char *path, const jbuf *data)
{
    char err[512];
    if (fs_write_atomic(path, data->p ? data->p : "", data->len, err, sizeof err) != 0)
        outq_printf(STDERR_FILENO, "stratrun: cannot write the replay's %s: %s\n", what, err);
}

static void write_results(struct sched *s, const struct options *o, struct summary *sm)
{
    struct results a = {.s = s, .o = o, .sm = sm};
    jbuf *bufs[] = {&a.table, &a.json, &a.fills, &a.equity, &a.html};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        jbuf_init(bufs[i]);
    lua_State *J = luaL_newstate();
    int ok = J != NULL;
    if (ok) {
        lua_pushcfunction(J, results_protected);
        lua_pushlightuserdata(J, &a);
        ok = lua_pcall(J, 1, 0, 0) == LUA_OK;
        if (!ok)
            snprintf(a.err, sizeof a.err, "%s", lua_tostring(J, -1));
        lua_close(J);
    } else {
        snprintf(a.err, sizeof a.err, "out of memory");
    }
    if (!ok) {
        outq_printf(STDERR_FILENO, "stratrun: cannot make the replay's results: %s\n", a.err);
    } else {
        if (a.table.len)
            outq_printf(STDOUT_FILENO, "\n%.*s", (int)a.table.len, a.table.p);
        if (o->json_out)
            write_out("JSON", o->json_out, &a.json);
        if (o->csv_dir) {
            char path[4200];
            if (mkdir(o->csv_dir, 0755) != 0 && errno != EEXIST)
                outq_printf(STDERR_FILENO, "stratrun: cannot make the folder %s for --csv: %s\n", o->csv_dir,
                            strerror(errno));
            snprintf(path, sizeof path, "%s/fills.csv", o->csv_dir);
            write_out("fills CSV", path, &a.fills);
            snprintf(path, sizeof path, "%s/equity.csv", o->csv_dir);
            write_out("equity CSV", path, &a.equity);
        }
        if (o->report)
            write_out("report", o->report, &a.html);
    }
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        jbuf_free(bufs[i]);
}

void replay_finish(struct sched *s, const struct options *o, int64_t wall_ns)
{
    char from[32], to[32];
    time_format_utc(s->start_ns / 1000000, TIME_MINUTE, from, sizeof from);
    time_format_utc(s->now_ns / 1000000, TIME_MINUTE, to, sizeof to);
    /* stdout holds only what the inputs decide, so two replays compare byte for byte; the speed goes to stderr, or
     * where the progress bar was (a terminal: the bar's last erase and this line, written by two threads to two
     * descriptors, could otherwise land in either order on it). */
    outq_printf(STDOUT_FILENO, "\nreplay %s .. %s UTC, %d bot%s, %ld bot-iterations\n", from, to, s->nbots,
                s->nbots == 1 ? "" : "s", s->steps);
    outq_printf(s->progress ? s->progress_fd : STDERR_FILENO, "replay took %.2f s: %.0f bot-iterations/s\n",
                (double)wall_ns / 1e9, wall_ns > 0 ? (double)s->steps * 1e9 / (double)wall_ns : 0.0);
    outq_printf(STDOUT_FILENO, "%-16s %6s %7s %7s %12s %14s %14s %14s %12s\n", "bot", "status", "orders", "fills",
                "fees", "balance", "stocks", "value", "P&L");

    struct summary *sm = calloc((size_t)s->nbots + 1, sizeof *sm);
    if (!sm)
        return;
    for (int i = 0; i < s->nbots; i++) {
        struct bot *b = s->bots[i];
        sm[i].b = b;
        sm[i].ref = LUA_NOREF;
        char msg[512];
        if (bot_door(b, log_status_flush, b, msg, sizeof msg) != LUA_OK) {
            msg[strcspn(msg, "\n")] = '\0';
            log_printf(b, LOG_WARN, "LogStatus: %s", msg);
        }
        if (bot_door(b, summary_protected, &sm[i], NULL, 0) != LUA_OK)
            sm[i].ok = 0;
        if (sm[i].ok) {
            const double *f = sm[i].fig;
            outq_printf(STDOUT_FILENO, "%-16s %6d %7.0f %7.0f %12.4f %14.4f %14.8f %14.4f %12.4f\n", b->id,
                        b->status, f[0], f[1], f[2], f[3], f[4], f[5], f[6]);
            if (sm[i].line[0][0])
                outq_printf(STDOUT_FILENO, "  %s\n", sm[i].line[0]);
            for (int k = 0; k < sm[i].nmore; k++) {     /* its other exchanges: ID[2], ID[3], ... */
                char name[ID_MAX + 16];
                f = sm[i].more[k];
                snprintf(name, sizeof name, "%s[%d]", b->id, k + 2);
                outq_printf(STDOUT_FILENO, "%-16s %6s %7.0f %7.0f %12.4f %14.4f %14.8f %14.4f %12.4f\n", name, "",
                            f[0], f[1], f[2], f[3], f[4], f[5], f[6]);
                if (sm[i].line[k + 1][0])
                    outq_printf(STDOUT_FILENO, "  %s\n", sm[i].line[k + 1]);
            }
        } else {
            outq_printf(STDOUT_FILENO, "%-16s %6d %7s\n", b->id, b->status, "-");
        }
    }
    write_results(s, o, sm);
    free(sm);
}
