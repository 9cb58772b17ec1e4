/*
 * store.c: _G, the bot's persistent key-value store, in the hosted platforms' shape. _G stays Lua's global table;
 * a __call metamethod makes it callable:
 *   _G()          the bot's live ID          _G(k)      the stored value, or nil
 *   _G(k, v)      store v (any JSON value)    _G(k, nil) delete k          _G(nil)  delete everything
 * Keys are case-insensitive. The whole store is one JSON object in <bot dir>/store.json (at most STORE_LIMIT),
 * replaced atomically on every write, so a kill -9 at any moment leaves the old store or the new one, never a
 * half-written one. A store of up to 1 MiB is written before _G returns; a larger one by the bot's writer thread,
 * which writes the latest snapshot (docs/bots.md has the guarantee and the figures).
 */
#include "lua/api.h"
#include "lua/ctx.h"
#include "core/fsutil.h"
#include "data/json.h"
#include "lua/log.h"
#include "core/thread.h"

#include <ctype.h>
#include <stdio.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#define STORE_KEY "stratrun.store"      /* registry: lowercased key -> JSON text of the value */
/* A write that would make store.json larger than STORE_LIMIT is refused; a start reads up to STORE_FILE_MAX, so a
 * store stratrun wrote always loads (and one edited by hand may be somewhat larger). */
#define STORE_LIMIT (32u << 20)
#define STORE_FILE_MAX (64u << 20)
#define STORE_FAIL_KEY "stratrun.store_fail"  /* registry: errno of the failure last logged, while writes fail */
#define STORE_SYNC_MAX (1u << 20)   /* a store up to this size is written before _G returns; larger, by a thread */
#define WRITER_KEY "stratrun.store_writer"

static void store_path(const struct bot *b, char *buf, size_t size)
{
    snprintf(buf, size, "%s/store.json", b->dir);
}

struct key {
    const char *p;
    size_t n;
};

