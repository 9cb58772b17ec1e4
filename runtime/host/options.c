/*
 * options.c: the command line, the config file and the bot's identity.
 *
 * The config file is Lua evaluated in an empty environment, in a state of its own with a memory cap and an
 * instruction budget, so a config can neither reach the OS (no os, io or require) nor hang the start.
 * Every assignment is checked as it happens, which lets an error name the line that made it.
 */
#include "host/options.h"
#include "host/cli.h"
#include "core/mailaddr.h"
#include "core/fsutil.h"
#include "core/redact.h"
#include "data/json.h"
#include "lua/stdlib_embed.h"
#include "lua/venue.h"
#include "core/timeparse.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

const char options_usage[] =
    "usage: stratrun [options] SCRIPT.lua [ARGS...]      one bot, live\n"
    "       stratrun run [options] SCRIPT.lua[@ID] ...    several bots in one process, live\n"
    "       stratrun replay [options] SCRIPT.lua[@ID] ... several bots on a virtual clock over the market data\n"
    "       stratrun cmd [--data-dir DIR] ID TEXT         queue TEXT for the running bot ID (its GetCommand)\n"
    "       stratrun ps [--data-dir DIR]                  the bots of the data dir: running or not, PID, last log line\n"
    "       stratrun stop [--data-dir DIR] ID...          SIGTERM to the bots, then wait for their onexit\n"
    "       stratrun logs [--data-dir DIR] [-n N] [-f] ID the last lines of a bot's log; -f follows it\n"
    "       stratrun channel ls|get ID|watch ID [--data-dir DIR] [--channel URL]\n"
    "                                                     the channels' latest states; watch follows one\n"
    "       stratrun new NAME [--dir DIR]                 a folder NAME: a strategy to start from, its config and\n"
    "                                                     the editor files\n"
    "       stratrun serve [--listen ADDR:PORT] [--data-dir DIR] [--channel URL]\n"
    "                                                     the dashboard: a web page of the data dir's bots\n"
    "       stratrun data download --market rest:URL --symbol S --period P --from T [--to T] OUT.csv\n"
    "                                                     a venue's historical candles into a CSV to replay\n"
    "\n"
    "Runs trading strategies written in Lua: init(), then main(), then onexit().\n"
    "\n"
    "options:\n"
    "  --id ID            the bot's live ID (1-64 of A-Z a-z 0-9 _ -); its channel has the same name\n"
    "  --config FILE      config file (default: ./stratrun.conf when present)\n"
    "  --data-dir DIR     where stores, logs, status and local channels live\n"
    "                     (default: $STRATRUN_HOME, else ~/.local/state/stratrun)\n"
    "  --channel URL      channel backend: local (default), local:DIR, memory,\n"
    "                     redis://[user:password@]host:port[/db]\n"
    "  --market URL       market data: sim:seed=N,... (default sim:seed=42), csv:PATH,\n"
    "                     rest:BASE-URL[,symbol=BTC_USDT,interval=MS,stale=MS,weight=N]\n"
    "                     (live prices)\n"
    "  --group NAME       several users share the local channel folder: it is made 02770 with group NAME\n"
    "                     (config: shared_group = \"NAME\")\n"
    "  --no-fsync         skip the fsyncs of every atomic write (tmpfs, benchmarks): a power loss may then\n"
    "                     lose the last writes (config: fsync = false)\n"
    "  --record FILE      live: append the market's closed candles to FILE as CSV (replay reads it)\n"
    "  --reset-account    live: start each bot's paper account afresh (it is kept across restarts)\n"
    "  -p NAME=VALUE      set strategy parameter NAME (a global) before init(); repeatable\n"
    "  -p ID.NAME=VALUE   the same for bot ID only (run, replay)\n"
    "  --from T, --to T   replay: start and end (ISO 8601 or ms; default: the market data's span)\n"
    "  --json FILE        replay: also write the results as JSON to FILE (fills, equity, figures, ...)\n"
    "  --csv DIR          replay: also write DIR/fills.csv and DIR/equity.csv\n"
    "  --report FILE      replay: also write the results as one self-contained HTML page to FILE\n"
    "  --quiet            replay: the strategies' log lines go only to their log files, not to stdout\n"
    "  --memory-limit MB  the most memory each bot's Lua state may use (default 1024)\n"
    "  --step-limit S     seconds a bot may run without Sleep: live, one warning; a replay stops the bot\n"
    "                     (default 10)\n"
    "  --onexit-limit S   seconds onexit may run in a live run before it is cut (default 300)\n"
    "  --log-max-size MB  rotate each bot's log.txt before it passes MB MiB (default 64; 0: never)\n"
    "  --log-keep N       rotated logs kept, log.txt.1 (the newest) to log.txt.N (default 5)\n"
    "  -h, --help         show this help\n"
    "  -V, --version      show the version\n"
    "\n"
    "exit status: 0 done, 1 strategy error, 2 usage or config error, 128+N stopped by signal N\n";

static int set_id(struct options *o, const char *id, size_t len, const char *where, char *err, size_t errlen)
{
    const char *bad = id_check(id, len);
    if (bad) {
        snprintf(err, errlen, "%sinvalid bot ID '%.*s': it %s (an ID is 1-64 characters of A-Z a-z 0-9 _ -)",
                 where, (int)(len > 80 ? 80 : len), id, bad);
        return -1;
    }
    memcpy(o->id, id, len);
    o->id[len] = '\0';
    return 0;
}

