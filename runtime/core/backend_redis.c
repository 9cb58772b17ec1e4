/*
 * backend_redis.c: channels through Redis, for bots on several servers.
 *
 * The latest state of channel ID lives in key stratrun:ch:ID as a frame (chanframe.h), written with a TTL that the
 * publisher refreshes while it runs, so a dead publisher's channel disappears instead of looking fresh. Each write
 * is followed by PUBLISH stratrun:ch:ID <seq> on the pub/sub channel of the same name. Followers SUBSCRIBE to
 * those channels on one connection and, when told, read the keys on another (one MGET for a burst): a
 * notification only says "look", so a forged PUBLISH cannot plant a state; only the key's owner may write the key
 * (the ACL recipe in docs/redis.md). The seq floor of each published channel lives in stratrun:seq:ID without
 * TTL (redis_save_seq), so seq grows across restarts. After any reconnect: SUBSCRIBE again, MGET every followed
 * key, write the own states again; the engine drops whatever is not newer than what it holds.
 *
 * hiredis is used synchronously, only on the engine's thread, with a 1 s timeout on every command: a stuck server
 * delays the engine thread, never a strategy.
 */
#include "core/backend.h"
#include "core/chanframe.h"
#include "core/chanid.h"
#include "core/clock.h"
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

#include <hiredis.h>

#define KEY_PREFIX "stratrun:ch:"
#define KEY_MAX (sizeof KEY_PREFIX + ID_MAX)
#define SEQ_KEY_PREFIX "stratrun:seq:"
#define SEQ_KEY_MAX (sizeof SEQ_KEY_PREFIX + ID_MAX)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define TIMEOUT_MS 1000

struct sub {
    char id[ID_MAX + 1];
    int warned;             /* a warning was given for its value; reset by the next valid state */
    int refused;            /* the server refused following it */
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
    redisContext *cmd, *push;
    int64_t next_try, next_refresh;
    int backoff, down_said, ever_up;
    int seq_said;           /* a seq floor could not be kept (said once, until one is kept again) */
    struct sub *subs;
    size_t nsubs, subcap;
    struct own *owns;
    size_t nowns, owncap;
    /* SUBSCRIBE commands sent whose replies have not come back: indexes into subs, pending[phead..ptail) */
    size_t *pending;
    size_t phead, ptail, pcap;
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
    r->phead = r->ptail = 0;
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

/* Reads the keys of the followed channels at the given indexes, in one MGET, and delivers what is valid. Returns
 * -1 when the connection failed (and was closed). */
static int fetch(struct redis *r, const size_t *which, size_t n)
{
    if (n == 0)
        return 0;
    const char **argv = malloc((n + 1) * sizeof *argv);
    size_t *lens = malloc((n + 1) * sizeof *lens);
    char (*keys)[KEY_MAX] = malloc(n * sizeof *keys);
    char why[300];
    int rc = 0;
    if (!argv || !lens || !keys)
        goto out;
    argv[0] = "MGET";
    lens[0] = 4;
    for (size_t i = 0; i < n; i++) {
        key_of(keys[i], r->subs[which[i]].id);
        argv[i + 1] = keys[i];
        lens[i + 1] = strlen(keys[i]);
    }
    redisReply *reply = redisCommandArgv(r->cmd, (int)n + 1, argv, lens);
    if (failed(r->cmd, reply, why, sizeof why)) {
        if (reply) {
            /* One key the user may not read spoils the MGET: ask one by one to say which. */
            freeReplyObject(reply);
            for (size_t i = 0; i < n && rc == 0; i++) {
                struct sub *s = &r->subs[which[i]];
                redisReply *one = redisCommand(r->cmd, "GET %s", keys[i]);
                if (failed(r->cmd, one, why, sizeof why)) {
                    /* Only no reply at all is a lost connection; an error reply concerns this key alone. */
                    if (!one)
                        rc = -1;
                    else if (is_noperm(why))
                        set_refused(r, s->id, &s->refused, "reading", why);
                    else if (!s->warned) {
                        log_thread_warning("channel %s: cannot read key " KEY_PREFIX "%s: %s", s->id, s->id, why);
                        s->warned = 1;
                    }
                } else if (one->type == REDIS_REPLY_STRING) {
                    deliver_value(r, s, one->str, (size_t)one->len);
                }
                freeReplyObject(one);
            }
            if (rc)
                lost(r, why);
            goto out;
        }
        freeReplyObject(reply);
        lost(r, why);
        rc = -1;
        goto out;
    }
    for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements && i < n; i++) {
        redisReply *v = reply->element[i];
        if (v->type == REDIS_REPLY_STRING)
            deliver_value(r, &r->subs[which[i]], v->str, (size_t)v->len);
    }
    freeReplyObject(reply);
out:
    free(argv);
    free(lens);
    free(keys);
    return rc;
}