/* Byte order; keys may hold NUL bytes. */
static int cmp_key(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* A growable malloc'd buffer: the store's text, which may cross to the writer thread. */
struct text {
    char *p;
    size_t len, cap;
};

static int text_add(struct text *t, const char *s, size_t n)
{
    if (t->cap - t->len < n) {
        size_t cap = t->cap * 2 > t->len + n ? t->cap * 2 : t->len + n;
        char *np = realloc(t->p, cap);
        if (!np)
            return -1;
        t->p = np;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    return 0;
}

/* The registry table as store.json's text, keys sorted, into t (malloc'd; a buffer t already holds is reused).
 * Returns 0; 1 when the text would be longer than max (t->len is its length, nothing is built); or -1 (out of
 * memory; t is freed). */
static int serialize(lua_State *L, struct text *t, size_t max)
{
    lua_getfield(L, LUA_REGISTRYINDEX, STORE_KEY);
    int tab = lua_gettop(L);
    size_t n = 0, cap = 16, size = 1;   /* "{" */
    struct key *keys = malloc(cap * sizeof *keys);
    jbuf out;
    jbuf_init(&out);
    for (lua_pushnil(L); keys && lua_next(L, tab); lua_pop(L, 1)) {
        if (n == cap) {
            struct key *nk = realloc(keys, (cap *= 2) * sizeof *keys);
            if (!nk) {
                free(keys);
                keys = NULL;
                lua_pop(L, 1);
                break;
            }
            keys = nk;
        }
        char kerr[JSON_ERRLEN];
        out.len = 0;
        json_encode(L, -2, &out, kerr, sizeof kerr);   /* keys were checked as UTF-8 when stored */
        keys[n].p = lua_tolstring(L, -2, &keys[n].n);   /* anchored by the table */
        size += (n ? 2 : 1) + out.len + 1 + lua_rawlen(L, -1);     /* ",\n" key ":" value */
        n++;
    }
    size += n ? 3 : 2;  /* "\n}\n" */
    int rc = keys ? 0 : -1;
    if (rc == 0 && size > max) {
        t->len = size;
        rc = 1;
    } else if (rc == 0 && t->cap < size) {     /* a quarter more: a store that grows a little reuses its buffers */
        free(t->p);
        *t = (struct text){malloc(size + size / 4), 0, size + size / 4};
        rc = t->p ? 0 : -1;
    }
    if (rc == 0) {
        t->len = 0;
        qsort(keys, n, sizeof *keys, cmp_key);
        text_add(t, "{", 1);    /* the buffer holds size bytes: text_add cannot fail */
        for (size_t i = 0; i < n; i++) {
            char kerr[JSON_ERRLEN];
            out.len = 0;
            lua_pushlstring(L, keys[i].p, keys[i].n);
            json_encode(L, -1, &out, kerr, sizeof kerr);
            lua_rawget(L, tab);     /* stack: value */
            size_t vn;
            const char *v = lua_tolstring(L, -1, &vn);
            text_add(t, i ? ",\n" : "\n", i ? 2 : 1);
            text_add(t, out.p, out.len);
            text_add(t, ":", 1);
            text_add(t, v, vn);
            lua_pop(L, 1);
        }
        text_add(t, n ? "\n}\n" : "}\n", n ? 3 : 2);
    }
    jbuf_free(&out);
    free(keys);
    lua_pop(L, 1);
    if (rc < 0) {
        free(t->p);
        *t = (struct text){NULL, 0, 0};
    }
    return rc;
}

/* The bot's store writer, for stores over STORE_SYNC_MAX: a thread that writes the latest snapshot handed to it
 * (coalescing: a snapshot it has not taken yet is replaced by a newer one). Only plain bytes cross to it; its
 * result comes back under the mutex. At most four buffers of the store's size go round (being written, pending,
 * being filled, a spare): fresh memory for each snapshot would cost its page faults. The registry holds the writer
 * as a userdata whose __gc writes what is pending and joins the thread, so the state's close (any end of the bot)
 * leaves the latest store on disk. */
struct writer {
    pthread_mutex_t mu;
    pthread_cond_t wake, idle;
    pthread_t thread;
    int running;
    char path[4200];
    struct text pending;    /* the latest snapshot not taken yet (.p NULL when none) */
    struct text spare[2];   /* buffers written already, for the next snapshots: fresh memory costs page faults */
    int busy;               /* a snapshot is being written */
    int err;                /* errno of a write that failed and that _G has not reported yet, or 0 */
    char msg[300];          /* its message */
    int quit;
};

/* Keeps buffer t as a spare if there is room. Under w->mu. Returns the buffer to free (after unlocking). */
static char *keep_spare(struct writer *w, struct text t)
{
    for (int i = 0; i < 2; i++)
        if (!w->spare[i].p) {
            w->spare[i] = t;
            return NULL;
        }
    return t.p;
}

/* A spare buffer (.p NULL when there is none). Under w->mu. */
static struct text take_spare(struct writer *w)
{
    for (int i = 0; i < 2; i++)
        if (w->spare[i].p) {
            struct text t = w->spare[i];
            w->spare[i] = (struct text){NULL, 0, 0};
            return t;
        }
    return (struct text){NULL, 0, 0};
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->pending.p && !w->quit)
            pthread_cond_wait(&w->wake, &w->mu);
        if (!w->pending.p)
            break;
        struct text t = w->pending;
        char msg[sizeof w->msg];
        w->pending = (struct text){NULL, 0, 0};
        w->busy = 1;
        pthread_mutex_unlock(&w->mu);
        int rc = fs_write_atomic(w->path, t.p, t.len, msg, sizeof msg), e = errno;
        pthread_mutex_lock(&w->mu);
        char *unused = keep_spare(w, t);
        w->busy = 0;
        w->err = rc ? e : 0;
        if (rc)
            memcpy(w->msg, msg, sizeof msg);
        pthread_cond_broadcast(&w->idle);
        pthread_mutex_unlock(&w->mu);
        free(unused);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Waits until the writer has written everything handed to it. Returns the errno of a failure not reported yet (its
 * message in msg), or 0. Under nothing; the strategy's thread. */
static int writer_drain(struct writer *w, char *msg, size_t msglen)
{
    pthread_mutex_lock(&w->mu);
    while (w->pending.p || w->busy)
        pthread_cond_wait(&w->idle, &w->mu);
    int e = w->err;
    if (e)
        snprintf(msg, msglen, "%s", w->msg);
    w->err = 0;
    pthread_mutex_unlock(&w->mu);
    return e;
}

/* The writer's __gc: the pending snapshot is written, the thread joined; a failure of the last write is logged. */
static int writer_gc(lua_State *L)
{
    struct writer *w = lua_touserdata(L, 1);
    if (!w->running)
        return 0;
    char msg[sizeof w->msg];
    int e = writer_drain(w, msg, sizeof msg);
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->running = 0;
    if (e)
        log_printf(bot_of(L), LOG_ERROR, "_G: the last store was not written: %s", msg);
    free(w->spare[0].p);
    free(w->spare[1].p);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->idle);
    pthread_mutex_destroy(&w->mu);
    return 0;
}

/* The bot's writer, started on first use; NULL when it is not running (create 0, or it could not start). */
static struct writer *writer_of(lua_State *L, int create)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, WRITER_KEY) == LUA_TUSERDATA || !create) {
        struct writer *w = lua_touserdata(L, -1);
        lua_pop(L, 1);
        return w && w->running ? w : NULL;
    }
    lua_pop(L, 1);
    struct writer *w = lua_newuserdatauv(L, sizeof *w, 0);
    memset(w, 0, sizeof *w);
    store_path(bot_of(L), w->path, sizeof w->path);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->idle, NULL);
    lua_newtable(L);
    lua_pushcfunction(L, writer_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    w->running = thread_start(&w->thread, writer_main, w) == 0;
    lua_setfield(L, LUA_REGISTRYINDEX, WRITER_KEY);
    return w->running ? w : NULL;
}