static int valid_name(const char *s, size_t len)
{
    if (len == 0 || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

/* Adds or replaces a parameter; the caller fills the value. */
static struct param *param_slot(struct options *o, const char *name, size_t len)
{
    for (size_t i = 0; i < o->nparams; i++)
        if (strlen(o->params[i].name) == len && memcmp(o->params[i].name, name, len) == 0) {
            free(o->params[i].s);
            o->params[i].s = NULL;
            return &o->params[i];
        }
    struct param *np = realloc(o->params, (o->nparams + 1) * sizeof *np);
    if (!np)
        return NULL;
    o->params = np;
    struct param *p = &np[o->nparams++];
    memset(p, 0, sizeof *p);
    p->name = strndup(name, len);
    return p->name ? p : NULL;
}

/* -p NAME=VALUE or -p ID.NAME=VALUE (for bot ID only): VALUE reads as an integer, a float, true/false, or
 * else a string. */
static int parse_param(struct options *o, const char *arg, char *err, size_t errlen)
{
    const char *eq = strchr(arg, '=');
    const char *dot = eq ? memchr(arg, '.', (size_t)(eq - arg)) : NULL;
    const char *name = dot ? dot + 1 : arg;
    if (!eq || !valid_name(name, (size_t)(eq - name)) || (dot && id_check(arg, (size_t)(dot - arg)))) {
        snprintf(err, errlen, "invalid parameter '%s': expected -p NAME=VALUE or -p BOTID.NAME=VALUE, with NAME a "
                 "Lua identifier", arg);
        return -1;
    }
    struct param *p = param_slot(o, arg, (size_t)(eq - arg));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *v = eq + 1;
    char *end;
    if (*v) {
        errno = 0;
        long long i = strtoll(v, &end, 10);
        if (*end == '\0' && errno == 0) {
            p->type = PARAM_INT;
            p->i = i;
            return 0;
        }
        errno = 0;
        double d = strtod(v, &end);
        if (*end == '\0' && errno == 0 && v[0] != 'n' && v[0] != 'N' && v[0] != 'i' && v[0] != 'I' &&
            !(v[0] == '0' && (v[1] == 'x' || v[1] == 'X'))) {
            p->type = PARAM_FLOAT;
            p->d = d;
            return 0;
        }
    }
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
        p->type = PARAM_BOOL;
        p->b = v[0] == 't';
        return 0;
    }
    p->type = PARAM_STRING;
    p->s = strdup(v);
    return p->s ? 0 : -1;
}

static void replace(char **slot, const char *v)
{
    free(*slot);
    *slot = v ? strdup(v) : NULL;
}

/* ---- the config file ---- */

struct cfg_ctx {
    struct options *o;
    const char *file;
    size_t mem, memcap;
    long budget;            /* instruction-hook calls left */
    char cli_id;            /* the command line set these: the config must not override them */
    char cli_data_dir, cli_channel, cli_market, cli_fsync, cli_group;
    size_t ncli_params;     /* o->params[0..ncli_params) came from -p and win over the config's */
};

static void *cfg_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct cfg_ctx *c = ud;
    if (!ptr)
        osize = 0;
    if (nsize == 0) {
        free(ptr);
        c->mem -= osize;
        return NULL;
    }
    if (nsize > osize && c->mem + (nsize - osize) > c->memcap)
        return NULL;    /* Lua raises "not enough memory" */
    void *np = realloc(ptr, nsize);
    if (np)
        c->mem = c->mem - osize + nsize;
    return np;
}

static struct cfg_ctx *cfg_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

static void cfg_hook(lua_State *L, lua_Debug *ar)
{
    if (--cfg_of(L)->budget <= 0) {
        lua_getinfo(L, "Sl", ar);
        luaL_error(L, "%s:%d: runs too long (more than 10 million instructions); a config only assigns values",
                   ar->short_src, ar->currentline);
    }
}

/* The string at idx, which must not hold a NUL byte: C would read it cut short at the NUL (data_dir = "d\0x"
 * would run in ./d). */
static const char *cfg_string(lua_State *L, int idx, const char *what)
{
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    if (strlen(s) != len)
        luaL_error(L, "%s holds a NUL byte after \"%s\"; it must be text without one", what, s);
    return s;
}

static int cfg_param(lua_State *L, struct options *o, size_t ncli, int tbl)
{
    /* stack: ... params-table */
    lua_pushnil(L);
    while (lua_next(L, tbl)) {
        size_t len = 0;
        const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &len) : NULL;
        if (!name || !valid_name(name, len))
            return luaL_error(L, "params: every key must be a Lua identifier");
        int from_cli = 0;
        for (size_t i = 0; i < ncli; i++)
            from_cli |= strcmp(o->params[i].name, name) == 0;
        if (from_cli) {     /* -p NAME=... was given: it wins */
            lua_pop(L, 1);
            continue;
        }
        struct param *p = param_slot(o, name, len);
        if (!p)
            return luaL_error(L, "out of memory");
        switch (lua_type(L, -1)) {
        case LUA_TNUMBER:
            if (lua_isinteger(L, -1)) {
                p->type = PARAM_INT;
                p->i = lua_tointeger(L, -1);
            } else {
                p->type = PARAM_FLOAT;
                p->d = lua_tonumber(L, -1);
            }
            break;
        case LUA_TBOOLEAN:
            p->type = PARAM_BOOL;
            p->b = lua_toboolean(L, -1);
            break;
        case LUA_TSTRING:
            p->type = PARAM_STRING;
            lua_pushfstring(L, "params.%s", name);
            p->s = strdup(cfg_string(L, -2, lua_tostring(L, -1)));
            lua_pop(L, 1);
            break;
        default:
            return luaL_error(L, "params.%s must be a number, boolean or string, not %s", name, luaL_typename(L, -1));
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* Pushes the exchange's own check of its settings (stdlib/exchange_settings.lua), loaded into the config's state
 * on first use: the exchange owns its section of the config (docs/exchange.md). It gets the base library, string
 * and math as its globals; the config's chunk still sees none of them (its _ENV is the empty table of cfg_run),
 * and strings keep no methods. stack: +1 */
static void push_exchange_check(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, "stratrun.exchange_check") == LUA_TFUNCTION)
        return;
    lua_pop(L, 1);
    const struct stdlib_module *m = stratrun_stdlib;
    while (m->name && strcmp(m->name, "exchange_settings") != 0)
        m++;
    if (!m->name)
        luaL_error(L, "stdlib/exchange_settings.lua is not in this build");
    luaL_requiref(L, "_G", luaopen_base, 0);
    luaL_requiref(L, "string", luaopen_string, 1);
    luaL_requiref(L, "math", luaopen_math, 1);
    lua_pop(L, 3);
    lua_pushliteral(L, "");
    lua_pushnil(L);
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
    if (luaL_loadbufferx(L, m->src, m->size, "=stdlib/exchange_settings.lua", "b") != LUA_OK)
        lua_error(L);
    lua_call(L, 0, 1);
    lua_getfield(L, -1, "check");
    lua_remove(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, "stratrun.exchange_check");
}

/* Keeps url (an exchange's `market`) in o->markets, once, with the first table that named it (for messages):
 * main.c opens each before any bot starts. */
