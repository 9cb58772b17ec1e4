/*
 * venue.c: a live exchange's venue (docs/live.md): its keys, its signed requests and its guards, in C, where the
 * strategy's Lua state cannot reach them. The registry's "stratrun.venue" is for stdlib/live.lua only.
 *
 * The config loader hands every exchange table with a `venue` to venue_config, which takes the venue's settings
 * and keys out of the table into a slot of this file (the table keeps `venue` and `venue_slot` only, so nothing of
 * them reaches the bot's state, its status or --json). A bot's exchange then names its slot; the functions below
 * sign with the slot's secret (HMAC-SHA256, libcrypto) and add its API key as a request header that only the HTTP
 * thread sees. The guards (order value, orders per minute, position) are checked here before an order is sent.
 * live.lua passes venue.order the account's holdings and a market sell's value, so the module is kept from the
 * strategy: it is in the registry ("stratrun.venue"), not require-able, and guard.c refuses debug's upvalue calls on
 * live.lua's functions.
 *
 * Requests run on the process's HTTP thread (http_call): the bot awaits, the other bots run on. Every answer's
 * X-MBX-USED-WEIGHT-1M is read; at BINANCE_WEIGHT_SLOW of the slot's weight_limit, or after a 429 or 418 (noted
 * for the whole process by http.c), requests fail here without being sent until the wait is over.
 *
 * Two more guards stop an order before it leaves: the kill switch (a file whose existence refuses every order; the
 * scheduler asks venue_kill_due between turns and stops the bots trading on it) and the venue's own order counts
 * (exchangeInfo's ORDERS limits, the counts read from every answer's X-MBX-ORDER-COUNT-* headers).
 */
#include "lua/api.h"
#include "lua/ctx.h"
#include "lua/http.h"
#include "lua/venue.h"
#include "core/clock.h"
#include "core/fetch.h"
#include "core/hex.h"
#include "core/lib_crypto.h"
#include "data/binance.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

#define VENUE_MAX 64
#define KEY_MAX 256
#define ORDER_RING 1000         /* orders per minute: at most this many are remembered */
#define ORDER_WINDOWS 4         /* the venue's ORDERS limits kept (Binance spot: 10 s and 1 day) */
#define KILL_PATH_MAX 1024
#define LISTEN_KEY_MAX 128       /* Binance's are 64 characters */

/* One of the venue's ORDERS limits (exchangeInfo's rateLimits): its count, read from every answer's
 * X-MBX-ORDER-COUNT-<name> and raised by each order sent, holds until the window ends. */
struct order_window {
    char name[16];              /* "10S", "1D": the header's suffix */
    int64_t len_ms;             /* windows start at multiples of it on the venue's clock (the day at 00:00 UTC) */
    long limit, count;
    int64_t end_ms;             /* the venue's clock: when the count's window ends */
};

/* A venue's kind: its name in the config, its default host and weight limit, the prefix of its REST paths (the
 * keys sign nothing else: no wallet /sapi/ call), and its clock's path. */
struct venue_kind {
    const char *name, *base_url, *prefix, *time_path;
    long weight_limit;
    int futures;                /* USDⓈ-M: amounts in contracts, positionSide / reduceOnly, POST leverage */
};

static const struct venue_kind KINDS[] = {
    {"binance", "https://api.binance.com", "/api/v3/", "/api/v3/time", 6000, 0},
    {"binance-futures", "https://fapi.binance.com", "/fapi/", "/fapi/v1/time", 2400, 1},
};
#define NKINDS (sizeof KINDS / sizeof KINDS[0])

struct venue {
    const struct venue_kind *k;
    char kind[24];              /* k->name */
    char base_url[256];
    char api_key[KEY_MAX], secret[KEY_MAX];     /* never leave this file */
    long recv_window, timeout_ms, weight_limit, max_orders_per_minute;
    double max_order_value, max_position;
    int dry_run, cancel_on_stop, keys_from_config;
    int stream;                 /* the user-data stream (venue_stream.c), on unless stream = false */
    char stream_url[384];       /* its WebSocket API endpoint; futures: the stream's base, /ws/<listen key> added */
    char listen_key[LISTEN_KEY_MAX];    /* futures: the latest listen key (bot's thread only); never leaves C */
    /* under mu */
    int64_t offset_ms;          /* the venue's clock less ours */
    int64_t sync_sent_ms;
    long used_weight;
    int64_t weight_wait_until_ms;
    int64_t orders[ORDER_RING]; /* the send times of the latest orders, a ring */
    int norders, next_order;
    struct order_window windows[ORDER_WINDOWS];
    int nwindows;
    char kill_switch[KILL_PATH_MAX];    /* "": none */
    int kill_on;                /* the file was there at the last look */
    int64_t kill_checked_ms;    /* CLOCK_MONOTONIC of that look */
};

static struct venue slots[VENUE_MAX];
static int nslots;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char env_key[KEY_MAX], env_secret[KEY_MAX];
static int env_read;

#define ENV_KEY "STRATRUN_BINANCE_API_KEY"
#define ENV_SECRET "STRATRUN_BINANCE_SECRET_KEY"

/* ---- the config (the config's own Lua state, in the config loader) ---- */

static const char *const LIVE_KEYS[] = {"base_url", "api_key", "secret_key", "recv_window", "timeout",
                                        "weight_limit", "max_order_value", "max_orders_per_minute",
                                        "max_position", "dry_run", "cancel_on_stop", "stream", "stream_url",
                                        "kill_switch", NULL};

