/*
 * backend_redis.c: channels through Redis, for bots on several servers.
 *
 * The latest state of channel ID lives in the stream stratrun:ch:ID, one entry whose field "frame" holds a frame
 * (chanframe.h), written by XADD ... MAXLEN 1 with a TTL (PEXPIRE, pipelined: one round trip) that the publisher
 * refreshes while it runs, so a dead publisher's channel disappears instead of looking fresh. Followers wait on one
 * connection in XREAD BLOCK over every followed key, from the ID of the last entry each has seen, so the state
 * itself arrives in the notification: one hop. Only the key's owner may write it (the ACL grants %R~ to followers,
 * docs/redis.md), so no follower can forge a state. The seq floor of each published channel lives in
 * stratrun:seq:ID without TTL (redis_save_seq), so seq grows across restarts. After any reconnect, and for each new
 * follow, the latest entry of each followed key is read on the command connection (XREVRANGE ... COUNT 1), the
 * own states are written again, and the XREAD is sent again from the IDs read; the engine drops whatever is not
 * newer than what it holds. A new follow reopens the XREAD connection (a blocked XREAD cannot be changed, and
 * CLIENT UNBLOCK cannot be granted for one's own clients only), so an idle follower never wakes up.
 *
 * hiredis is used synchronously, only on the engine's thread, with a 1 s timeout on every command: a stuck server
 * delays the engine thread, never a strategy.
 */
#include "core/backend.h"
#include "core/chanframe.h"
#include "core/chanid.h"
#include "core/clock.h"
#include "core/lib_hiredis.h"
#include "core/logsink.h"
#include "core/redact.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>


#define KEY_PREFIX "stratrun:ch:"
#define KEY_MAX (sizeof KEY_PREFIX + ID_MAX)
#define SEQ_KEY_PREFIX "stratrun:seq:"
#define SEQ_KEY_MAX (sizeof SEQ_KEY_PREFIX + ID_MAX)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define TIMEOUT_MS 1000
/* The XREAD's BLOCK while a followed key holds something other than a stream (it is left out of the XREAD, which
 * the wrong type would fail as a whole, and looked at again this often); otherwise it blocks for ever. */
#define RECHECK_MS 1000
#define FIELD "frame"       /* the entry's field that holds the frame */
#define ENTRY_ID_MAX 48     /* "<ms>-<seq>": two 64-bit numbers */

struct sub {
    char id[ID_MAX + 1];
    char last[ENTRY_ID_MAX];    /* the ID of the last entry seen: the XREAD continues after it */
    int warned;             /* a warning was given for its value; reset by the next valid state */
    int refused;            /* the server refused reading it: left out of the XREAD until the next connect */
    int wrongtype;          /* its key is not a stream: left out of the XREAD, looked at again every RECHECK_MS */
    int in_xread;           /* in the last XREAD sent */
};

struct own {
    char id[ID_MAX + 1];
    char frame[CHANFRAME_MAX];
    size_t len;
    int refused;            /* the server refused writing it */
    int refused_perm;       /* ... for want of a permission: no use retrying before the next state */
};

struct redis {
    char where[300];        /* host:port, for messages */
    char host[256], user[128], pass[256];
    int port, db;
    int64_t ttl_ms;
    const struct backend_host *h;
    redisContext *cmd, *push;   /* push: the XREAD connection */
    int reading;            /* an XREAD is waiting for its reply on push */
    int rearm;              /* the followed set grew: push is opened again with the new XREAD */
    size_t nwrong;          /* followed keys that hold something other than a stream */
    int64_t next_try, next_refresh, next_recheck;
    int backoff, down_said, ever_up;
    int seq_said;           /* a seq floor could not be kept (said once, until one is kept again) */
    struct sub *subs;
    size_t nsubs, subcap;
    struct own *owns;
    size_t nowns, owncap;
};

static void key_of(char *buf, const char *id)
{
    snprintf(buf, KEY_MAX, KEY_PREFIX "%s", id);
}