static void add_market(lua_State *L, struct options *o, const char *url, const char *what)
{
    for (int i = 0; i < o->nmarkets; i++)
        if (strcmp(o->markets[i], url) == 0)
            return;
    char **m = realloc(o->markets, (size_t)(o->nmarkets + 1) * sizeof *m);
    if (m)
        o->markets = m;
    char **f = realloc(o->markets_from, (size_t)(o->nmarkets + 1) * sizeof *f);
    if (f)
        o->markets_from = f;
    if (!m || !f || !(m[o->nmarkets] = strdup(url)))
        luaL_error(L, "out of memory");
    if (!(f[o->nmarkets] = strdup(what))) {
        free(m[o->nmarkets]);
        luaL_error(L, "out of memory");
    }
    o->nmarkets++;
}

/* Checks the exchange settings table at idx with the exchange's own check ("WHAT: why" when it fails) and keeps
 * the market it names. */
static void check_exchange(lua_State *L, struct options *o, int idx, const char *what)
{
    idx = lua_absindex(L, idx);
    venue_config(L, idx, what);     /* a live exchange's settings and keys leave the table for venue.c */
    push_exchange_check(L);
    lua_pushvalue(L, idx);
    lua_call(L, 1, 2);
    /* stack: settings or nil, why */
    if (lua_isnil(L, -2))
        luaL_error(L, "%s: %s", what, lua_tostring(L, -1));
    lua_pop(L, 2);
    if (lua_getfield(L, idx, "market") == LUA_TSTRING && lua_rawlen(L, -1) > 0)
        add_market(L, o, lua_tostring(L, -1), what);
    lua_pop(L, 1);
}

#define EXCHANGES_MAX 16

/* Checks exchanges = {{...}, ...} at idx: a list of 1 to EXCHANGES_MAX exchange settings tables. */
static void check_exchanges(lua_State *L, struct options *o, int idx, const char *what)
{
    idx = lua_absindex(L, idx);
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1))
        if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 || lua_tointeger(L, -2) > n)
            luaL_error(L, "%s must be a list of exchange tables ({{currency = \"BTC_USDT\"}, {currency = "
                       "\"ETH_USDT\", market = \"csv:eth.csv\"}}), but it has the key %s", what,
                       luaL_tolstring(L, -2, NULL));
    if (n < 1)
        luaL_error(L, "%s is empty: give at least one exchange table such as {currency = \"BTC_USDT\"}", what);
    if (n > EXCHANGES_MAX)
        luaL_error(L, "%s has %d exchanges; a bot has at most %d", what, (int)n, EXCHANGES_MAX);
    for (lua_Integer i = 1; i <= n; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s[%lld]", what, (long long)i);
        if (lua_rawgeti(L, idx, i) != LUA_TTABLE)
            luaL_error(L, "%s must be a table, not %s", name, luaL_typename(L, -1));
        check_exchange(L, o, -1, name);
        lua_pop(L, 1);
    }
}

/* The table at idx as JSON text in *dst, for the bot's state to read. */
static void keep_json(lua_State *L, int idx, char **dst, const char *what)
{
    jbuf jb;
    char err[JSON_ERRLEN];
    jbuf_init(&jb);
    if (json_encode(L, idx, &jb, err, sizeof err) != 0) {
        jbuf_free(&jb);
        luaL_error(L, "%s: %s", what, err);
    }
    replace(dst, jb.p);
    jbuf_free(&jb);
}

/* exchange = {...}: the paper exchange's settings, checked by the exchange's own check, kept as JSON for the bot's
 * state to read. exchanges = {{...}, ...}: a bot's several exchanges, each laid over the exchange table. */
static void cfg_exchange(lua_State *L, struct options *o, int tbl)
{
    check_exchange(L, o, tbl, "exchange");
    keep_json(L, tbl, &o->exchange, "exchange");
}

static void cfg_exchanges(lua_State *L, struct options *o, int tbl)
{
    check_exchanges(L, o, tbl, "exchanges");
    keep_json(L, tbl, &o->exchanges, "exchanges");
}

/* bots = {ID = {exchange = {...}, exchanges = {...}}, ...}: settings of one bot over the config's own. Each bot's
 * tables are checked alone here (laid over the config's exchange table when the bot starts: bot.c,
 * stdlib/exchange.lua), its ID against the run's bots in options_resolve. */
static void cfg_bots(lua_State *L, struct options *o, int tbl)
{
    for (int i = 0; i < o->nbots_cfg; i++)
        free(o->bots_cfg_ids[i]);
    o->nbots_cfg = 0;
    lua_pushnil(L);
    while (lua_next(L, tbl)) {
        size_t len = 0;
        const char *id = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &len) : NULL;
        if (!id || len == 0 || len > ID_MAX)
            luaL_error(L, "bots: every key must be a bot ID as a string of 1 to %d characters (write "
                       "[\"632800\"] = {...})", ID_MAX);
        if (lua_type(L, -1) != LUA_TTABLE)
            luaL_error(L, "bots.%s must be a table such as {exchange = {period = 3600}}, not %s", id,
                       luaL_typename(L, -1));
        int entry = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, entry)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
            char what[ID_MAX + 32];
            snprintf(what, sizeof what, "bots.%s.%s", id, k);
            if (strcmp(k, "exchange") != 0 && strcmp(k, "exchanges") != 0)
                luaL_error(L, "unknown key %s (allowed: exchange, exchanges)", what);
            if (lua_type(L, -1) != LUA_TTABLE)
                luaL_error(L, "%s must be a table, not %s", what, luaL_typename(L, -1));
            if (strcmp(k, "exchanges") == 0)
                check_exchanges(L, o, -1, what);
            else
                check_exchange(L, o, -1, what);
            lua_pop(L, 1);
        }
        char **ids = realloc(o->bots_cfg_ids, (size_t)(o->nbots_cfg + 1) * sizeof *ids);
        if (!ids || !(ids[o->nbots_cfg] = strdup(id)))
            luaL_error(L, "out of memory");
        o->bots_cfg_ids = ids;
        o->nbots_cfg++;
        lua_pop(L, 1);
    }
    keep_json(L, tbl, &o->bots_cfg, "bots");
}