/* Logs a write failure once per condition (errno): a full disk, a read-only one, the size limit. */
static void note_failure(lua_State *L, struct bot *b, int e, const char *err)
{
    lua_getfield(L, LUA_REGISTRYINDEX, STORE_FAIL_KEY);
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) != e) {
        log_printf(b, LOG_ERROR, "_G: not stored: %s (said once until a write succeeds)", err);
        lua_pushinteger(L, e);
        lua_setfield(L, LUA_REGISTRYINDEX, STORE_FAIL_KEY);
    }
    lua_pop(L, 1);
}

/* A write worked: a disk that failed writes works again, said once. */
static void note_success(lua_State *L, struct bot *b)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, STORE_FAIL_KEY) == LUA_TNUMBER && lua_tointeger(L, -1) != EFBIG)
        log_printf(b, LOG_INFO, "_G: the store is written again");
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, STORE_FAIL_KEY);
}

/* Writes the registry table to the store file. A store of at most STORE_SYNC_MAX bytes is written before this
 * returns; a larger one is handed to the writer thread, unless a write failed (the writer's last one, or the last
 * one here): then this one is written here, so that its result is this call's. Returns 0, or -1 with errno set and
 * err (EFBIG: over STORE_LIMIT, nothing written). *earlier is set to the errno of a failed write of the writer not
 * reported yet (its message in emsg), or 0. */