/* Sends SUBSCRIBE for followed channel i on the push connection; its reply is read in service. */
static int send_subscribe(struct redis *r, size_t i)
{
    char key[KEY_MAX];
    key_of(key, r->subs[i].id);
    if (r->ptail == r->pcap) {
        if (r->phead > 0) {     /* slide the waiting ones to the front */
            memmove(r->pending, r->pending + r->phead, (r->ptail - r->phead) * sizeof *r->pending);
            r->ptail -= r->phead;
            r->phead = 0;
        } else {
            size_t cap = r->pcap ? r->pcap * 2 : 16;
            size_t *np = realloc(r->pending, cap * sizeof *np);
            if (!np)
                return -1;
            r->pending = np;
            r->pcap = cap;
        }
    }
    r->pending[r->ptail++] = i;
    int done = 0;
    if (redisAppendCommand(r->push, "SUBSCRIBE %s", key) != REDIS_OK)
        return -1;
    while (!done)
        if (redisBufferWrite(r->push, &done) != REDIS_OK)
            return -1;
    return 0;
}

/* SET the own state with its TTL, then PUBLISH its seq. Returns 0, 1 when the server refused it (said, and left to
 * the caller to retry), or -1 when the connection failed (and was closed). */
static int write_own(struct redis *r, struct own *o, int64_t seq)
{
    char key[KEY_MAX], why[300], seqs[24];
    key_of(key, o->id);
    snprintf(seqs, sizeof seqs, "%lld", (long long)seq);
    redisAppendCommand(r->cmd, "SET %s %b PX %lld", key, o->frame, o->len, (long long)r->ttl_ms);
    redisAppendCommand(r->cmd, "PUBLISH %s %s", key, seqs);
    redisReply *set = NULL, *pub = NULL;
    if (redisGetReply(r->cmd, (void **)&set) != REDIS_OK || redisGetReply(r->cmd, (void **)&pub) != REDIS_OK) {
        freeReplyObject(set);
        lost(r, r->cmd->errstr[0] ? r->cmd->errstr : "connection lost");
        return -1;
    }
    int bad = failed(r->cmd, set, why, sizeof why) || failed(r->cmd, pub, why, sizeof why);
    freeReplyObject(set);
    freeReplyObject(pub);
    if (bad) {
        set_refused(r, o->id, &o->refused, "writing", why);
        o->refused_perm = is_noperm(why);
        return 1;
    }
    clear_refused(r, o->id, &o->refused);
    return 0;
}

static int64_t frame_seq(const struct own *o)
{
    struct chanframe f;
    return chanframe_parse(o->frame, o->len, &f) ? 0 : f.seq;
}