/* http = {...}: HttpQuery's limits (http.c). */
static void cfg_http(lua_State *L, struct options *o, int tbl)
{
    lua_pushnil(L);
    while (lua_next(L, tbl)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        if (strcmp(k, "timeout") == 0 || strcmp(k, "max_bytes") == 0) {
            double v = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0, max = k[0] == 't' ? 600000 : 1 << 30;
            if (!(v >= 1 && v <= max && floor(v) == v))
                luaL_error(L, "http.%s must be a whole number from 1 to %s", k,
                           k[0] == 't' ? "600000 (ms)" : "1073741824 (bytes)");
            *(k[0] == 't' ? &o->http.timeout_ms : &o->http.max_bytes) = (long)v;
        } else if (strcmp(k, "in_replay") == 0) {
            if (lua_type(L, -1) != LUA_TBOOLEAN)
                luaL_error(L, "http.in_replay must be a boolean, not %s", luaL_typename(L, -1));
            o->http.in_replay = lua_toboolean(L, -1);
        } else {
            luaL_error(L, "unknown key http.%s (allowed: timeout, max_bytes, in_replay)", k);
        }
        lua_pop(L, 1);
    }
}

/* Frees a secret after overwriting it, so that no copy stays in freed memory. */
static void free_secret(char *s)
{
    if (!s)
        return;
    for (volatile char *p = s; *p; p++)
        *p = '\0';
    free(s);
}

/* mail = {server, user, password, to}: what Mail uses for an argument given as "" or nil (http.c). Each
 * assignment replaces the whole table (a password never outlives the server it was given with). Checked here,
 * with Mail's own checks (core/mailaddr.h), so a wrong value stops stratrun at start. */
static void cfg_mail(lua_State *L, struct options *o, int tbl)
{
    static const char *const keys[] = {"server", "user", "password", "to", NULL};
    char **dst[] = {&o->http.mail_server, &o->http.mail_user, &o->http.mail_password, &o->http.mail_to};
    for (int i = 0; i < 4; i++) {
        if (i == 2)
            free_secret(*dst[i]);
        else
            free(*dst[i]);
        *dst[i] = NULL;
    }
    lua_pushnil(L);
    while (lua_next(L, tbl)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int i = 0;
        while (k && keys[i] && strcmp(keys[i], k) != 0)
            i++;
        if (!k || !keys[i])
            luaL_error(L, "unknown key mail.%s (allowed: server, user, password, to)",
                       k ? k : luaL_tolstring(L, -2, NULL));
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "mail.%s must be a string, not %s", k, luaL_typename(L, -1));
        char what[32];
        snprintf(what, sizeof what, "mail.%s", k);
        size_t len;
        const char *text = lua_tolstring(L, -1, &len);
        if (i == 2 && strlen(text) != len)     /* the password is not quoted, as cfg_string would */
            luaL_error(L, "mail.password holds a NUL byte; it must be text without one");
        char *v = strdup(i == 2 ? text : cfg_string(L, -1, what));
        if (!v)
            luaL_error(L, "out of memory");
        *dst[i] = v;
        lua_pop(L, 1);
    }
    char url[600];
    const struct http_opts *h = &o->http;
    if (h->mail_server && mail_url(h->mail_server, url, sizeof url) != 0)
        luaL_error(L, "mail.server '%s' is not HOST[:PORT], ssl://HOST:PORT or smtp://HOST[:PORT]", h->mail_server);
    if (h->mail_user && !mail_address_ok(h->mail_user, strlen(h->mail_user)))
        luaL_error(L, "mail.user '%s' is not the sender's address (name@domain)", h->mail_user);
    if (h->mail_to && mail_recipients(h->mail_to, NULL, NULL) < 0)
        luaL_error(L, "mail.to '%s' must be 1 to %d addresses (name@domain) separated by commas", h->mail_to,
                   MAIL_MAX_RCPT);
    if (h->mail_password && !h->mail_server)
        luaL_error(L, "mail.password is given without mail.server: the password goes to the config's server only");
}

/* memory_limit, step_limit, onexit_limit: the config key, its bounds, and where it goes. */
static const struct limit_def {
    const char *key, *opt, *allowed;
    double min, max;
    int whole;
} limit_defs[] = {
    {"memory_limit", "--memory-limit", "a whole number of MiB from 16 to 1048576", 16, 1048576, 1},
    {"step_limit", "--step-limit", "a number of seconds from 0.1 to 86400", 0.1, 86400, 0},
    {"onexit_limit", "--onexit-limit", "a number of seconds from 0.1 to 86400", 0.1, 86400, 0},
    {"log_max_size", "--log-max-size", "0 (never rotated) or a number of MiB from 0.01 to 1048576", 0.01, 1048576,
     0},
    {"log_keep", "--log-keep", "a whole number of rotated files from 1 to 100", 1, 100, 1},
};
#define NLIMITS (int)(sizeof limit_defs / sizeof limit_defs[0])

static void limit_set(struct options *o, int which, double v)
{
    if (which == 0)
        o->limits.memory_mb = (long)v;
    else if (which == 1)
        o->limits.step_s = v;
    else if (which == 2)
        o->limits.onexit_s = v;
    else if (which == 3)
        o->limits.log_max_mb = v;
    else
        o->limits.log_keep = (long)v;
}

static int limit_ok(int which, double v)
{
    const struct limit_def *d = &limit_defs[which];
    return ((v >= d->min && v <= d->max) || (which == 3 && v == 0)) && (!d->whole || v == floor(v));
}

/* A limit given on the command line: --memory-limit 64. */
static int limit_cli(struct options *o, int which, const char *v, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (!*v || *end || errno || !limit_ok(which, d)) {
        snprintf(err, errlen, "option %s: '%.80s' is not allowed (%s)", limit_defs[which].opt, v,
                 limit_defs[which].allowed);
        return -1;
    }
    limit_set(o, which, d);
    o->cli_limits |= 1 << which;
    return 0;
}

static int limit_index(const char *key)
{
    for (int i = 0; i < NLIMITS; i++)
        if (strcmp(key, limit_defs[i].key) == 0)
            return i;
    return -1;
}

/* The limit whose command-line option arg is (--memory-limit 64 or --memory-limit=64), or -1. */
static int limit_opt(const char *arg)
{
    for (int i = 0; i < NLIMITS; i++)
        if (cli_is_opt(arg, limit_defs[i].opt))
            return i;
    return -1;
}