static double opt_number(lua_State *L, int idx, const char *key, double dflt, double lo, double hi, const char *what)
{
    int t = lua_getfield(L, idx, key);
    double v = dflt;
    if (t != LUA_TNIL) {
        if (t != LUA_TNUMBER)
            luaL_error(L, "%s.%s must be a number, not %s", what, key, lua_typename(L, t));
        v = lua_tonumber(L, -1);
        if (!(v >= lo && v <= hi))
            luaL_error(L, "%s.%s must be from %f to %f, got %f", what, key, lo, hi, v);
    }
    lua_pop(L, 1);
    return v;
}

static int opt_bool(lua_State *L, int idx, const char *key, const char *what)
{
    int t = lua_getfield(L, idx, key), v = 0;
    if (t != LUA_TNIL && t != LUA_TBOOLEAN)
        luaL_error(L, "%s.%s must be true or false, not %s", what, key, lua_typename(L, t));
    v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* A key: printable ASCII without spaces (it goes into a header line), 1 to KEY_MAX - 1 bytes. Never shown. */
static int key_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return 0;
    return 1;
}

static void take_key(lua_State *L, int idx, const char *field, char *out, const char *env, const char *what,
                     int *from_config)
{
    int t = lua_getfield(L, idx, field);
    if (t == LUA_TSTRING) {
        if (!key_ok(lua_tostring(L, -1)))
            luaL_error(L, "%s.%s must be 1 to %d printable characters without spaces", what, field, KEY_MAX - 1);
        snprintf(out, KEY_MAX, "%s", lua_tostring(L, -1));
        *from_config = 1;
    } else if (t != LUA_TNIL) {
        luaL_error(L, "%s.%s must be a string, not %s", what, field, lua_typename(L, t));
    } else if (env[0]) {
        snprintf(out, KEY_MAX, "%s", env);
    } else {
        luaL_error(L, "%s: venue binance needs api_key and secret_key, in the config (a file only its owner may "
                   "read) or in the environment as " ENV_KEY " and " ENV_SECRET, what);
    }
    lua_pop(L, 1);
}

/* The keys in the environment, read once and removed from it, so no child process and no os.getenv sees them. */
static void read_env(void)
{
    if (env_read)
        return;
    env_read = 1;
    const char *k = getenv(ENV_KEY), *s = getenv(ENV_SECRET);
    if (k && key_ok(k))
        snprintf(env_key, sizeof env_key, "%s", k);
    if (s && key_ok(s))
        snprintf(env_secret, sizeof env_secret, "%s", s);
    unsetenv(ENV_KEY);
    unsetenv(ENV_SECRET);
}

/* stream and stream_url: the venue's user-data stream, by default Binance's for its REST host, the testnet's for the
 * testnet, and for any other base_url (the specs' fake venue) the same host and port: spot's WebSocket API at
 * /ws-api/v3, USDⓈ-M's stream base (its listen key's path, /ws/<key>, is added when it opens). */
static void stream_settings(lua_State *L, int idx, const char *what, struct venue *v)
{
    static const struct { const char *base_url, *stream_url; } known[] = {
        {"https://api.binance.com", "wss://ws-api.binance.com:443/ws-api/v3"},
        {"https://testnet.binance.vision", "wss://ws-api.testnet.binance.vision/ws-api/v3"},
        {"https://fapi.binance.com", "wss://fstream.binance.com"},
        {"https://testnet.binancefuture.com", "wss://fstream.binancefuture.com"},
    };
    int t = lua_getfield(L, idx, "stream");
    if (t != LUA_TNIL && t != LUA_TBOOLEAN)
        luaL_error(L, "%s.stream must be true or false, not %s", what, lua_typename(L, t));
    v->stream = t == LUA_TNIL || lua_toboolean(L, -1);
    lua_pop(L, 1);
    const char *example = v->k->futures ? "wss://fstream.binance.com" : "wss://ws-api.binance.com:443/ws-api/v3";
    t = lua_getfield(L, idx, "stream_url");
    if (t == LUA_TNIL) {
        const char *host = strstr(v->base_url, "://") + 3;
        snprintf(v->stream_url, sizeof v->stream_url, "%s://%s%s", v->base_url[4] == 's' ? "wss" : "ws", host,
                 v->k->futures ? "" : "/ws-api/v3");
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            if (strcmp(v->base_url, known[i].base_url) == 0)
                snprintf(v->stream_url, sizeof v->stream_url, "%s", known[i].stream_url);
    } else {
        const char *url = lua_tostring(L, -1);
        if (t != LUA_TSTRING)
            luaL_error(L, "%s.stream_url must be a string such as \"%s\"", what, example);
        if ((strncmp(url, "wss://", 6) != 0 && strncmp(url, "ws://", 5) != 0) ||
            strlen(url) + LISTEN_KEY_MAX + 4 >= sizeof v->stream_url || strpbrk(url, "?#| \r\n"))
            luaL_error(L, "%s.stream_url must be ws(s)://HOST[:PORT][/PATH] without a query or spaces, got '%s'",
                       what, url);
        snprintf(v->stream_url, sizeof v->stream_url, "%s", url);
        size_t n = strlen(v->stream_url);
        if (v->k->futures && n > 0 && v->stream_url[n - 1] == '/')
            v->stream_url[n - 1] = '\0';      /* the listen key's "/ws/<key>" follows */
    }
    lua_pop(L, 1);
}

