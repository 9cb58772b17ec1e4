/*
 * replay.c: the span of a replay and its summary. The summary's figures come from each bot's own exchange
 * (exchange._summary() in stdlib/exchange.lua), so the C side only lays them out.
 */
#include "host/replay.h"
#include "host/bot.h"
#include "core/clock.h"
#include "core/fsutil.h"
#include "data/json.h"
#include "lua/log.h"
#include "data/market.h"
#include "host/options.h"
#include "core/outq.h"
#include "host/scheduler.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

static void fmt_time(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t)clock_floor_s(ms);
    struct tm tm;
    strftime(buf, size, "%Y-%m-%d %H:%M", gmtime_r(&t, &tm));
}

static const char *const figures[] = {"orders", "fills", "fees", "balance", "stocks", "value", "pnl"};
#define NFIG (sizeof figures / sizeof figures[0])

#define MORE_MAX 15         /* exchanges after the first a summary shows (the config allows 16 per bot) */

struct summary {
    struct bot *b;
    jbuf json;              /* exchange._summary() as JSON */
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

/* exchange._summary() in the bot's own state, through the door: (struct summary) */
static int summary_protected(lua_State *L)
{
    struct summary *sm = lua_touserdata(L, 1);
    if (lua_getglobal(L, "exchange") != LUA_TTABLE || lua_getfield(L, -1, "_summary") != LUA_TFUNCTION)
        return 0;
    lua_call(L, 0, 1);
    char err[JSON_ERRLEN];
    if (!lua_istable(L, -1) || json_encode(L, -1, &sm->json, err, sizeof err) != 0)
        return 0;
    read_figures(L, sm->fig, sm->line[0], sizeof sm->line[0]);
    if (lua_getfield(L, -1, "exchanges") == LUA_TTABLE)
        for (; sm->nmore < MORE_MAX && lua_rawgeti(L, -1, sm->nmore + 1) == LUA_TTABLE; lua_pop(L, 1)) {
            sm->nmore++;
            read_figures(L, sm->more[sm->nmore - 1], sm->line[sm->nmore], sizeof sm->line[0]);
        }
    sm->ok = 1;
    return 0;
}

/* The JSON summary {from, to, bots = {...}}, built in a state of the host's own from the bots' JSON: (summary
 * array, under lua_pcall) */
struct json_args {
    struct sched *s;
    struct summary *sm;
    jbuf out;
    char err[JSON_ERRLEN];
};

static int json_protected(lua_State *J)
{
    struct json_args *a = lua_touserdata(J, 1);
    struct sched *s = a->s;
    lua_createtable(J, 0, 3);
    lua_pushinteger(J, s->start_ns / 1000000);
    lua_setfield(J, -2, "from");
    lua_pushinteger(J, s->now_ns / 1000000);
    lua_setfield(J, -2, "to");
    lua_createtable(J, s->nbots, 0);
    for (int i = 0; i < s->nbots; i++) {
        struct summary *sm = &a->sm[i];
        if (!sm->ok || json_decode(J, sm->json.p, sm->json.len, a->err, sizeof a->err) != 0)
            lua_newtable(J);
        lua_pushstring(J, sm->b->id);
        lua_setfield(J, -2, "id");
        lua_pushstring(J, sm->b->script);
        lua_setfield(J, -2, "script");
        lua_pushinteger(J, sm->b->status);
        lua_setfield(J, -2, "status");
        lua_rawseti(J, -2, i + 1);
    }
    lua_setfield(J, -2, "bots");
    if (json_encode(J, -1, &a->out, a->err, sizeof a->err) != 0)
        return luaL_error(J, "%s", a->err);
    return 0;
}

void replay_finish(struct sched *s, const struct options *o, int64_t wall_ns)
{
    char from[32], to[32];
    fmt_time(s->start_ns / 1000000, from, sizeof from);
    fmt_time(s->now_ns / 1000000, to, sizeof to);
    /* stdout holds only what the inputs decide, so two replays compare byte for byte; the speed goes to stderr. */
    outq_printf(STDOUT_FILENO, "\nreplay %s .. %s UTC, %d bot%s, %ld bot-iterations\n", from, to, s->nbots,
                s->nbots == 1 ? "" : "s", s->steps);
    outq_printf(STDERR_FILENO, "replay took %.2f s: %.0f bot-iterations/s\n", (double)wall_ns / 1e9,
                wall_ns > 0 ? (double)s->steps * 1e9 / (double)wall_ns : 0.0);
    outq_printf(STDOUT_FILENO, "%-16s %6s %7s %7s %12s %14s %14s %14s %12s\n", "bot", "status", "orders", "fills",
                "fees", "balance", "stocks", "value", "P&L");

    struct summary *sm = calloc((size_t)s->nbots + 1, sizeof *sm);
    if (!sm)
        return;
    for (int i = 0; i < s->nbots; i++) {
        struct bot *b = s->bots[i];
        sm[i].b = b;
        jbuf_init(&sm[i].json);
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
    if (o->json_out) {
        struct json_args a = {.s = s, .sm = sm};
        jbuf_init(&a.out);
        lua_State *J = luaL_newstate();
        int ok = J != NULL;
        if (ok) {
            lua_pushcfunction(J, json_protected);
            lua_pushlightuserdata(J, &a);
            ok = lua_pcall(J, 1, 0, 0) == LUA_OK;
            if (!ok)
                snprintf(a.err, sizeof a.err, "%s", lua_tostring(J, -1));
            lua_close(J);
        } else {
            snprintf(a.err, sizeof a.err, "out of memory");
        }
        if (!ok || fs_write_atomic(o->json_out, a.out.p, a.out.len, a.err, sizeof a.err) != 0)
            outq_printf(STDERR_FILENO, "stratrun: cannot write the replay summary: %s\n", a.err);
        jbuf_free(&a.out);
    }
    for (int i = 0; i < s->nbots; i++)
        jbuf_free(&sm[i].json);
    free(sm);
}