/* __newindex of the config's environment: checks one assignment. (env, key, value) */
static int cfg_assign(lua_State *L)
{
    struct cfg_ctx *c = cfg_of(L);
    struct options *o = c->o;
    const char *key = lua_type(L, 2) == LUA_TSTRING ? cfg_string(L, 2, "a key") : "?";
    int t = lua_type(L, 3);
    if (strcmp(key, "id") == 0) {
        if (t == LUA_TNUMBER && lua_isinteger(L, 3) && lua_tointeger(L, 3) >= 0)
            lua_pushfstring(L, "%I", lua_tointeger(L, 3));
        else if (t == LUA_TSTRING)
            lua_pushvalue(L, 3);
        else
            return luaL_error(L, "key 'id' must be a string or a non-negative integer, not %s", luaL_typename(L, 3));
        size_t len;
        const char *id = lua_tolstring(L, -1, &len);
        char msg[OPT_ERRLEN], keep[ID_MAX + 1];
        memcpy(keep, o->id, sizeof keep);
        if (set_id(o, id, len, "", msg, sizeof msg) != 0)
            return luaL_error(L, "key 'id': %s", msg);
        if (c->cli_id || o->mode != MODE_ONE)
            memcpy(o->id, keep, sizeof keep);   /* --id wins; run and replay name their bots with SCRIPT@ID */
    } else if (strcmp(key, "data_dir") == 0 || strcmp(key, "channel") == 0) {
        if (t != LUA_TSTRING)
            return luaL_error(L, "key '%s' must be a string, not %s", key, luaL_typename(L, 3));
        const char *v = cfg_string(L, 3, lua_pushfstring(L, "key '%s'", key));
        if (key[0] == 'd' && !c->cli_data_dir)
            replace(&o->data_dir, v);
        if (key[0] == 'c' && !c->cli_channel)
            replace(&o->channel, v);
    } else if (strcmp(key, "fsync") == 0) {
        if (t != LUA_TBOOLEAN)
            return luaL_error(L, "key 'fsync' must be true or false, not %s", luaL_typename(L, 3));
        if (!c->cli_fsync)
            o->fsync = lua_toboolean(L, 3);
    } else if (strcmp(key, "shared_group") == 0) {
        if (t != LUA_TSTRING)
            return luaL_error(L, "key 'shared_group' must be a group name, not %s", luaL_typename(L, 3));
        const char *v = cfg_string(L, 3, "key 'shared_group'");
        if (!c->cli_group)
            replace(&o->group, v);
    } else if (strcmp(key, "market") == 0) {
        if (t != LUA_TSTRING)
            return luaL_error(L, "key 'market' must be a string, not %s", luaL_typename(L, 3));
        const char *v = cfg_string(L, 3, "key 'market'");
        if (!c->cli_market)
            replace(&o->market, v);
    } else if (strcmp(key, "exchange") == 0) {
        if (t != LUA_TTABLE)
            return luaL_error(L, "key 'exchange' must be a table, not %s", luaL_typename(L, 3));
        cfg_exchange(L, o, 3);
    } else if (strcmp(key, "exchanges") == 0) {
        if (lua_type(L, 3) != LUA_TTABLE)
            return luaL_error(L, "key 'exchanges' must be a table, not %s", luaL_typename(L, 3));
        cfg_exchanges(L, o, 3);
    } else if (strcmp(key, "bots") == 0) {
        if (t != LUA_TTABLE)
            return luaL_error(L, "key 'bots' must be a table, not %s", luaL_typename(L, 3));
        cfg_bots(L, o, 3);
    } else if (strcmp(key, "http") == 0) {
        if (t != LUA_TTABLE)
            return luaL_error(L, "key 'http' must be a table, not %s", luaL_typename(L, 3));
        cfg_http(L, o, 3);
    } else if (strcmp(key, "mail") == 0) {
        if (t != LUA_TTABLE)
            return luaL_error(L, "key 'mail' must be a table such as {server = \"smtps://smtp.example.com\", user = "
                              "\"bot@example.com\", password = \"...\", to = \"me@example.com\"}, not %s",
                              luaL_typename(L, 3));
        cfg_mail(L, o, 3);
    } else if (limit_index(key) >= 0) {
        int w = limit_index(key);
        if (t != LUA_TNUMBER || !limit_ok(w, lua_tonumber(L, 3)))
            return luaL_error(L, "key '%s' must be %s, not %s", key, limit_defs[w].allowed,
                              t == LUA_TNUMBER ? lua_pushfstring(L, "%s", lua_tostring(L, 3)) : luaL_typename(L, 3));
        if (!(o->cli_limits & (1 << w)))
            limit_set(o, w, lua_tonumber(L, 3));
    } else if (strcmp(key, "params") == 0) {
        if (t != LUA_TTABLE)
            return luaL_error(L, "key 'params' must be a table, not %s", luaL_typename(L, 3));
        cfg_param(L, o, c->ncli_params, 3);
    } else {
        return luaL_error(L, "unknown key '%s' (allowed: id, data_dir, channel, market, exchange, exchanges, bots, http, mail, params, memory_limit, step_limit, "
                          "onexit_limit, log_max_size, log_keep, fsync, shared_group)", key);
    }
    return 0;
}

static int cfg_run(lua_State *L)
{
    struct cfg_ctx *c = cfg_of(L);
    /* stack: chunk */
    lua_newtable(L);                    /* the environment: empty */
    lua_newtable(L);
    lua_pushcfunction(L, cfg_assign);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
    lua_setupvalue(L, 1, 1);            /* _ENV of the chunk */
    lua_sethook(L, cfg_hook, LUA_MASKCOUNT, 1000);
    c->budget = 10000;                  /* 10,000 x 1,000 instructions */
    lua_call(L, 0, 0);
    return 0;
}