/* ---- the URL: redis://[user[:password]@]host:port[/db][?ttl=MS] ---- */

static int parse_url(struct redis *r, const char *arg, char *err, size_t errlen)
{
    const char *p = arg;
    if (strncmp(p, "//", 2) != 0)
        goto bad;
    p += 2;
    const char *at = strchr(p, '@'), *hostp = p;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ul = colon ? (size_t)(colon - p) : (size_t)(at - p);
        if (ul >= sizeof r->user || (colon && (size_t)(at - colon - 1) >= sizeof r->pass))
            goto bad;
        memcpy(r->user, p, ul);
        r->user[ul] = '\0';
        if (colon) {
            memcpy(r->pass, colon + 1, (size_t)(at - colon - 1));
            r->pass[at - colon - 1] = '\0';
        }
        hostp = at + 1;
    }
    const char *colon = strchr(hostp, ':');
    if (!colon || colon == hostp || (size_t)(colon - hostp) >= sizeof r->host)
        goto bad;
    memcpy(r->host, hostp, (size_t)(colon - hostp));
    r->host[colon - hostp] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || port < 1 || port > 65535)
        goto bad;
    r->port = (int)port;
    if (*end == '/') {
        const char *d = end + 1;
        long db = strtol(d, &end, 10);
        if (end == d || db < 0 || db > 10000)
            goto bad;
        r->db = (int)db;
    }
    if (strncmp(end, "?ttl=", 5) == 0) {
        long long ttl = strtoll(end + 5, &end, 10);
        if (ttl < 1000 || ttl > 86400000)
            goto bad;
        r->ttl_ms = ttl;
    }
    if (*end)
        goto bad;
    /* The password may stay out of the config file. */
    char *envpass = getenv("STRATRUN_REDIS_PASSWORD");
    if (!r->pass[0] && envpass && strlen(envpass) < sizeof r->pass)
        strcpy(r->pass, envpass);
    /* The host wipes it from the environment once the engine is open (options_hide_secrets). */
    if (r->user[0] && !r->pass[0]) {
        snprintf(err, errlen, "channel URL names Redis user '%s' but no password: put it in the URL or in "
                 "STRATRUN_REDIS_PASSWORD", r->user);
        return -1;
    }
    snprintf(r->where, sizeof r->where, "%s:%d", r->host, r->port);
    return 0;
bad:
    /* Named without its password: error lines end up in logs. */
    {
        char url[300], shown[300];
        snprintf(url, sizeof url, "redis:%s", arg);
        snprintf(err, errlen, "invalid channel URL '%s' (expected redis://[user:password@]host:port"
                 "[/db][?ttl=MS], ttl from 1000 to 86400000)", redact_url(url, shown, sizeof shown));
    }
    return -1;
}

/* ---- connections ---- */

static void lost(struct redis *r, const char *reason)
{
    char why[300];
    snprintf(why, sizeof why, "%s", reason);   /* reason may live in a context freed below */
    if (r->cmd)
        redisFree(r->cmd);
    if (r->push)
        redisFree(r->push);
    r->cmd = r->push = NULL;
    r->reading = r->rearm = 0;
    if (!r->down_said)
        log_thread_warning("channel backend redis %s: %s; reconnecting in the background", r->where, why);
    r->down_said = 1;
    /* Jitter: bots that lost the server together do not all come back in the same millisecond. */
    r->next_try = clock_mono_ms() + r->backoff + (int64_t)(rand() % (r->backoff / 2 + 1));
    r->backoff = r->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff * 2;
}

/* A reply that is an error, or a connection that failed: says why in buf and returns 1. */
static int failed(redisContext *c, redisReply *reply, char *buf, size_t size)
{
    if (!reply) {
        snprintf(buf, size, "%s", c->errstr[0] ? c->errstr : "connection lost");
        return 1;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(buf, size, "%s", reply->str);
        return 1;
    }
    return 0;
}

static int is_noperm(const char *why)
{
    return strncmp(why, "NOPERM", 6) == 0 || strncmp(why, "NOAUTH", 6) == 0;
}