/* kill_switch = "/ABSOLUTE/PATH": a file whose folder exists (the file itself is made by whoever pulls the switch). */
static void take_kill_switch(lua_State *L, int idx, struct venue *v, const char *what)
{
    int t = lua_getfield(L, idx, "kill_switch");
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    const char *path = t == LUA_TSTRING ? lua_tostring(L, -1) : "";
    if (t != LUA_TSTRING || path[0] != '/' || strlen(path) >= KILL_PATH_MAX || strpbrk(path, "\r\n") ||
        path[strlen(path) - 1] == '/')
        luaL_error(L, "%s.kill_switch must be an absolute path of a file, such as \"/run/stratrun/STOP\", got %s", what,
                   t == LUA_TSTRING ? path : luaL_typename(L, -1));
    char dir[KILL_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    struct stat st;
    if (stat(dir[0] ? dir : "/", &st) != 0 || !S_ISDIR(st.st_mode))
        luaL_error(L, "%s.kill_switch %s: its folder %s is not there: the switch could never be pulled", what, path,
                   dir);
    snprintf(v->kill_switch, sizeof v->kill_switch, "%s", path);
    lua_pop(L, 1);
}

int venue_config(lua_State *L, int idx, const char *what)
{
    idx = lua_absindex(L, idx);
    int t = lua_getfield(L, idx, "venue");
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        for (const char *const *k = LIVE_KEYS; *k; k++) {
            if (lua_getfield(L, idx, *k) != LUA_TNIL)
                luaL_error(L, "%s.%s belongs to a live exchange: set %s.venue = \"binance\" too", what, *k, what);
            lua_pop(L, 1);
        }
        return 0;
    }
    const struct venue_kind *kind = NULL;
    for (size_t i = 0; t == LUA_TSTRING && i < NKINDS; i++)
        if (strcmp(lua_tostring(L, -1), KINDS[i].name) == 0)
            kind = &KINDS[i];
    if (!kind)
        luaL_error(L, "%s.venue must be \"binance\" (Binance spot) or \"binance-futures\" (Binance USDⓈ-M "
                   "perpetuals), got %s", what, luaL_tolstring(L, -1, NULL));
    lua_pop(L, 1);
    if (nslots >= VENUE_MAX)
        luaL_error(L, "%s: at most %d live exchanges in a config", what, VENUE_MAX);
    struct venue *v = &slots[nslots];
    memset(v, 0, sizeof *v);
    v->k = kind;
    snprintf(v->kind, sizeof v->kind, "%s", kind->name);
    t = lua_getfield(L, idx, "base_url");
    const char *url = t == LUA_TNIL ? kind->base_url : lua_tostring(L, -1);
    if (t != LUA_TNIL && t != LUA_TSTRING)
        luaL_error(L, "%s.base_url must be a string such as \"https://testnet.binance.vision\"", what);
    size_t ul = strlen(url);
    if ((strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) || ul >= sizeof v->base_url ||
        strpbrk(url, "?# \r\n") || url[ul - 1] == '/')
        luaL_error(L, "%s.base_url must be http(s)://HOST[:PORT] without a path's slash, query or spaces, got '%s'",
                   what, url);
    snprintf(v->base_url, sizeof v->base_url, "%s", url);
    lua_pop(L, 1);
    read_env();
    take_key(L, idx, "api_key", v->api_key, env_key, what, &v->keys_from_config);
    take_key(L, idx, "secret_key", v->secret, env_secret, what, &v->keys_from_config);
    v->recv_window = (long)opt_number(L, idx, "recv_window", 5000, 1, 60000, what);
    v->timeout_ms = (long)opt_number(L, idx, "timeout", 10000, 100, 120000, what);
    v->weight_limit = (long)opt_number(L, idx, "weight_limit", (double)kind->weight_limit, 1, 1e9, what);
    v->max_order_value = opt_number(L, idx, "max_order_value", 0, 0, 1e15, what);
    v->max_orders_per_minute = (long)opt_number(L, idx, "max_orders_per_minute", 0, 0, ORDER_RING, what);
    v->max_position = opt_number(L, idx, "max_position", 0, 0, 1e15, what);
    v->dry_run = opt_bool(L, idx, "dry_run", what);
    v->cancel_on_stop = opt_bool(L, idx, "cancel_on_stop", what);
    stream_settings(L, idx, what, v);
    take_kill_switch(L, idx, v, what);
    for (const char *const *k = LIVE_KEYS; *k; k++) {
        lua_pushnil(L);
        lua_setfield(L, idx, *k);
    }
    lua_pushinteger(L, ++nslots);
    lua_setfield(L, idx, "venue_slot");
    return 0;
}

int venue_keys_in_config(void)
{
    int n = 0;
    for (int i = 0; i < nslots; i++)
        n += slots[i].keys_from_config;
    return n;
}

/* ---- the bot's side: the registry's "stratrun.venue", for stdlib/live.lua ---- */

/* Whether v's kill switch is pulled: anything at its path (a dangling link too), or a look that fails otherwise
 * than "not there" (the safe side). Looks now when fresh, else at most once a second. why gets prefix and
 * "kill_switch: PATH exists". */
static int kill_pulled(struct venue *v, int fresh, const char *prefix, char *why, size_t len)
{
    if (!v->kill_switch[0])
        return 0;
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&mu);
    int look = fresh || now - v->kill_checked_ms >= 1000, on = v->kill_on, err = 0;
    pthread_mutex_unlock(&mu);
    if (look) {
        struct stat st;
        int rc = lstat(v->kill_switch, &st);
        err = rc != 0 && errno != ENOENT && errno != ENOTDIR ? errno : 0;
        on = rc == 0 || err;
        pthread_mutex_lock(&mu);
        v->kill_on = on;
        v->kill_checked_ms = now;
        pthread_mutex_unlock(&mu);
    }
    if (on && err)
        snprintf(why, len, "%skill_switch: cannot tell whether %s exists (%s)", prefix, v->kill_switch,
                 strerror(err));
    else if (on)
        snprintf(why, len, "%skill_switch: %s exists", prefix, v->kill_switch);
    return on;
}