static int load_config(struct options *o, const char *file, int explicit_, char *err, size_t errlen)
{
    struct stat st;
    if (stat(file, &st) != 0) {
        if (!explicit_)
            return 0;
        snprintf(err, errlen, "cannot read config %s: %s", file, strerror(errno));
        return -1;
    }
    char *text;
    size_t len;
    char msg[OPT_ERRLEN];
    if (fs_read_all(file, 1 << 20, &text, &len, msg, sizeof msg) != 0) {
        snprintf(err, errlen, "config: %s", msg);
        return -1;
    }
    struct cfg_ctx c = { .o = o, .file = file, .memcap = 16u << 20, .ncli_params = o->nparams,
                         .cli_id = o->id[0] != 0, .cli_data_dir = o->data_dir != NULL,
                         .cli_channel = o->channel != NULL, .cli_market = o->market != NULL,
                         .cli_fsync = o->fsync >= 0, .cli_group = o->group != NULL };
    lua_State *L = lua_newstate(cfg_alloc, &c);
    int rc = -1;
    if (!L) {
        snprintf(err, errlen, "out of memory");
        free(text);
        return -1;
    }
    char chunkname[300];
    snprintf(chunkname, sizeof chunkname, "@%s", file);
    /* Text only: a precompiled chunk could do anything the VM allows. */
    if (luaL_loadbufferx(L, text, len, chunkname, "t") == LUA_OK) {
        lua_pushcfunction(L, cfg_run);
        lua_insert(L, 1);
        rc = lua_pcall(L, 1, 0, 0) == LUA_OK ? 0 : -1;
    }
    if (rc != 0) {
        /* Most messages carry "file:line:" (Lua's own, and the checker's via luaL_error); those raised without a
         * position (out of memory, a binary chunk, C stack overflow) get the file name. */
        const char *m = lua_tostring(L, -1);
        if (!m)
            m = "error";
        size_t fl = strlen(file);
        if ((strncmp(m, file, fl) == 0 && m[fl] == ':') || strncmp(m, "...", 3) == 0)
            snprintf(err, errlen, "config %s", m);
        else
            snprintf(err, errlen, "config %s: %s", file, m);
    }
    lua_close(L);
    free(text);
    if (rc == 0 && venue_keys_in_config() && (st.st_mode & 077)) {
        snprintf(err, errlen, "config %s holds exchange keys but is readable by its group or others (mode %03o): "
                 "chmod 600 %s", file, (unsigned)(st.st_mode & 0777), file);
        rc = -1;
    }
    if (rc == 0)
        o->config = strdup(file);
    return rc;
}

/* ---- the command line ---- */

/* run/replay: SCRIPT[@ID] ...; without @ID the ID is the script's file name without .lua. */
static int parse_bots(struct options *o, int n, char **args, char *err, size_t errlen)
{
    if (!(o->bots = calloc((size_t)n, sizeof *o->bots))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int k = 0; k < n; k++) {
        struct bot_spec *b = &o->bots[k];
        const char *a = args[k], *at = strrchr(a, '@'), *slash = strrchr(a, '/');
        if (a[0] == '-') {
            snprintf(err, errlen, "option '%s' after the scripts: options go before them (see stratrun --help)", a);
            return -1;
        }
        o->nbots = k + 1;   /* from here on options_free frees this bot's script */
        if (at && (!slash || at > slash)) {
            char *script = strndup(a, (size_t)(at - a));
            b->script = script;
            if (!script || set_id(o, at + 1, strlen(at + 1), "", err, errlen) != 0)
                return -1;
        } else {
            const char *base = slash ? slash + 1 : a;
            size_t len = strlen(base);
            if (len > 4 && strcmp(base + len - 4, ".lua") == 0)
                len -= 4;
            b->script = strdup(a);
            if (!b->script || set_id(o, base, len, "the script name as ", err, errlen) != 0) {
                if (b->script)
                    snprintf(err + strlen(err), errlen - strlen(err), "; give one with %s@ID", a);
                return -1;
            }
        }
        memcpy(b->id, o->id, sizeof b->id);
        o->id[0] = '\0';
        for (int j = 0; j < k; j++)
            if (strcmp(o->bots[j].id, b->id) == 0) {
                snprintf(err, errlen, "two bots with ID '%s': give each its own with SCRIPT@ID", b->id);
                return -1;
            }
    }
    return 0;
}

/* The value of option name, which argv[*i] is (cli_is_opt), or NULL with err. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, char *err, size_t errlen)
{
    const char *v = NULL;
    if (!cli_opt(argc, argv, i, -1, name, &v) || !v)
        snprintf(err, errlen, "option %s needs a value (see stratrun --help)", name);
    return v;
}

/* stratrun cmd [--data-dir DIR] ID TEXT */
static int cmd_load(struct options *o, int argc, char **argv, char *err, size_t errlen)
{
    o->mode = MODE_CMD;
    int i = 2;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *v;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            o->help = 1;
            return 0;
        }
        if (!cli_is_opt(argv[i], "--data-dir")) {
            snprintf(err, errlen, "unknown option '%s' of stratrun cmd (it takes --data-dir DIR, then ID TEXT)",
                     argv[i]);
            return -1;
        }
        if (!(v = opt_value(argc, argv, &i, "--data-dir", err, errlen)))
            return -1;
        replace(&o->data_dir, v);
    }
    if (argc - i != 2) {
        snprintf(err, errlen, "stratrun cmd takes a bot ID and one TEXT (quote it), not %d arguments", argc - i);
        return -1;
    }
    o->cmd_text = argv[i + 1];
    return set_id(o, argv[i], strlen(argv[i]), "stratrun cmd: ", err, errlen);
}

void options_subcommand_first(int argc, char **argv)
{
    static const char *const subcommands[] = {"run", "replay", "cmd", "ps", "stop", "logs", "channel", "new", "serve",
                                               "data"};
    int sub = 1;
    while (sub < argc && (strcmp(argv[sub], "--data-dir") == 0 || strncmp(argv[sub], "--data-dir=", 11) == 0))
        sub += argv[sub][10] == '=' ? 1 : 2;
    if (sub <= 1 || sub >= argc)
        return;
    for (size_t k = 0; k < sizeof subcommands / sizeof subcommands[0]; k++)
        if (strcmp(argv[sub], subcommands[k]) == 0) {
            char *name = argv[sub];
            memmove(&argv[2], &argv[1], (size_t)(sub - 1) * sizeof *argv);
            argv[1] = name;
            return;
        }
}

const char *options_default_data_dir(char *buf, size_t size)
{
    const char *home = getenv("STRATRUN_HOME");
    if (home && *home)
        snprintf(buf, size, "%s", home);
    else
        snprintf(buf, size, "%s/.local/state/stratrun", (home = getenv("HOME")) && *home ? home : ".");
    return buf;
}