static int persist(lua_State *L, char *err, size_t errlen, int *earlier, char *emsg, size_t emsglen)
{
    struct text t = {NULL, 0, 0};
    *earlier = 0;
    struct writer *w = writer_of(L, 0);
    if (w) {
        pthread_mutex_lock(&w->mu);
        t = take_spare(w);
        pthread_mutex_unlock(&w->mu);
    }
    int rc = serialize(L, &t, STORE_LIMIT);
    if (rc != 0) {
        if (rc < 0) {
            snprintf(err, errlen, "out of memory");
            errno = ENOMEM;
        } else {
            snprintf(err, errlen, "the store would be %zu bytes, over its limit of %u bytes (%u MiB); the previous "
                     "store is kept", t.len, STORE_LIMIT, STORE_LIMIT >> 20);
            errno = EFBIG;
        }
        if (w) {    /* the buffer goes back */
            pthread_mutex_lock(&w->mu);
            char *unused = t.p ? keep_spare(w, t) : NULL;
            pthread_mutex_unlock(&w->mu);
            free(unused);
        }
        return -1;
    }
    if (!w && t.len > STORE_SYNC_MAX)
        w = writer_of(L, 1);
    /* While writes fail, each is written here, so that _G's answer is its own. */
    int failing = lua_getfield(L, LUA_REGISTRYINDEX, STORE_FAIL_KEY) == LUA_TNUMBER;
    lua_pop(L, 1);
    if (w) {
        pthread_mutex_lock(&w->mu);
        int failed = failing || w->err != 0;
        if (t.len > STORE_SYNC_MAX && !failed) {
            struct text old = w->pending;   /* never taken: this one is newer */
            w->pending = t;
            char *unused = old.p ? keep_spare(w, old) : NULL;
            pthread_cond_signal(&w->wake);
            pthread_mutex_unlock(&w->mu);
            free(unused);
            return 0;
        }
        pthread_mutex_unlock(&w->mu);
        *earlier = writer_drain(w, emsg, emsglen);
    }
    char path[4200];
    store_path(bot_of(L), path, sizeof path);
    rc = fs_write_atomic(path, t.p, t.len, err, errlen);
    int e = errno;
    free(t.p);
    errno = e;
    return rc;
}

/* Pushes k lowercased (ASCII letters only, as the platforms do). */
static void push_lower(lua_State *L, const char *k, size_t len)
{
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, len);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)tolower((unsigned char)k[i]);
    luaL_pushresultsize(&b, len);
}

/* Pushes the lowercased key at idx; raises on a key that cannot be stored. */
static void push_key(lua_State *L, int idx)
{
    int t = lua_type(L, idx);
    if (t != LUA_TSTRING && t != LUA_TNUMBER)
        luaL_error(L, "_G: a key must be a string or a number, not %s", luaL_typename(L, idx));
    size_t len;
    const char *k = lua_tolstring(L, idx, &len);
    if (len == 0 || len > 256)
        luaL_error(L, "_G: a key must be 1 to 256 bytes long (got %d)", (int)len);
    if (!json_utf8_valid(k, len)) {
        /* Show the key with its bytes outside printable ASCII as \xHH. */
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)k[i];
            if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
                luaL_addchar(&b, (char)c);
            } else {
                char hex[5];
                snprintf(hex, sizeof hex, "\\x%02X", c);
                luaL_addstring(&b, hex);
            }
        }
        luaL_pushresult(&b);
        luaL_error(L, "_G: a key must be valid UTF-8, got \"%s\"", lua_tostring(L, -1));
    }
    push_lower(L, k, len);
}

/* _G(...) through the global table's __call: (self, ...) */
static int f_G(lua_State *L)
{
    struct bot *b = bot_of(L);
    int nargs = lua_gettop(L) - 1;
    char err[JSON_ERRLEN + 300], emsg[300];
    int e, earlier;
    if (nargs == 0) {
        lua_pushstring(L, b->id);
        return 1;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, STORE_KEY);
    int t = lua_gettop(L);
    if (nargs == 1 && lua_isnil(L, 2)) {
        /* _G(nil): clear everything. */
        lua_newtable(L);
        lua_setfield(L, LUA_REGISTRYINDEX, STORE_KEY);
        if (persist(L, err, sizeof err, &earlier, emsg, sizeof emsg) != 0) {
            e = errno;
            lua_pushvalue(L, t);
            lua_setfield(L, LUA_REGISTRYINDEX, STORE_KEY);
            goto failed;
        }
        goto stored;
    }
    push_key(L, 2);
    int key = lua_gettop(L);
    if (nargs == 1) {
        lua_pushvalue(L, key);
        if (lua_rawget(L, t) != LUA_TSTRING)
            return 1;   /* nil */
        size_t len;
        const char *text = lua_tolstring(L, -1, &len);
        if (json_decode(L, text, len, err, sizeof err) != 0)
            return luaL_error(L, "_G: stored value of '%s' is not JSON: %s", lua_tostring(L, key), err);
        return 1;
    }
    lua_pushvalue(L, key);
    lua_rawget(L, t);   /* the old value, to put back if the write fails */
    int old = lua_gettop(L);
    lua_pushvalue(L, key);
    if (lua_isnil(L, 3)) {
        lua_pushnil(L);
    } else {
        jbuf jb;
        jbuf_init(&jb);
        if (json_encode(L, 3, &jb, err, sizeof err) != 0) {
            jbuf_free(&jb);
            return luaL_error(L, "_G: value for key '%s' is not JSON: %s", lua_tostring(L, key), err);
        }
        lua_pushlstring(L, jb.p, jb.len);
        jbuf_free(&jb);
    }
    lua_rawset(L, t);
    if (persist(L, err, sizeof err, &earlier, emsg, sizeof emsg) != 0) {
        e = errno;
        lua_pushvalue(L, key);
        lua_pushvalue(L, old);
        lua_rawset(L, t);
        goto failed;
    }
stored:
    if (earlier)
        note_failure(L, b, earlier, emsg);
    note_success(L, b);
    lua_pushboolean(L, 1);
    return 1;
failed:
    if (earlier)
        note_failure(L, b, earlier, emsg);
    note_failure(L, b, e, err);
    luaL_pushfail(L);
    lua_pushfstring(L, "_G: not stored: %s", err);
    return 2;
}