/* The bots using each slot (venue.attach), for venue_kill_due. Pointers are compared, never followed. */
static struct { const struct bot *b; int slot; } *users;
static int nusers;

int venue_kill_due(const struct bot *b, char *why, size_t len)
{
    for (int i = 0; i < nusers; i++)
        if (users[i].b == b && kill_pulled(&slots[users[i].slot], 0, "", why, len))
            return 1;
    return 0;
}

/* X-MBX-ORDER-COUNT-<name> of every answer: the account's count in each window (the venue's clock decides it). */
static void seen_order_counts(const struct fetch *f, struct venue *v)
{
    char header[64], value[32];
    pthread_mutex_lock(&mu);
    int64_t now = clock_wall_ms() + v->offset_ms;
    for (int i = 0; i < v->nwindows; i++) {
        struct order_window *w = &v->windows[i];
        snprintf(header, sizeof header, "X-MBX-ORDER-COUNT-%s", w->name);
        char *end;
        long n;
        if (fetch_header(f, header, value, sizeof value) != 0 || (n = strtol(value, &end, 10)) < 0 || *end)
            continue;
        w->count = n;
        w->end_ms = (now / w->len_ms + 1) * w->len_ms;
    }
    pthread_mutex_unlock(&mu);
}

/* Under mu: refuses (a line in why, 1) an order that would take a window's count over its limit; else counts the
 * order in every window (count is 1 when sending). */
static int order_windows_full(struct venue *v, int count, char *why, size_t len)
{
    int64_t now = clock_wall_ms() + v->offset_ms;
    for (int i = 0; i < v->nwindows; i++) {
        struct order_window *w = &v->windows[i];
        if (now >= w->end_ms) {
            w->count = 0;
            w->end_ms = (now / w->len_ms + 1) * w->len_ms;
        }
        if (w->count >= w->limit) {
            snprintf(why, len, "refused by the venue's order limit: %ld orders in its %s window, the limit is %ld; "
                     "%lld s left in the window", w->count, w->name, w->limit,
                     (long long)((w->end_ms - now + 999) / 1000));
            return 1;
        }
    }
    for (int i = 0; count && i < v->nwindows; i++)
        v->windows[i].count++;
    return 0;
}


static struct venue *check_slot(lua_State *L)
{
    lua_Integer i = luaL_checkinteger(L, 1);
    if (i < 1 || i > nslots)
        luaL_error(L, "venue: no live exchange %d in the config", (int)i);
    return &slots[i - 1];
}

/* venue.info(slot) -> {venue, base_url, dry_run, cancel_on_stop, recv_window, max_order_value, ...}: the settings
 * a strategy may see (no key). */
static int f_info(lua_State *L)
{
    struct venue *v = check_slot(L);
    const struct { const char *key; double x; } nums[] = {
        {"dry_run", v->dry_run}, {"cancel_on_stop", v->cancel_on_stop}, {"recv_window", (double)v->recv_window},
        {"max_order_value", v->max_order_value}, {"max_orders_per_minute", (double)v->max_orders_per_minute},
        {"max_position", v->max_position}};
    lua_createtable(L, 0, 8);
    lua_pushstring(L, v->kind);
    lua_setfield(L, -2, "venue");
    lua_pushstring(L, v->base_url);
    lua_setfield(L, -2, "base_url");
    lua_pushboolean(L, v->k->futures);
    lua_setfield(L, -2, "futures");
    lua_pushboolean(L, v->stream);
    lua_setfield(L, -2, "stream");
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if (i < 2)
            lua_pushboolean(L, nums[i].x != 0);
        else
            lua_pushnumber(L, nums[i].x);
        lua_setfield(L, -2, nums[i].key);
    }
    return 1;
}

/* Every answer: the weight the venue says is used this minute, and the pause it calls for; its order counts. */
static void seen_weight(const struct fetch *f, void *arg)
{
    struct venue *v = arg;
    seen_order_counts(f, v);
    long used = binance_used_weight(f);
    if (used < 0)
        return;
    int64_t wait = binance_weight_wait_ms(used, v->weight_limit);
    pthread_mutex_lock(&mu);
    v->used_weight = used;
    if (wait > 0)
        v->weight_wait_until_ms = clock_mono_ms() + wait;
    pthread_mutex_unlock(&mu);
}

/* GET /api/v3/time's answer: the offset of the venue's clock, taken at the middle of the round trip. */
static void seen_time(const struct fetch *f, void *arg)
{
    struct venue *v = arg;
    seen_weight(f, arg);
    const char *p = f->status == 200 && f->resp ? strstr(f->resp, "\"serverTime\"") : NULL;
    if (!p || !(p = strchr(p, ':')))
        return;
    long long server = strtoll(p + 1, NULL, 10);
    if (server <= 0)
        return;
    int64_t now = clock_wall_ms();
    pthread_mutex_lock(&mu);
    v->offset_ms = server - (v->sync_sent_ms + now) / 2;
    pthread_mutex_unlock(&mu);
}

/* nil, message, 0 pushed (3) while the slot waits out its used weight; else 0. */
static int weight_paused(lua_State *L, struct venue *v)
{
    pthread_mutex_lock(&mu);
    int64_t left = v->weight_wait_until_ms - clock_mono_ms();
    long used = v->used_weight;
    pthread_mutex_unlock(&mu);
    if (left <= 0)
        return 0;
    lua_pushnil(L);
    lua_pushfstring(L, "not sent: the venue's used weight %d is near its limit %d; %d s left in its minute",
                    (int)used, (int)v->weight_limit, (int)((left + 999) / 1000));
    lua_pushinteger(L, 0);
    return 3;
}