int options_load(struct options *o, int argc, char **argv, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->argc = argc;
    o->argv = argv;
    o->from_ms = o->to_ms = INT64_MIN;
    o->fsync = -1;
    o->limits = (struct limits){.memory_mb = 1024, .step_s = 10, .onexit_s = 300, .log_max_mb = 64, .log_keep = 5};
    const char *config = NULL;
    int i = 1;
    if (argc > 1 && strcmp(argv[1], "cmd") == 0)
        return cmd_load(o, argc, argv, err, errlen);
    if (argc > 1 && (strcmp(argv[1], "run") == 0 || strcmp(argv[1], "replay") == 0)) {
        o->mode = argv[1][1] == 'u' ? MODE_RUN : MODE_REPLAY;
        i = 2;
    }
    for (; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0')
            break;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            o->help = 1;
            return 0;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            o->version = 1;
            return 0;
        } else if (o->mode == MODE_REPLAY && (cli_is_opt(a, "--from") || cli_is_opt(a, "--to"))) {
            const char *name = cli_is_opt(a, "--from") ? "--from" : "--to";
            if (!(v = opt_value(argc, argv, &i, name, err, errlen)))
                return -1;
            int64_t *slot = name[2] == 'f' ? &o->from_ms : &o->to_ms;
            int r = time_parse(v, strlen(v), TIME_MS, slot);
            if (r == -1) {
                snprintf(err, errlen, "option %s: '%s' is neither ISO 8601 (2024-01-31T12:00:00Z) nor milliseconds",
                         name, v);
                return -1;
            }
            if (r != 0) {
                snprintf(err, errlen, "option %s: '%s' is out of range: the clock holds " TIME_RANGE
                         " (as ms: -9223372036854 to 9223372036854)", name, v);
                return -1;
            }
        } else if (o->mode == MODE_REPLAY && cli_is_opt(a, "--json")) {
            if (!(o->json_out = opt_value(argc, argv, &i, "--json", err, errlen)))
                return -1;
        } else if (o->mode == MODE_REPLAY && cli_is_opt(a, "--csv")) {
            if (!(o->csv_dir = opt_value(argc, argv, &i, "--csv", err, errlen)))
                return -1;
        } else if (o->mode == MODE_REPLAY && cli_is_opt(a, "--report")) {
            if (!(o->report = opt_value(argc, argv, &i, "--report", err, errlen)))
                return -1;
        } else if (o->mode == MODE_REPLAY && strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
        } else if (cli_is_opt(a, "--record")) {
            if (o->mode == MODE_REPLAY) {
                snprintf(err, errlen, "option --record is for live runs: a replay reads recorded candles "
                         "(--market csv:FILE)");
                return -1;
            }
            if (!(o->record = opt_value(argc, argv, &i, "--record", err, errlen)))
                return -1;
        } else if (strcmp(a, "--reset-account") == 0) {
            if (o->mode == MODE_REPLAY) {
                snprintf(err, errlen, "option --reset-account is for live runs: a replay always starts from the "
                         "config's account");
                return -1;
            }
            o->reset_account = 1;
        } else if (o->mode == MODE_ONE && cli_is_opt(a, "--id")) {
            if (!(v = opt_value(argc, argv, &i, "--id", err, errlen)) || set_id(o, v, strlen(v), "", err, errlen))
                return -1;
        } else if (cli_is_opt(a, "--config")) {
            if (!(config = opt_value(argc, argv, &i, "--config", err, errlen)))
                return -1;
        } else if (cli_is_opt(a, "--data-dir")) {
            if (!(v = opt_value(argc, argv, &i, "--data-dir", err, errlen)))
                return -1;
            if (!*v) {
                snprintf(err, errlen, "option --data-dir needs a folder, not an empty string");
                return -1;
            }
            replace(&o->data_dir, v);
        } else if (strcmp(a, "--no-fsync") == 0) {
            o->fsync = 0;
        } else if (cli_is_opt(a, "--group")) {
            if (!(v = opt_value(argc, argv, &i, "--group", err, errlen)))
                return -1;
            replace(&o->group, v);
        } else if (cli_is_opt(a, "--channel")) {
            if (!(v = opt_value(argc, argv, &i, "--channel", err, errlen)))
                return -1;
            replace(&o->channel, v);
            /* argv is what /proc/PID/cmdline and ps show, to other users too, and what a strategy could read */
            redact_in_place((char *)v);
        } else if (cli_is_opt(a, "--market")) {
            if (!(v = opt_value(argc, argv, &i, "--market", err, errlen)))
                return -1;
            replace(&o->market, v);
        } else if (limit_opt(a) >= 0) {
            int w = limit_opt(a);
            if (!(v = opt_value(argc, argv, &i, limit_defs[w].opt, err, errlen)) || limit_cli(o, w, v, err, errlen))
                return -1;
        } else if (strncmp(a, "-p", 2) == 0) {
            if (a[2])
                v = a + 2;
            else if (i + 1 < argc)
                v = argv[++i];
            else {
                snprintf(err, errlen, "option -p needs NAME=VALUE (see stratrun --help)");
                return -1;
            }
            if (parse_param(o, v, err, errlen))
                return -1;
        } else {
            snprintf(err, errlen, "unknown option '%s' (see stratrun --help)", a);
            return -1;
        }
    }
    if (i >= argc) {
        snprintf(err, errlen, "no strategy script given (usage: stratrun [options] SCRIPT.lua; see --help)");
        return -1;
    }
    if (o->mode == MODE_ONE) {
        o->script = argv[i];
        o->script_argv = argv + i;
        o->script_argc = argc - i;
        if (!(o->bots = calloc(1, sizeof *o->bots)))
            return -1;
        o->bots[0].script = argv[i];
        o->nbots = 1;
    } else if (parse_bots(o, argc - i, argv + i, err, errlen) != 0) {
        return -1;
    }

    /* The config is read after the command line, and never overrides what the command line set. */
    return load_config(o, config ? config : "stratrun.conf", config != NULL, err, errlen);
}

/* ---- identity ---- */

/* The ID kept in the ids file (text, len bytes; freed here). */
static int kept_id(struct options *o, char *text, size_t len, char *err, size_t errlen)
{
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
        len--;
    int rc = set_id(o, text, len, "kept ", err, errlen);
    free(text);
    return rc;
}