/* Connects both connections, then re-subscribes, re-seeds every followed channel and re-writes the own states. */
static void connect_all(struct redis *r)
{
    char why[300];
    if (!(r->cmd = open_one(r, why, sizeof why)) || !(r->push = open_one(r, why, sizeof why))) {
        lost(r, why);
        return;
    }
    /* Subscribe; each key is read when its subscription is confirmed (read_push), so a state written in between
     * arrives by one path or the other. */
    for (size_t i = 0; i < r->nsubs; i++)
        if (send_subscribe(r, i) != 0) {
            lost(r, r->push->errstr);
            return;
        }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->nowns; i++)
        if (r->owns[i].len)
            rc = write_own(r, &r->owns[i], frame_seq(&r->owns[i])) < 0 ? -1 : 0;
    if (rc != 0 || !r->cmd)
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
    int64_t now = clock_mono_ms(), at = !r->cmd ? r->next_try : r->nowns ? r->next_refresh : -1;
    if (at < 0)
        return -1;
    return at <= now ? 0 : (int)(at - now);
}

/* Adds i to the set of followed channels whose keys to read (told may be NULL when out of memory). */
static void add_told(size_t *told, size_t *n, size_t i)
{
    if (!told)
        return;
    for (size_t k = 0; k < *n; k++)
        if (told[k] == i)
            return;
    told[(*n)++] = i;
}

static void read_push(struct redis *r)
{
    struct pollfd p = {r->push->fd, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0)
        return;
    if (redisBufferRead(r->push) != REDIS_OK) {
        lost(r, r->push->errstr[0] ? r->push->errstr : "connection closed by the server");
        return;
    }
    size_t *told = malloc((r->nsubs ? r->nsubs : 1) * sizeof *told), ntold = 0;
    redisReply *reply;
    while (redisGetReplyFromReader(r->push, (void **)&reply) == REDIS_OK && reply) {
        if (reply->type == REDIS_REPLY_ERROR) {
            /* The answer to the oldest SUBSCRIBE still waiting. */
            if (r->phead < r->ptail) {
                struct sub *s = &r->subs[r->pending[r->phead++]];
                set_refused(r, s->id, &s->refused, "following", reply->str);
            }
        } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
                   reply->element[0]->type == REDIS_REPLY_STRING && reply->element[1]->type == REDIS_REPLY_STRING) {
            const char *kind = reply->element[0]->str, *chan = reply->element[1]->str;
            const char *id = strncmp(chan, KEY_PREFIX, sizeof KEY_PREFIX - 1) == 0 ? chan + sizeof KEY_PREFIX - 1
                                                                                     : NULL;
            if (strcmp(kind, "subscribe") == 0 && r->phead < r->ptail) {
                size_t i = r->pending[r->phead++];
                clear_refused(r, r->subs[i].id, &r->subs[i].refused);
                add_told(told, &ntold, i);      /* subscribed: now its key is read */
            } else if (strcmp(kind, "message") == 0 && id) {
                for (size_t i = 0; i < r->nsubs; i++)
                    if (strcmp(r->subs[i].id, id) == 0)
                        add_told(told, &ntold, i);
            }
        }
        freeReplyObject(reply);
    }
    if (told && r->cmd)
        fetch(r, told, ntold);
    free(told);
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
        if (gone && write_own(r, o, frame_seq(o)) < 0)
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
    int rc = write_own(r, o, seq);
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
    if (!r->cmd)
        return;     /* subscribed and read on connect */
    /* Its key is read when the subscription is confirmed (read_push). */
    if (send_subscribe(r, i) != 0)
        lost(r, r->push->errstr[0] ? r->push->errstr : "connection lost");
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
    redisAppendCommand(r->cmd, "GET %s", key);
    redisAppendCommand(r->cmd, "GET %s", skey);
    redisReply *state = NULL, *floor = NULL;
    if (redisGetReply(r->cmd, (void **)&state) != REDIS_OK || redisGetReply(r->cmd, (void **)&floor) != REDIS_OK) {
        freeReplyObject(state);
        lost(r, r->cmd->errstr[0] ? r->cmd->errstr : "connection lost");
        return -1;
    }
    int64_t seq = 0;
    struct chanframe f;
    if (state->type == REDIS_REPLY_STRING && !chanframe_parse(state->str, (size_t)state->len, &f))
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
    free(r->pending);
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