/* hexmac (2 * EVP_MAX_MD_SIZE + 1 bytes): the hex HMAC-SHA256 of text under the slot's secret. 0, or -1 and err. */
static int hmac_hex(const struct venue *v, const char *text, size_t tl, char *hexmac, char *err, size_t errlen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    if (lazylib_need(&lazy_crypto, "a live exchange's signing", err, errlen) != 0)
        return -1;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, v->secret, strlen(v->secret),
                   (const unsigned char *)text, tl, mac, sizeof mac, &maclen)) {
        snprintf(err, errlen, "venue: HMAC-SHA256 failed");
        return -1;
    }
    hex_encode(mac, maclen, hexmac);
    hexmac[2 * maclen] = '\0';
    explicit_bzero(mac, sizeof mac);
    return 0;
}

/* Sends METHOD base_url..path?query, signed when sign: timestamp (our clock plus the venue's offset), recvWindow and
 * the HMAC-SHA256 signature of the whole query are appended. stack: slot at 1; the results pushed by http_call. */
static int venue_send(lua_State *L, struct venue *v, const char *method, const char *path, const char *query, int sign,
                http_seen_fn seen)
{
    /* the HTTP thread's names */
    static const char *const who[] = {"binance GET", "binance POST", "binance DELETE", "binance PUT"};
    int w = strcmp(method, "POST") == 0 ? 1 : strcmp(method, "DELETE") == 0 ? 2 : strcmp(method, "PUT") == 0 ? 3 : 0;
    int n = weight_paused(L, v);
    if (n)
        return n;
    char tail[128] = "";
    if (sign) {
        pthread_mutex_lock(&mu);
        int64_t ts = clock_wall_ms() + v->offset_ms;
        pthread_mutex_unlock(&mu);
        snprintf(tail, sizeof tail, "%stimestamp=%lld&recvWindow=%ld", query[0] ? "&" : "", (long long)ts,
                 v->recv_window);
    }
    char hexmac[2 * EVP_MAX_MD_SIZE + 1] = "";
    lua_pushfstring(L, "%s%s", query, tail);                /* stack: ... query */
    if (sign) {
        size_t tl;
        const char *text = lua_tolstring(L, -1, &tl);
        char err[300];
        if (hmac_hex(v, text, tl, hexmac, err, sizeof err) != 0)
            return luaL_error(L, "%s", err);
    }
    lua_pushfstring(L, "%s%s%s%s%s%s", v->base_url, path, lua_rawlen(L, -1) ? "?" : "", lua_tostring(L, -1),
                    sign ? "&signature=" : "", hexmac);    /* stack: ... query url */
    char header[KEY_MAX + 32];
    snprintf(header, sizeof header, "X-MBX-APIKEY: %s", v->api_key);
    /* an order on a connection of its own: curl resends a request whose reused connection closed unanswered */
    struct http_call c = {who[w], lua_tostring(L, -1), w ? method : NULL, header, v->timeout_ms, w == 1, seen, v};
    if (seen == seen_time) {
        pthread_mutex_lock(&mu);
        v->sync_sent_ms = clock_wall_ms();
        pthread_mutex_unlock(&mu);
    }
    return http_call(L, &c);    /* it wipes header once copied: it may yield, and never come back here */
}

/* venue.request(slot, method, path, query, signed) -> {StatusCode, Header, Body} | nil, message [, status]
 * (http_call's results; the local weight pause: nil, message, 0) | false, line (a DELETE or POST with dry_run: not
 * sent). GET or DELETE, and on futures POST /fapi/v1/leverage (SetMarginLevel):
 * orders go through venue.order, which checks the guards. */