static int generated_id(struct options *o, char *err, size_t errlen)
{
    char real[PATH_MAX], path[PATH_MAX + 64], dir[PATH_MAX];
    if (!realpath(o->script, real)) {
        snprintf(err, errlen, "cannot read strategy %s: %s", o->script, strerror(errno));
        return -1;
    }
    snprintf(dir, sizeof dir, "%s/ids", o->data_dir);
    if (fs_safe_dir(dir, "ids folder", -1, err, errlen) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/%016llx", dir, (unsigned long long)fs_fnv1a(real, strlen(real)));
    char *kept;
    size_t len;
    char msg[OPT_ERRLEN];
    if (fs_read_all(path, 128, &kept, &len, msg, sizeof msg) == 0)
        return kept_id(o, kept, len, err, errlen);
    /* Six digits like the hosted platforms' live IDs, not yet used in this data dir. */
    for (int tries = 0; tries < 100; tries++) {
        unsigned int r;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            r = (unsigned int)getpid() * 2654435761u + (unsigned int)tries;
        char id[16], bot[PATH_MAX + 32];
        snprintf(id, sizeof id, "%u", 100000 + r % 900000);
        snprintf(bot, sizeof bot, "%s/bots/%s", o->data_dir, id);
        struct stat st;
        if (stat(bot, &st) == 0)
            continue;
        char line[32];
        int n = snprintf(line, sizeof line, "%s\n", id);
        /* Created whole or not at all, and never replaced: of several first starts at once, one writes the file
         * and the others read its ID. */
        if (fs_write_new(path, line, (size_t)n, err, errlen) != 0) {
            if (errno != EEXIST || fs_read_all(path, 128, &kept, &len, err, errlen) != 0)
                return -1;
            return kept_id(o, kept, len, err, errlen);
        }
        memcpy(o->id, id, strlen(id) + 1);
        fprintf(stderr, "stratrun: no --id given; %s runs as bot %s (kept in %s)\n", o->script, id, path);
        return 0;
    }
    snprintf(err, errlen, "could not generate a free bot ID in %s", o->data_dir);
    return -1;
}

void options_hide_secrets(void)
{
    /* Start-up, main thread: no other thread reads the environment. */
    static const char *const names[] = {"STRATRUN_REDIS_PASSWORD", "STRATRUN_MAIL_PASSWORD"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *pass = getenv(names[i]);
        if (pass) {
            memset(pass, 0, strlen(pass));
            unsetenv(names[i]);
        }
    }
}

int options_resolve(struct options *o, char *err, size_t errlen)
{
    /* The mail password from the environment, which options_hide_secrets then wipes (a strategy can read the
     * config file, not the environment the engine was started with). */
    /* Only for the modes that may send mail: a replay sends none, `stratrun cmd` runs no bot. */
    const char *mail_pass = getenv("STRATRUN_MAIL_PASSWORD");
    if (mail_pass && *mail_pass && o->mode != MODE_REPLAY && o->mode != MODE_CMD) {
        if (!o->http.mail_server || o->http.mail_password) {
            snprintf(err, errlen, "STRATRUN_MAIL_PASSWORD is set, but %s", o->http.mail_password ?
                     "the config's mail table has a password too: give it in one place" :
                     "the config's mail table names no server to send it to (mail.server)");
            return -1;
        }
        if (!(o->http.mail_password = strdup(mail_pass))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    if (!o->data_dir) {
        char buf[PATH_MAX];
        o->data_dir = strdup(options_default_data_dir(buf, sizeof buf));
    }
    if (!o->channel)
        o->channel = strdup("local");
    if (!o->market)
        o->market = strdup("sim:seed=42");
    if (!o->data_dir || !o->channel || !o->market) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (o->mode == MODE_CMD)    /* only the bot's folder is looked at, nothing is created */
        return 0;
    fs_set_fsync(o->fsync != 0);
    if (o->group) {
        struct group *g = getgrnam(o->group);
        if (!g) {
            snprintf(err, errlen, "unknown group '%.80s' (--group or shared_group needs a group of this host, as "
                     "listed by getent group)", o->group);
            return -1;
        }
        fs_set_shared_group((long)g->gr_gid);
    }
    if (fs_safe_dir(o->data_dir, "data dir", -1, err, errlen) != 0)
        return -1;
    if (o->mode == MODE_ONE) {
        if (!o->id[0] && generated_id(o, err, errlen) != 0)
            return -1;
        memcpy(o->bots[0].id, o->id, sizeof o->id);
    }
    for (int i = 0; i < o->nbots_cfg; i++) {    /* a bots entry for no bot would be ignored in silence */
        int found = 0;
        for (int k = 0; k < o->nbots && !found; k++)
            found = strcmp(o->bots[k].id, o->bots_cfg_ids[i]) == 0;
        if (!found) {
            snprintf(err, errlen, "config: bots.%s names no bot of this run (its bots: %s%s)", o->bots_cfg_ids[i],
                     o->bots[0].id, o->nbots > 1 ? ", ..." : "");
            return -1;
        }
    }
    return 0;
}

void options_free(struct options *o)
{
    for (size_t i = 0; i < o->nparams; i++) {
        free(o->params[i].name);
        free(o->params[i].s);
    }
    free(o->params);
    if (o->mode != MODE_ONE)
        for (int i = 0; i < o->nbots; i++)
            free((char *)o->bots[i].script);
    free(o->bots);
    o->bots = NULL;
    for (int i = 0; i < o->nbots_cfg; i++)
        free(o->bots_cfg_ids[i]);
    free(o->bots_cfg_ids);
    free(o->bots_cfg);
    o->bots_cfg_ids = NULL;
    o->bots_cfg = NULL;
    o->nbots_cfg = 0;
    o->nbots = 0;
    free(o->data_dir);
    free(o->channel);
    free(o->market);
    free(o->exchange);
    free(o->exchanges);
    free(o->http.mail_server);
    free(o->http.mail_user);
    free_secret(o->http.mail_password);
    free(o->http.mail_to);
    o->http.mail_server = o->http.mail_user = o->http.mail_password = o->http.mail_to = NULL;
    for (int i = 0; i < o->nmarkets; i++)
        free(o->markets[i]);
    free(o->markets);
    for (int i = 0; i < o->nmarkets; i++)
        free(o->markets_from[i]);
    free(o->markets_from);
    o->markets_from = NULL;
    o->markets = NULL;
    o->nmarkets = 0;
    o->exchanges = NULL;
    free(o->config);
    free(o->group);
    o->group = NULL;
    o->params = NULL;
    o->nparams = 0;
    o->data_dir = o->channel = o->market = o->exchange = o->config = NULL;
}

void options_push_params(const struct options *o, lua_State *L, const char *id)
{
    size_t idlen = strlen(id);
    /* Parameters for every bot first, then those for this bot only (ID.NAME), which win. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < o->nparams; i++) {
            const struct param *p = &o->params[i];
            const char *dot = strchr(p->name, '.');
            if (pass == 0 ? dot != NULL : !(dot && (size_t)(dot - p->name) == idlen && !memcmp(p->name, id, idlen)))
                continue;
            switch (p->type) {
            case PARAM_INT: lua_pushinteger(L, p->i); break;
            case PARAM_FLOAT: lua_pushnumber(L, p->d); break;
            case PARAM_BOOL: lua_pushboolean(L, p->b); break;
            case PARAM_STRING: lua_pushstring(L, p->s); break;
            }
            lua_setglobal(L, dot ? dot + 1 : p->name);
        }
}