static redisContext *open_one(struct redis *r, char *why, size_t size)
{
    struct timeval tv = {TIMEOUT_MS / 1000, (TIMEOUT_MS % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(r->host, r->port, tv);
    if (!c || c->err) {
        snprintf(why, size, "cannot connect: %s", c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    /* hiredis has no SOCK_CLOEXEC: set it now, before the first command (a strategy's io.popen child must not
     * inherit the connection). */
    fcntl(c->fd, F_SETFD, FD_CLOEXEC);
    redisReply *reply = NULL;
    if (r->pass[0])
        reply = r->user[0] ? redisCommand(c, "AUTH %s %s", r->user, r->pass) : redisCommand(c, "AUTH %s", r->pass);
    if (r->pass[0] && failed(c, reply, why, size))
        goto fail;
    freeReplyObject(reply);
    reply = NULL;
    if (r->db) {
        reply = redisCommand(c, "SELECT %d", r->db);
        if (failed(c, reply, why, size))
            goto fail;
        freeReplyObject(reply);
    }
    /* A round trip: the kernel accepts connections for a frozen server, which only a reply tells apart. */
    reply = redisCommand(c, "PING");
    if (failed(c, reply, why, size))
        goto fail;
    freeReplyObject(reply);
    return c;
fail:
    freeReplyObject(reply);
    redisFree(c);
    return NULL;
}

static void deliver_value(struct redis *r, struct sub *s, const char *v, size_t n)
{
    struct chanframe f;
    const char *why = chanframe_parse(v, n, &f);
    if (why) {
        if (!s->warned)
            log_thread_warning("channel %s: skipped the value of key " KEY_PREFIX "%s in Redis: %s", s->id, s->id,
                               why);
        s->warned = 1;
        return;
    }
    s->warned = 0;
    r->h->deliver(r->h->ctx, s->id, f.json, f.len, f.seq, f.published, clock_wall_us());
}

static void set_refused(struct redis *r, const char *id, int *flag, const char *what, const char *why)
{
    /* why is the server's reply, of any length, after a host name of up to 255 bytes: the line is allocated to
     * its size so that none of it is cut. Out of memory, the reply alone still says why. */
    char *msg;
    if (asprintf(&msg, "Redis at %s refused %s channel %s: %s", r->where, what, id, why) < 0)
        msg = NULL;
    if (!*flag)
        log_thread_warning("%s", msg ? msg : why);
    *flag = 1;
    r->h->refused(r->h->ctx, id, msg ? msg : why);
    free(msg);
}

static void clear_refused(struct redis *r, const char *id, int *flag)
{
    if (*flag)
        r->h->refused(r->h->ctx, id, NULL);
    *flag = 0;
}

/* The frame in a stream entry [ID, [field, value, ...]]: sets *v and *n (empty when the entry has no FIELD) and
 * returns the entry's ID, or NULL when the entry is not one. */
static const char *entry_frame(const redisReply *e, const char **v, size_t *n)
{
    *v = "";
    *n = 0;
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING)
        return NULL;
    const redisReply *kv = e->element[1];
    for (size_t k = 0; kv->type == REDIS_REPLY_ARRAY && k + 1 < kv->elements; k += 2)
        if (kv->element[k]->type == REDIS_REPLY_STRING && strcmp(kv->element[k]->str, FIELD) == 0 &&
            kv->element[k + 1]->type == REDIS_REPLY_STRING) {
            *v = kv->element[k + 1]->str;
            *n = (size_t)kv->element[k + 1]->len;
        }
    return e->element[0]->str;
}

/* Delivers the frame of entry e of followed channel s, if valid, and continues the XREAD after it. */
static void deliver_entry(struct redis *r, struct sub *s, const redisReply *e)
{
    const char *v;
    size_t n;
    const char *id = entry_frame(e, &v, &n);
    if (!id)
        return;
    snprintf(s->last, sizeof s->last, "%s", id);
    deliver_value(r, s, v, n);
}

static size_t count_wrongtype(const struct redis *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nsubs; i++)
        n += r->subs[i].wrongtype;
    return n;
}

/* Reads the latest entry of the followed channels at the given indexes (XREVRANGE ... COUNT 1 each, pipelined:
 * one round trip), delivers what is valid and notes where the XREAD continues. A key the server refuses, or that
 * holds something other than a stream, is left out of the XREAD (said once); an error concerns its key alone.
 * Returns -1 when the connection failed (and was closed). */
static int probe(struct redis *r, const size_t *which, size_t n)
{
    char key[KEY_MAX], why[300];
    for (size_t i = 0; i < n; i++) {
        key_of(key, r->subs[which[i]].id);
        if (redisAppendCommand(r->cmd, "XREVRANGE %s + - COUNT 1", key) != REDIS_OK) {
            lost(r, "out of memory");
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct sub *s = &r->subs[which[i]];
        redisReply *reply = NULL;
        if (redisGetReply(r->cmd, (void **)&reply) != REDIS_OK) {
            lost(r, r->cmd->errstr[0] ? r->cmd->errstr : "connection lost");
            return -1;
        }
        s->wrongtype = 0;
        if (failed(r->cmd, reply, why, sizeof why)) {
            if (is_noperm(why)) {
                set_refused(r, s->id, &s->refused, "reading", why);
            } else {
                if (!s->warned)
                    log_thread_warning("channel %s: cannot read key " KEY_PREFIX "%s: %s", s->id, s->id, why);
                s->warned = 1;
                s->wrongtype = 1;
                r->next_recheck = clock_mono_ms() + RECHECK_MS;
            }
        } else {
            clear_refused(r, s->id, &s->refused);
            if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0)
                deliver_entry(r, s, reply->element[0]);
        }
        freeReplyObject(reply);
    }
    r->nwrong = count_wrongtype(r);
    return 0;
}

/* Probes every followed channel for which pick(s) holds; returns what probe returns. */
static int probe_where(struct redis *r, int (*pick)(const struct sub *))
{
    size_t *which = malloc((r->nsubs ? r->nsubs : 1) * sizeof *which), n = 0;
    if (!which) {
        lost(r, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < r->nsubs; i++)
        if (pick(&r->subs[i]))
            which[n++] = i;
    int rc = n ? probe(r, which, n) : 0;
    free(which);
    return rc;
}

static int any_sub(const struct sub *s)
{
    (void)s;
    return 1;
}

static int readable_sub(const struct sub *s)
{
    return !s->refused && !s->wrongtype;
}

static int wrongtype_sub(const struct sub *s)
{
    return s->wrongtype;
}

static int in_xread(const struct sub *s)
{
    return s->in_xread;
}

/* Sends XREAD COUNT 1 BLOCK 0 STREAMS <every readable followed key> <the last entry ID seen of each> on the push
 * connection; its reply is read in service. With no key to read, nothing is sent. Returns -1 when the connection
 * failed (and was closed). */
static int send_xread(struct redis *r)
{
    if (r->reading)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < r->nsubs; i++)
        n += r->subs[i].in_xread = readable_sub(&r->subs[i]);
    if (n == 0)
        return 0;
    size_t argc = 6 + 2 * n;
    const char **argv = malloc(argc * sizeof *argv);
    size_t *lens = malloc(argc * sizeof *lens);
    char (*keys)[KEY_MAX] = malloc(n * sizeof *keys);
    int rc = -1;
    if (!argv || !lens || !keys)
        goto out;
    const char *head[] = {"XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS"};
    for (size_t k = 0; k < 6; k++)
        argv[k] = head[k];
    for (size_t i = 0, k = 0; i < r->nsubs; i++) {
        if (!readable_sub(&r->subs[i]))
            continue;
        key_of(keys[k], r->subs[i].id);
        argv[6 + k] = keys[k];
        argv[6 + n + k] = r->subs[i].last;
        k++;
    }
    for (size_t k = 0; k < argc; k++)
        lens[k] = strlen(argv[k]);
    if (redisAppendCommandArgv(r->push, (int)argc, argv, lens) != REDIS_OK)
        goto out;
    int done = 0;
    while (!done)
        if (redisBufferWrite(r->push, &done) != REDIS_OK)
            goto out;
    r->reading = 1;
    rc = 0;
out:
    free(argv);
    free(lens);
    free(keys);
    if (rc)
        lost(r, r->push->errstr[0] ? r->push->errstr : "out of memory");
    return rc;
}

/* XADD the own state (the stream keeps one entry), then PEXPIRE it: pipelined, one round trip. Something other
 * than a stream planted at the key is deleted (only the owner may write the key) and the write tried again.
 * Returns 0, 1 when the server refused it (said, and left to the caller to retry), or -1 when the connection
 * failed (and was closed). */
static int write_own(struct redis *r, struct own *o)
{
    char key[KEY_MAX], why[300];
    key_of(key, o->id);
    for (int attempt = 0;; attempt++) {
        redisAppendCommand(r->cmd, "XADD %s MAXLEN 1 * " FIELD " %b", key, o->frame, o->len);
        redisAppendCommand(r->cmd, "PEXPIRE %s %lld", key, (long long)r->ttl_ms);
        redisReply *add = NULL, *exp = NULL;
        if (redisGetReply(r->cmd, (void **)&add) != REDIS_OK || redisGetReply(r->cmd, (void **)&exp) != REDIS_OK) {
            freeReplyObject(add);
            lost(r, r->cmd->errstr[0] ? r->cmd->errstr : "connection lost");
            return -1;
        }
        int wrongtype = add->type == REDIS_REPLY_ERROR && strncmp(add->str, "WRONGTYPE", 9) == 0;
        int bad = failed(r->cmd, add, why, sizeof why) || failed(r->cmd, exp, why, sizeof why);
        freeReplyObject(add);
        freeReplyObject(exp);
        if (wrongtype && attempt == 0) {
            redisReply *del = redisCommand(r->cmd, "DEL %s", key);
            if (!del) {
                lost(r, r->cmd->errstr[0] ? r->cmd->errstr : "connection lost");
                return -1;
            }
            freeReplyObject(del);
            continue;
        }
        if (bad) {
            set_refused(r, o->id, &o->refused, "writing", why);
            o->refused_perm = is_noperm(why);
            return 1;
        }
        clear_refused(r, o->id, &o->refused);
        return 0;
    }
}

/* Connects both connections, then reads the latest entry of every followed channel, re-writes the own states and
 * sends the XREAD from the entries read. */
static void connect_all(struct redis *r)
{
    char why[300];
    if (!(r->cmd = open_one(r, why, sizeof why)) || !(r->push = open_one(r, why, sizeof why))) {
        lost(r, why);
        return;
    }
    if (probe_where(r, any_sub) != 0)
        return;
    for (size_t i = 0; i < r->nowns; i++)
        if (r->owns[i].len && write_own(r, &r->owns[i]) < 0)
            return;
    if (send_xread(r) != 0)
        return;
    if (r->down_said || !r->ever_up)
        log_thread_info("channel backend redis %s: connected", r->where);
    r->down_said = 0;
    r->ever_up = 1;
    r->backoff = BACKOFF_MIN_MS;
    r->next_refresh = clock_mono_ms() + r->ttl_ms / 3;
}

/* ---- the vtable ---- */

static void *redis_open(const char *arg, const char *data_dir, const struct backend_host *host, char *err,
                        size_t errlen)
{
    (void)data_dir;
    if (lazylib_need(&lazy_hiredis, "a redis:// channel", err, errlen) != 0)
        return NULL;
    struct redis *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->h = host;
    r->ttl_ms = 30000;
    r->backoff = BACKOFF_MIN_MS;
    if (parse_url(r, arg, err, errlen) != 0) {
        free(r);
        return NULL;
    }
    /* Connecting waits for the network: the engine thread does it, in service, right away. */
    r->next_try = clock_mono_ms();
    srand((unsigned)getpid() ^ (unsigned)r->next_try);     /* the backoff's jitter differs between processes */
    return r;
}

static int redis_pollfds(void *be, struct pollfd *fds, int max)
{
    struct redis *r = be;
    if (!r->push || max < 1)
        return 0;
    fds[0] = (struct pollfd){r->push->fd, POLLIN, 0};
    return 1;
}

static int redis_timeout(void *be)
{
    struct redis *r = be;
    int64_t now = clock_mono_ms(), at = -1;
    if (!r->cmd)
        at = r->next_try;
    else if (r->rearm)
        at = now;
    else {
        if (r->nowns)
            at = r->next_refresh;
        if (r->nwrong && (at < 0 || r->next_recheck < at))
            at = r->next_recheck;
    }
    if (at < 0)
        return -1;
    return at <= now ? 0 : (int)(at - now);
}

/* The XREAD failed as a whole (a key that became another type, a permission taken away): every key in it is
 * probed, which sets aside the ones at fault; when none is, the XREAD itself is refused to this user, and every
 * channel in it is said to be refused until the next connect. Returns -1 when a connection failed. */
static int xread_failed(struct redis *r, const char *why)
{
    if (probe_where(r, in_xread) != 0)
        return -1;
    int culprit = 0;
    for (size_t i = 0; i < r->nsubs; i++)
        culprit |= r->subs[i].in_xread && !readable_sub(&r->subs[i]);
    for (size_t i = 0; !culprit && i < r->nsubs; i++)
        if (r->subs[i].in_xread)
            set_refused(r, r->subs[i].id, &r->subs[i].refused, "following", why);
    return 0;
}

static struct sub *sub_of_key(struct redis *r, const char *key)
{
    if (strncmp(key, KEY_PREFIX, sizeof KEY_PREFIX - 1) != 0)
        return NULL;
    for (size_t i = 0; i < r->nsubs; i++)
        if (strcmp(r->subs[i].id, key + sizeof KEY_PREFIX - 1) == 0)
            return &r->subs[i];
    return NULL;
}

/* The XREAD's reply: [[key, [entry, ...]], ...], each entry delivered; then the next XREAD is sent. */
static void read_push(struct redis *r)
{
    struct pollfd p = {r->push->fd, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0)
        return;
    if (redisBufferRead(r->push) != REDIS_OK) {
        lost(r, r->push->errstr[0] ? r->push->errstr : "connection closed by the server");
        return;
    }
    redisReply *reply;
    int answered = 0;
    char why[300] = "";
    while (redisGetReplyFromReader(r->push, (void **)&reply) == REDIS_OK && reply) {
        answered = 1;
        if (reply->type == REDIS_REPLY_ERROR)
            snprintf(why, sizeof why, "%s", reply->str);
        for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
            const redisReply *st = reply->element[i];
            struct sub *s = st->type == REDIS_REPLY_ARRAY && st->elements == 2 &&
                            st->element[0]->type == REDIS_REPLY_STRING ? sub_of_key(r, st->element[0]->str) : NULL;
            for (size_t k = 0; s && st->element[1]->type == REDIS_REPLY_ARRAY && k < st->element[1]->elements; k++)
                deliver_entry(r, s, st->element[1]->element[k]);
        }
        freeReplyObject(reply);
    }
    if (!answered)
        return;
    r->reading = 0;
    if (why[0] && xread_failed(r, why) != 0)
        return;
    send_xread(r);
}

/* Opens the push connection again, for an XREAD over the followed set as it is now: a blocked XREAD cannot be
 * changed, and closing its connection is what a client may do without a right over other clients. */
static void rearm(struct redis *r)
{
    r->rearm = 0;
    if (r->reading) {
        char why[300];
        redisFree(r->push);
        r->reading = 0;
        if (!(r->push = open_one(r, why, sizeof why))) {
            lost(r, why);
            return;
        }
    }
    send_xread(r);
}

/* Keys that held something other than a stream are looked at again; those that are streams now join the XREAD. */
static void recheck(struct redis *r)
{
    size_t before = r->nwrong;
    r->next_recheck = clock_mono_ms() + RECHECK_MS;
    if (probe_where(r, wrongtype_sub) == 0 && r->nwrong < before)
        r->rearm = 1;
}

static void refresh(struct redis *r)
{
    char key[KEY_MAX];
    for (size_t i = 0; r->cmd && i < r->nowns; i++) {
        struct own *o = &r->owns[i];
        if (!o->len)
            continue;
        key_of(key, o->id);
        redisReply *reply = redisCommand(r->cmd, "PEXPIRE %s %lld", key, (long long)r->ttl_ms);
        char why[300];
        if (failed(r->cmd, reply, why, sizeof why)) {
            freeReplyObject(reply);
            if (reply && is_noperm(why))
                continue;   /* said already by write_own */
            lost(r, why);
            return;
        }
        /* 0: the key is gone (Redis restarted empty, or evicted it): write it again; so too the state whose last
         * write the server refused (PEXPIRE would only keep an older one alive). */
        int gone = (reply->type == REDIS_REPLY_INTEGER && reply->integer == 0) || o->refused;
        freeReplyObject(reply);
        if (gone && write_own(r, o) < 0)
            return;
    }
    r->next_refresh = clock_mono_ms() + r->ttl_ms / 3;
}

static void redis_service(void *be)
{
    struct redis *r = be;
    if (!r->cmd) {
        if (clock_mono_ms() >= r->next_try)
            connect_all(r);
        return;
    }
    read_push(r);
    if (r->cmd && r->nwrong && clock_mono_ms() >= r->next_recheck)
        recheck(r);
    if (r->cmd && r->rearm)
        rearm(r);
    if (r->cmd && r->nowns && clock_mono_ms() >= r->next_refresh)
        refresh(r);
}

static int redis_publish(void *be, const char *id, const char *json, size_t len, int64_t seq, int64_t published)
{
    struct redis *r = be;
    struct own *o = NULL;
    for (size_t i = 0; i < r->nowns; i++)
        if (strcmp(r->owns[i].id, id) == 0)
            o = &r->owns[i];
    if (!o) {
        if (r->nowns == r->owncap) {
            size_t cap = r->owncap ? r->owncap * 2 : 2;
            struct own *no = realloc(r->owns, cap * sizeof *no);
            if (!no)
                return -1;
            r->owns = no;
            r->owncap = cap;
        }
        o = &r->owns[r->nowns++];
        memset(o, 0, sizeof *o);
        snprintf(o->id, sizeof o->id, "%s", id);
        r->next_refresh = clock_mono_ms() + r->ttl_ms / 3;
    }
    o->len = chanframe_format(o->frame, json, len, seq, published);
    /* Not connected yet and a try is due (the first state of a bot that exits at once): connect now. */
    if (!r->cmd && clock_mono_ms() >= r->next_try)
        connect_all(r);
    if (!r->cmd)
        return -1;      /* kept here and rewritten on connect; -1 makes the engine retry until it closes */
    int rc = write_own(r, o);
    /* A refusal other than a permission (out of memory, a read-only replica) may pass: the engine retries. */
    return rc < 0 || (rc > 0 && !o->refused_perm) ? -1 : 0;
}

static void redis_subscribe(void *be, const char *id)
{
    struct redis *r = be;
    for (size_t i = 0; i < r->nsubs; i++)
        if (strcmp(r->subs[i].id, id) == 0)
            return;
    if (r->nsubs == r->subcap) {
        size_t cap = r->subcap ? r->subcap * 2 : 16;
        struct sub *ns = realloc(r->subs, cap * sizeof *ns);
        if (!ns)
            return;
        r->subs = ns;
        r->subcap = cap;
    }
    size_t i = r->nsubs++;
    memset(&r->subs[i], 0, sizeof r->subs[i]);
    snprintf(r->subs[i].id, sizeof r->subs[i].id, "%s", id);
    snprintf(r->subs[i].last, sizeof r->subs[i].last, "0-0");
    if (!r->cmd)
        return;     /* read on connect */
    /* Its latest entry now; the XREAD takes it in at the next service (the engine runs it at once). */
    if (probe(r, &i, 1) == 0 && readable_sub(&r->subs[i]))
        r->rearm = 1;
}

/* The seq floor of a channel lives in key stratrun:seq:ID, without TTL, so a publisher restarted after its
 * state's key expired continues above it. The ACL recipe lets each bot write its own. */
static void seq_key_of(char *buf, const char *id)
{
    snprintf(buf, SEQ_KEY_MAX, SEQ_KEY_PREFIX "%s", id);
}

/* Says once (until it works again) that the seq floor of id cannot be kept. */
static void seq_refused(struct redis *r, const char *id, const char *why)
{
    if (!r->seq_said)
        log_thread_warning("channel %s: cannot keep its seq in key " SEQ_KEY_PREFIX "%s: %s; a restart of its "
                           "publisher after its state expired may go unseen until its clock passes the old seq%s",
                           id, id, why, is_noperm(why) ? " (give the bot's ACL user the key: scripts/redis-acl.lua)"
                           : "");
    r->seq_said = 1;
}

static int64_t redis_stored_seq(void *be, const char *id)
{
    struct redis *r = be;
    if (!r->cmd)
        return -1;
    char key[KEY_MAX], skey[SEQ_KEY_MAX], why[300];
    key_of(key, id);
    seq_key_of(skey, id);
    redisAppendCommand(r->cmd, "XREVRANGE %s + - COUNT 1", key);
    redisAppendCommand(r->cmd, "GET %s", skey);
    redisReply *state = NULL, *floor = NULL;
    if (redisGetReply(r->cmd, (void **)&state) != REDIS_OK || redisGetReply(r->cmd, (void **)&floor) != REDIS_OK) {
        freeReplyObject(state);
        lost(r, r->cmd->errstr[0] ? r->cmd->errstr : "connection lost");
        return -1;
    }
    int64_t seq = 0;
    struct chanframe f;
    const char *v;
    size_t n;
    if (state->type == REDIS_REPLY_ARRAY && state->elements > 0 && entry_frame(state->element[0], &v, &n) &&
        !chanframe_parse(v, n, &f))
        seq = f.seq;
    if (failed(r->cmd, floor, why, sizeof why))
        seq_refused(r, id, why);
    else if (floor->type == REDIS_REPLY_STRING && strtoll(floor->str, NULL, 10) > seq)
        seq = strtoll(floor->str, NULL, 10);
    freeReplyObject(state);
    freeReplyObject(floor);
    return seq;
}

static int redis_save_seq(void *be, const char *id, int64_t floor)
{
    struct redis *r = be;
    if (!r->cmd)
        return -1;
    char skey[SEQ_KEY_MAX], why[300];
    seq_key_of(skey, id);
    redisReply *reply = redisCommand(r->cmd, "SET %s %lld", skey, (long long)floor);
    int bad = failed(r->cmd, reply, why, sizeof why);
    if (!reply)
        lost(r, why);
    else if (bad)
        seq_refused(r, id, why);
    else
        r->seq_said = 0;
    freeReplyObject(reply);
    return bad ? -1 : 0;
}

static void redis_close(void *be)
{
    struct redis *r = be;
    if (r->cmd)
        redisFree(r->cmd);
    if (r->push)
        redisFree(r->push);
    free(r->subs);
    free(r->owns);
    free(r);
}

const struct backend_ops backend_redis = {
    .scheme = "redis",
    .on_caller_thread = 0,
    .open = redis_open,
    .pollfds = redis_pollfds,
    .timeout_ms = redis_timeout,
    .service = redis_service,
    .publish = redis_publish,
    .subscribe = redis_subscribe,
    .stored_seq = redis_stored_seq,
    .save_seq = redis_save_seq,
    .close = redis_close,
};