/* Pushes key k as a message shows it: a JSON string, whole up to 256 bytes; a longer one cut after 40 bytes (at a
 * character's start), followed by "... (N bytes)". */
static void push_shown(lua_State *L, const char *k, size_t n)
{
    size_t cut = n;
    if (cut > 256) {
        cut = 40;
        while (cut > 0 && ((unsigned char)k[cut] & 0xC0) == 0x80)
            cut--;
    }
    jbuf jb;
    jbuf_init(&jb);
    lua_pushlstring(L, k, cut);
    json_encode(L, -1, &jb, NULL, 0);   /* valid UTF-8: it came from the decoder, cut at a character's start */
    lua_pop(L, 1);
    if (cut < n)
        lua_pushfstring(L, "%s... (%d bytes)", jb.p, (int)n);
    else
        lua_pushstring(L, jb.p);
    jbuf_free(&jb);
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Logs the strings of the array at idx as warnings, in byte order (lua_next's order differs between runs, and a
 * replay's log must not). */
static void warn_sorted(lua_State *L, struct bot *b, int idx)
{
    size_t n = lua_rawlen(L, idx);
    const char **w = n ? malloc(n * sizeof *w) : NULL;
    if (!w)
        return;
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        w[i] = lua_tostring(L, -1);   /* anchored by the array */
        lua_pop(L, 1);
    }
    qsort(w, n, sizeof *w, cmp_cstr);
    for (size_t i = 0; i < n; i++)
        log_printf(b, LOG_WARN, "%s", w[i]);
    free(w);
}

/* Loads store.json into the registry. A store that cannot be read is an open error: the bot does not start, and
 * the file is left as it is for its owner to look at. */
static void load(lua_State *L, struct bot *b)
{
    char path[4200], err[JSON_ERRLEN + 300];
    store_path(b, path, sizeof path);
    lua_newtable(L);
    int t = lua_gettop(L);
    char *text;
    size_t len;
    if (fs_read_all(path, STORE_FILE_MAX, &text, &len, err, sizeof err) != 0) {
        if (errno != ENOENT) {
            lua_pushfstring(L, "cannot read the _G store: %s", err);
            lua_setfield(L, LUA_REGISTRYINDEX, "stratrun.openerror");
        }
        lua_setfield(L, LUA_REGISTRYINDEX, STORE_KEY);
        return;
    }
    /* Every value may nest JSON_MAX_DEPTH deep inside the store's own object. */
    int rc = json_decode_depth(L, text, len, JSON_MAX_DEPTH + 1, err, sizeof err);
    free(text);
    /* An object, not an array: a decoded array is a sequence, or has the json.array metatable when empty. */
    if (rc == 0 && lua_istable(L, -1)) {
        int array = lua_rawlen(L, -1) > 0 || lua_getmetatable(L, -1);
        if (lua_rawlen(L, -1) == 0 && array)
            lua_pop(L, 1);  /* the metatable */
        if (array) {
            lua_pop(L, 1);
            rc = 1;
        }
    }
    if (rc != 0 || !lua_istable(L, -1)) {
        if (rc == 0)
            lua_pop(L, 1);
        lua_pushfstring(L, "the _G store %s is damaged (%s); move it away to start with an empty store", path,
                        rc < 0 ? err : "not a JSON object");
        lua_setfield(L, LUA_REGISTRYINDEX, "stratrun.openerror");
        lua_setfield(L, LUA_REGISTRYINDEX, STORE_KEY);
        return;
    }
    /* Keys are lowercased: one written by hand with capitals is reachable. Of keys that differ only in case, the
     * one greatest in byte order wins, which is the all-lowercase one when it is there; the others are warned
     * about, as are keys _G can never read (empty, or longer than 256 bytes), which are kept. */
    int v = lua_gettop(L);
    lua_newtable(L);    /* lowercased key -> the key as written, for those collisions */
    int orig = lua_gettop(L);
    lua_newtable(L);    /* the keys that lost a collision, as written */
    int lost = lua_gettop(L);
    lua_Integer nlost = 0;
    lua_newtable(L);    /* the warnings */
    int warns = lua_gettop(L);
    jbuf jb;
    jbuf_init(&jb);
    for (lua_pushnil(L); lua_next(L, v); lua_pop(L, 1)) {
        jb.len = 0;
        if (lua_type(L, -2) != LUA_TSTRING || json_encode(L, -1, &jb, err, sizeof err) != 0)
            continue;
        size_t kn;
        const char *k = lua_tolstring(L, -2, &kn);
        push_lower(L, k, kn);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, orig) == LUA_TSTRING) {
            size_t on;
            const char *o = lua_tolstring(L, -1, &on);
            struct key a = {k, kn}, b2 = {o, on};
            int loses = cmp_key(&a, &b2) < 0;
            lua_pushvalue(L, loses ? -4 : -1);    /* the key as written that loses */
            lua_rawseti(L, lost, ++nlost);
            if (loses) {
                lua_pop(L, 2);
                continue;
            }
        }
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushvalue(L, -4);   /* the key as written */
        lua_rawset(L, orig);
        lua_pushlstring(L, jb.p, jb.len);
        lua_rawset(L, t);
    }
    jbuf_free(&jb);
    for (lua_Integer i = 1; i <= nlost; i++) {
        size_t kn;
        const char *k = (lua_rawgeti(L, lost, i), lua_tolstring(L, -1, &kn));
        push_shown(L, k, kn);
        push_lower(L, k, kn);
        lua_rawget(L, orig);
        k = lua_tolstring(L, -1, &kn);
        push_shown(L, k, kn);
        lua_pushfstring(L, "_G store %s: key %s is left out: the same key in another case, %s, wins; the next write "
                        "of the store drops it", path, lua_tostring(L, -3), lua_tostring(L, -1));
        lua_rawseti(L, warns, (lua_Integer)lua_rawlen(L, warns) + 1);
        lua_pop(L, 4);
    }
    for (lua_pushnil(L); lua_next(L, orig); lua_pop(L, 1)) {    /* the keys kept, as written */
        size_t kn;
        const char *k = lua_tolstring(L, -1, &kn);
        if (kn > 0 && kn <= 256)
            continue;
        push_shown(L, k, kn);
        lua_pushfstring(L, "_G store %s: key %s can never be read: keys are 1 to 256 bytes long; it is kept", path,
                        lua_tostring(L, -1));
        lua_rawseti(L, warns, (lua_Integer)lua_rawlen(L, warns) + 1);
        lua_pop(L, 1);
    }
    warn_sorted(L, b, warns);
    lua_pop(L, 4);
    lua_setfield(L, LUA_REGISTRYINDEX, STORE_KEY);
}

int luaopen_store(lua_State *L)
{
    load(L, bot_of(L));
    lua_pushglobaltable(L);
    lua_newtable(L);
    lua_pushcfunction(L, f_G);
    lua_setfield(L, -2, "__call");
    lua_setmetatable(L, -2);
    return 1;
}