static int f_request(lua_State *L)
{
    struct venue *v = check_slot(L);
    const char *method = luaL_checkstring(L, 2), *path = luaL_checkstring(L, 3);
    const char *query = luaL_optstring(L, 4, "");
    int sign = lua_toboolean(L, 5);
    int leverage = v->k->futures && strcmp(method, "POST") == 0 && strcmp(path, "/fapi/v1/leverage") == 0;
    if (strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0 && !leverage)
        return luaL_error(L, "venue.request: method GET or DELETE, not %s (orders: venue.order)", method);
    /* the venue's own API's paths only: the keys sign nothing of the wallet's (/sapi/...) */
    /* the path in letters, digits and '/' only: no "..", no %2e, that curl or the venue would read as another */
    if (strncmp(path, v->k->prefix, strlen(v->k->prefix)) != 0 || strspn(path, "/0123456789abcdefghijklmnopqrstuvwxyz"
                                                                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(path) ||
        strpbrk(query, "# \r\n") || strstr(query, "signature="))
        return luaL_error(L, "venue.request: a path %s... of letters, digits and '/', and a query without spaces, "
                          "'#' or a signature", v->k->prefix);
    if (v->dry_run && method[0] != 'G') {     /* a cancel or a leverage change acts: dry_run only logs it */
        lua_pushboolean(L, 0);
        lua_pushfstring(L, "dry_run: not sent: %s %s %s", method, path, query);
        return 2;
    }
    lua_settop(L, 1);
    return venue_send(L, v, method, path, query, sign, seen_weight);
}

/* venue.sync(slot): GET /api/v3/time, whose answer sets the offset signed requests apply; its results as request's. */
static int f_sync(lua_State *L)
{
    struct venue *v = check_slot(L);
    lua_settop(L, 1);
    return venue_send(L, v, "GET", v->k->time_path, "", 0, seen_time);
}

/* venue.offset(slot) -> the venue's clock less ours, in ms, as last measured. */
static int f_offset(lua_State *L)
{
    struct venue *v = check_slot(L);
    pthread_mutex_lock(&mu);
    lua_pushinteger(L, v->offset_ms);
    pthread_mutex_unlock(&mu);
    return 1;
}

/* A guard's refusal: nil, message, 0 (not sent). */
/* venue.backoff(slot) -> ms the venue's host has asked for no requests (a 429 or 418, the process's table), 0 when
 * none. */
static int f_backoff(lua_State *L)
{
    struct venue *v = check_slot(L);
    char host[300];
    long status, wait_s;
    int64_t left = 0;
    char err[300];
    if (lazylib_need(&lazy_curl, "binance", err, sizeof err) != 0 ||     /* fetch_url_host's URL parser */
        fetch_url_host(v->base_url, host, sizeof host) != 0 || !fetch_backoff_left(host, &status, &wait_s, &left))
        left = 0;
    lua_pushinteger(L, left);
    return 1;
}

static int refuse_line(lua_State *L, const char *why)
{
    lua_pushnil(L);
    lua_pushstring(L, why);
    lua_pushinteger(L, 0);
    return 3;
}

static int refuse(lua_State *L, const char *fmt, double a, double b)
{
    char why[300];
    snprintf(why, sizeof why, fmt, a, b);
    return refuse_line(L, why);
}

/* A number as the venue takes it: plain decimal, no exponent, at most 12 decimals and 15 significant digits (a
 * double's: 45000.1 is not 45000.100000000002), no trailing zeros. */
static void decimal(double x, char *out, size_t len)
{
    int whole = fabs(x) >= 1 ? (int)floor(log10(fabs(x))) + 1 : 0;
    int places = whole >= 15 ? 0 : 15 - whole < 12 ? 15 - whole : 12;
    snprintf(out, len, "%.*f", places, x);
    char *dot = strchr(out, '.');
    if (dot) {
        char *e = out + strlen(out) - 1;
        while (e > dot && *e == '0')
            *e-- = '\0';
        if (e == dot)
            *e = '\0';
    }
}

/* venue.order(slot, symbol, side, type, price, amount, client_id, value, holdings) -> {StatusCode, Header, Body} |
 * nil, message (the request failed: it may have reached the venue) | nil, message, status (refused by a guard, 0, or
 * not sent or answered 429/418 as request's) | false, line (dry_run: not sent). side "BUY" or "SELL";
 * type "LIMIT" (price, amount in base) or "MARKET" (a BUY's amount is the quote to spend, quoteOrderQty; a SELL's
 * the base to sell). value is the order's value in quote (a market sell's at the caller's latest bid); holdings the
 * base the account holds now, free and locked (for max_position).
 * On futures (binance-futures) amounts are contracts on both sides, a market order's value is its amount at the
 * caller's latest price, and a table follows: {position_side = "LONG" | "SHORT" (hedge mode), reduce_only = true (a
 * close in one-way mode)}; holdings are then the contracts of the side the order would increase (its position and
 * the open orders adding to it), checked against max_position only for an order that increases it. */
static int f_order(lua_State *L)
{
    struct venue *v = check_slot(L);
    const char *symbol = luaL_checkstring(L, 2), *side = luaL_checkstring(L, 3), *type = luaL_checkstring(L, 4);
    double price = luaL_checknumber(L, 5), amount = luaL_checknumber(L, 6);
    const char *cid = luaL_checkstring(L, 7);
    double value = luaL_checknumber(L, 8), holdings = luaL_optnumber(L, 9, 0);
    int buy = strcmp(side, "BUY") == 0, market = strcmp(type, "MARKET") == 0;
    if ((!buy && strcmp(side, "SELL") != 0) || (!market && strcmp(type, "LIMIT") != 0))
        return luaL_error(L, "venue.order: side BUY or SELL and type LIMIT or MARKET");
    if (!(value >= 0 && isfinite(value) && holdings >= 0 && isfinite(holdings)))    /* NaN passes a > test */
        return luaL_error(L, "venue.order: value and holdings must be finite numbers of 0 or more");
    const char *pside = NULL;   /* futures: positionSide (hedge mode) */
    int reduce = 0, increases = buy;
    if (v->k->futures) {
        luaL_checktype(L, 10, LUA_TTABLE);
        lua_getfield(L, 10, "position_side");
        pside = lua_tostring(L, -1);        /* a literal below, or NULL: valid after the pop */
        if (pside && strcmp(pside, "LONG") == 0)
            pside = "LONG";
        else if (pside && strcmp(pside, "SHORT") == 0)
            pside = "SHORT";
        else if (pside)
            return luaL_error(L, "venue.order: position_side LONG or SHORT");
        lua_getfield(L, 10, "reduce_only");
        reduce = lua_toboolean(L, -1);
        lua_pop(L, 2);
        if (pside && reduce)
            return luaL_error(L, "venue.order: reduce_only is one-way mode's, position_side hedge mode's");
        increases = pside ? (buy == (strcmp(pside, "LONG") == 0)) : !reduce;
    }
    if (strspn(symbol, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != strlen(symbol) ||
        strspn(cid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.:/_-") != strlen(cid) ||
        strlen(cid) > 36 || !cid[0])
        return luaL_error(L, "venue.order: a symbol such as BTCUSDT and a client order id of 1 to 36 of [.A-Za-z0-9:/_-]");
    if (!(amount > 0) || !isfinite(amount) || (!market && !(price > 0 && isfinite(price))) || !(value >= 0))
        return luaL_error(L, "venue.order: price and amount must be finite numbers above 0");
    char why[KILL_PATH_MAX + 100];
    if (kill_pulled(v, 1, "refused by ", why, sizeof why))
        return refuse_line(L, why);
    if (!market)
        value = price * amount;
    else if (buy && !v->k->futures)
        value = amount;
    if (v->max_order_value > 0 && value > v->max_order_value)
        return refuse(L, "refused by max_order_value: the order's value %.8g is above %.8g", value,
                      v->max_order_value);
    if (v->max_position > 0 && increases) {
        double add = market && !v->k->futures ? (price > 0 ? amount / price : 0) : amount;
        if (holdings + add > v->max_position)
            return refuse(L, "refused by max_position: holdings would be %.8g, above %.8g", holdings + add,
                          v->max_position);
    }
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&mu);
    int recent = 0;
    for (int i = 0; i < v->norders; i++)
        recent += now - v->orders[i] < 60000;
    if (v->max_orders_per_minute > 0 && recent >= v->max_orders_per_minute) {
        pthread_mutex_unlock(&mu);
        return refuse(L, "refused by max_orders_per_minute: %.0f orders in the last minute, the limit is %.0f",
                      recent, (double)v->max_orders_per_minute);
    }
    if (order_windows_full(v, !v->dry_run, why, sizeof why)) {
        pthread_mutex_unlock(&mu);
        return refuse_line(L, why);
    }
    if (!v->dry_run) {
        v->orders[v->next_order] = now;
        v->next_order = (v->next_order + 1) % ORDER_RING;
        if (v->norders < ORDER_RING)
            v->norders++;
    }
    pthread_mutex_unlock(&mu);
    char p[64], a[64];
    decimal(price, p, sizeof p);
    decimal(amount, a, sizeof a);
    lua_settop(L, 1);
    if (v->k->futures)      /* amounts in contracts on both sides; the position's side or a close's reduceOnly */
        lua_pushfstring(L, "symbol=%s&side=%s%s%s&type=%s%s%s&quantity=%s%s&newClientOrderId=%s", symbol, side,
                        pside ? "&positionSide=" : "", pside ? pside : "", type,
                        market ? "" : "&timeInForce=GTC&price=", market ? "" : p, a,
                        reduce ? "&reduceOnly=true" : "", cid);
    else if (market)
        lua_pushfstring(L, "symbol=%s&side=%s&type=MARKET&%s=%s&newClientOrderId=%s", symbol, side,
                        buy ? "quoteOrderQty" : "quantity", a, cid);
    else
        lua_pushfstring(L, "symbol=%s&side=%s&type=LIMIT&timeInForce=GTC&price=%s&quantity=%s&newClientOrderId=%s",
                        symbol, side, p, a, cid);
    const char *path = v->k->futures ? "/fapi/v1/order" : "/api/v3/order";
    if (v->dry_run) {
        lua_pushboolean(L, 0);
        lua_pushfstring(L, "dry_run: not sent: POST %s %s", path, lua_tostring(L, -2));
        return 2;
    }
    return venue_send(L, v, "POST", path, lua_tostring(L, -1), 1, seen_weight);
}

/* venue.client_id() -> a new client order id: "sr", 16 hex digits drawn once per process (getrandom), "-", a
 * counter of the process. Unique across restarts and across bots or processes sharing one account, which the
 * time and a counter of each bot were not (two bots in the same millisecond; "sr" T "11" is "sr" T+1 "1"). */
static int f_client_id(lua_State *L)
{
    static char prefix[17];
    static unsigned long long count;
    pthread_mutex_lock(&mu);
    if (!prefix[0]) {
        unsigned char r[8];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
            /* no entropy source: the time in ns and the process id, still not another process's */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            unsigned long long x = (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
            x ^= (unsigned long long)getpid() << 40;
            for (int i = 0; i < 8; i++)
                r[i] = (unsigned char)(x >> (8 * i));
        }
        hex_encode(r, sizeof r, prefix);
        prefix[16] = '\0';
    }
    unsigned long long n = ++count;
    pthread_mutex_unlock(&mu);
    char id[40];
    snprintf(id, sizeof id, "sr%s-%llu", prefix, n);
    lua_pushstring(L, id);
    return 1;
}

/* ---- the user-data stream's side (venue_stream.c) ---- */

int venue_stream_url(int slot, char *url, size_t n)
{
    if (slot < 1 || slot > nslots || !slots[slot - 1].stream)
        return -1;
    const struct venue *v = &slots[slot - 1];
    if (v->k->futures && !v->listen_key[0])
        return -2;
    if (!v->k->futures) {
        snprintf(url, n, "%s", v->stream_url);
        return 0;
    }
    snprintf(url, n, "%s/ws/%s", v->stream_url, v->listen_key);
    return 1;
}

/* POST or PUT /fapi/v1/listenKey's answer: the key kept in the slot, and wiped from the body before Lua sees it
 * (the body keeps its shape, the key's characters become '*'). A key of other characters, or too long, is wiped and
 * not taken. */
static void seen_listen_key(const struct fetch *f, void *arg)
{
    struct venue *v = arg;
    seen_weight(f, arg);
    char *p = f->status == 200 && f->resp ? strstr(f->resp, "\"listenKey\"") : NULL, *end;
    if (!p || !(p = strchr(p + 11, '"')) || !(end = strchr(++p, '"')))
        return;
    size_t n = (size_t)(end - p);
    if (n > 0 && n < sizeof v->listen_key &&
        strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") == n) {
        memcpy(v->listen_key, p, n);
        v->listen_key[n] = '\0';
    }
    memset(p, '*', n);
}

/* venue.listen_key(slot, method) -> venue.request's results: POST /fapi/v1/listenKey (a listen key, new or the
 * account's active one, whose validity restarts at 60 minutes) or PUT (the same, kept alive), with the API key and
 * no signature. The key stays in C for venue_stream_url; the answer's body shows it as '*'s. Futures only. */
static int f_listen_key(lua_State *L)
{
    struct venue *v = check_slot(L);
    const char *method = luaL_checkstring(L, 2);
    if (!v->k->futures || (strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0))
        return luaL_error(L, "venue.listen_key: POST or PUT on a binance-futures exchange");
    lua_settop(L, 1);
    return venue_send(L, v, method, "/fapi/v1/listenKey", "", 0, seen_listen_key);
}

int venue_stream_subscription(int slot, char **out, size_t *len, char *err, size_t errlen)
{
    if (slot < 1 || slot > nslots) {
        snprintf(err, errlen, "venue: no live exchange %d in the config", slot);
        return -1;
    }
    struct venue *v = &slots[slot - 1];
    *out = NULL;
    *len = 0;
    if (v->k->futures)      /* the listen key in the address is the subscription */
        return 0;
    pthread_mutex_lock(&mu);
    long long ts = (long long)(clock_wall_ms() + v->offset_ms);
    pthread_mutex_unlock(&mu);
    /* the parameters but the signature, by name: apiKey, recvWindow, timestamp */
    char text[KEY_MAX + 96], hexmac[2 * EVP_MAX_MD_SIZE + 1];
    int tl = snprintf(text, sizeof text, "apiKey=%s&recvWindow=%ld&timestamp=%lld", v->api_key, v->recv_window, ts);
    if (hmac_hex(v, text, (size_t)tl, hexmac, err, errlen) != 0) {
        explicit_bzero(text, sizeof text);
        return -1;
    }
    explicit_bzero(text, sizeof text);
    size_t n = KEY_MAX + sizeof hexmac + 200;
    if (!(*out = malloc(n))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *len = (size_t)snprintf(*out, n, "{\"id\":\"subscribe\",\"method\":\"userDataStream.subscribe.signature\","
                            "\"params\":{\"apiKey\":\"%s\",\"recvWindow\":%ld,\"timestamp\":%lld,\"signature\":\"%s\"}}",
                            v->api_key, v->recv_window, ts, hexmac);
    return 0;
}

/* venue.order_limit(slot, interval, num, limit) -> true, or false for an interval it does not know: one of the
 * venue's ORDERS limits from exchangeInfo's rateLimits (interval "SECOND", "MINUTE", "HOUR" or "DAY"). */
static int f_order_limit(lua_State *L)
{
    struct venue *v = check_slot(L);
    static const struct { const char *name; char letter; int64_t ms; } units[] = {
        {"SECOND", 'S', 1000}, {"MINUTE", 'M', 60000}, {"HOUR", 'H', 3600000}, {"DAY", 'D', 86400000}};
    const char *interval = luaL_checkstring(L, 2);
    lua_Integer num = luaL_checkinteger(L, 3), limit = luaL_checkinteger(L, 4);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(interval, units[i].name) != 0 || num < 1 || num > 1000 || limit < 1)
            continue;
        pthread_mutex_lock(&mu);
        int k = 0;
        char name[16];
        snprintf(name, sizeof name, "%d%c", (int)num, units[i].letter);
        while (k < v->nwindows && strcmp(v->windows[k].name, name) != 0)
            k++;
        int ok = k < ORDER_WINDOWS;
        if (ok) {
            struct order_window *w = &v->windows[k];
            if (k == v->nwindows)
                *w = (struct order_window){.len_ms = num * units[i].ms};
            snprintf(w->name, sizeof w->name, "%s", name);
            w->limit = (long)limit;
            v->nwindows += k == v->nwindows;
        }
        pthread_mutex_unlock(&mu);
        lua_pushboolean(L, ok);
        return 1;
    }
    lua_pushboolean(L, 0);
    return 1;
}

/* venue.attach(slot): the calling bot trades on slot, so its kill switch stops the bot (venue_kill_due). */
static int f_attach(lua_State *L)
{
    struct venue *v = check_slot(L);
    const struct bot *b = bot_of(L);
    int slot = (int)(v - slots);
    for (int i = 0; i < nusers; i++)
        if (users[i].b == b && users[i].slot == slot)
            return 0;
    void *p = realloc(users, (size_t)(nusers + 1) * sizeof *users);
    if (!p)
        return luaL_error(L, "venue.attach: out of memory");
    users = p;
    users[nusers].b = b;
    users[nusers++].slot = slot;
    return 0;
}

/* venue.kill_switch(slot) -> the refusal line while the slot's kill switch is pulled (looked at now), else nil. */
static int f_kill_switch(lua_State *L)
{
    struct venue *v = check_slot(L);
    char why[KILL_PATH_MAX + 100];
    if (!kill_pulled(v, 1, "refused by ", why, sizeof why))
        return 0;
    lua_pushstring(L, why);
    return 1;
}

static const luaL_Reg funcs[] = {
    {"attach", f_attach},
    {"backoff", f_backoff},
    {"client_id", f_client_id},
    {"info", f_info},
    {"kill_switch", f_kill_switch},
    {"listen_key", f_listen_key},
    {"offset", f_offset},
    {"order", f_order},
    {"order_limit", f_order_limit},
    {"request", f_request},
    {"sync", f_sync},
    {NULL, NULL}
};

int luaopen_venue(lua_State *L)
{
    luaL_newlib(L, funcs);
    return 1;
}
