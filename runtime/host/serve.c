/*
 * serve.c: stratrun serve, the dashboard (serve.h, docs/dashboard.md): a web page and a small JSON API over a data
 * dir and its channel backend, on libmicrohttpd, in a process of its own. It reads what the bots write to their
 * folders (lock, log.txt, status.json, profit.csv, chart.jsonl) and follows their channels through an engine of its
 * own; the one thing it changes is a bot's command queue (cmdq_send, as `stratrun cmd`). It never blocks a bot: no
 * bot waits on it, and it asks for a bot's lock only for an instant (fs_lock_holder).
 *
 * Security: it listens on 127.0.0.1 by default and then takes only requests whose Host is that address (or
 * localhost) and its port, which a DNS-rebinding page cannot send. A command (POST) needs the token serve keeps in
 * <data dir>/serve.token (mode 0600), in the X-Stratrun-Token header: a header no other site's page can send here
 * without a CORS preflight, which this server never grants; an Origin, when given, must be this server. On any
 * other address every API request needs the token. Everything served is data (JSON, text events) or the page
 * compiled into the binary, under a Content-Security-Policy that runs only that page's own script.
 */
#include "host/serve.h"
#include "host/bot.h"
#include "host/botdir.h"
#include "host/cli.h"
#include "host/options.h"
#include "host/web_embed.h"
#include "core/chanid.h"
#include "core/clock.h"
#include "core/cmdqueue.h"
#include "core/engine.h"
#include "core/fsutil.h"
#include "core/hex.h"
#include "core/lib_mhd.h"
#include "core/numfmt.h"
#include "core/outq.h"
#include "core/redact.h"
#include "data/json.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define USAGE "usage: stratrun serve [--listen ADDR:PORT] [--data-dir DIR] [--channel URL] [--follow ID,...]\n" \
    "Serves the dashboard of the data dir's bots: http://ADDR:PORT/ (default 127.0.0.1:8420).\n"

#define LOG_LINES 200               /* log lines a bot's page starts with */
#define PROFIT_POINTS 5000          /* the LogProfit points sent, the last ones */
#define FILE_MAX (4u << 20)         /* the most read of a status, profit or chart file: its last bytes */
#define BODY_MAX CMDQ_MAX_BYTES     /* a command's body */
#define FOLLOW_MAX 256

struct server {
    const char *data_dir;
    struct engine *engine;
    pthread_mutex_t engine_mu;      /* the engine's calls from the connections' threads, one at a time */
    char token[65];
    int loopback;
    unsigned port;
    char hosts[2][80];              /* the Host headers taken on a loopback address */
    const char *follow[FOLLOW_MAX]; /* channels followed besides the data dir's bots */
    int nfollow;
    atomic_int stopping;            /* the connections' streams end */
};

/* ---- small helpers ---- */

static int addf(jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int addf(jbuf *b, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return n < 0 ? -1 : jbuf_add(b, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* A JSON string of the n bytes at s, whatever a bot wrote there (json_add_text: invalid UTF-8 as U+FFFD). */
static void jstr(jbuf *b, const char *s, size_t n)
{
    json_add_text(b, s, n);
}

static void jcstr(jbuf *b, const char *s)
{
    jstr(b, s, strlen(s));
}

/* The last max bytes (at most) of path, from a line's start when cut: malloc'd, NUL-terminated, *len; NULL when
 * it cannot be read. */
static char *read_tail(const char *path, size_t max, size_t *len)
{
    int fd = fs_open_regular(path);    /* a FIFO would block the open */
    if (fd < 0)
        return NULL;
    struct stat st;
    char *p = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        off_t from = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
        size_t n = (size_t)(st.st_size - from);
        p = malloc(n + 1);
        ssize_t r = p ? pread(fd, p, n, from) : -1;
        if (r < 0) {
            free(p);
            p = NULL;
        } else {
            n = (size_t)r;
            p[n] = '\0';
            size_t skip = 0;
            if (from > 0) {     /* a cut line is left out */
                char *nl = memchr(p, '\n', n);
                skip = nl ? (size_t)(nl - p) + 1 : n;
            }
            memmove(p, p + skip, n - skip + 1);
            *len = n - skip;
        }
    }
    close(fd);
    return p;
}

static void bot_path(const struct server *s, const char *id, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/bots/%s/%s", s->data_dir, id, name);
}

/* The last FILE_MAX bytes (at most) of the bot's file name (read_tail). */
static char *read_bot_file(const struct server *s, const char *id, const char *name, size_t *len)
{
    char path[PATH_MAX + 128];
    bot_path(s, id, name, path, sizeof path);
    return read_tail(path, FILE_MAX, len);
}

/* ---- the API's answers ---- */

static void bot_json(jbuf *b, const struct server *s, const struct botinfo *bi)
{
    char line[2048];
    botdir_last_line(s->data_dir, bi->id, line, sizeof line);
    addf(b, "{\"id\":\"%s\",\"state\":\"%s\",\"pid\":%ld,\"since\":%lld,\"script\":", bi->id,
         bi->held ? "running" : "stopped", bi->held ? bi->pid : 0L, bi->held ? (long long)bi->since * 1000 : 0LL);
    jcstr(b, bi->script);
    jbuf_add(b, ",\"last_log\":", 12);
    jcstr(b, line);
    jbuf_add(b, "}", 1);
}

static void api_bots(jbuf *b, const struct server *s)
{
    int n;
    struct botinfo *bots = botdir_list(s->data_dir, &n);
    jbuf_add(b, "{\"bots\":[", 9);
    for (int i = 0; i < n; i++) {
        if (i)
            jbuf_add(b, ",", 1);
        bot_json(b, s, &bots[i]);
    }
    jbuf_add(b, "]}", 2);
    free(bots);
}

/* "name":"whole file as a string" or null. */
static void file_field(jbuf *b, const struct server *s, const char *id, const char *field, const char *name)
{
    size_t len;
    char *text = read_bot_file(s, id, name, &len);
    addf(b, ",\"%s\":", field);
    if (text)
        jstr(b, text, len);
    else
        jbuf_add(b, "null", 4);
    free(text);
}

/* The log's last LOG_LINES lines and the offset its end had then (the live stream goes on from there). */
static void log_field(jbuf *b, const struct server *s, const char *id)
{
    char path[PATH_MAX + 128];
    bot_path(s, id, "log.txt", path, sizeof path);
    jbuf_add(b, ",\"log\":[", 8);
    long long end = 0;
    int fd = fs_open_regular(path);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        /* the last LOG_LINES lines within the last FILE_MAX bytes: a strategy's one huge line is not sent whole */
        off_t floor = st.st_size > (off_t)FILE_MAX ? st.st_size - (off_t)FILE_MAX : 0;
        off_t from = fs_tail_start(fd, st.st_size, LOG_LINES, floor);
        size_t n = from >= 0 ? (size_t)(st.st_size - from) : 0;
        char *text = n ? malloc(n) : NULL;
        if (text && pread(fd, text, n, from) == (ssize_t)n) {
            end = (long long)st.st_size;
            size_t at = 0;
            if (from == floor && floor > 0) {   /* cut inside a line: it is left out */
                char *nl = memchr(text, '\n', n);
                at = nl ? (size_t)(nl - text) + 1 : n;
            }
            for (size_t k = 0; at < n; k++) {
                char *nl = memchr(text + at, '\n', n - at);
                size_t e = nl ? (size_t)(nl - text) : n;
                if (!nl) {      /* a line still being written: the stream sends it */
                    end -= (long long)(n - at);
                    break;
                }
                if (k)
                    jbuf_add(b, ",", 1);
                jstr(b, text + at, e - at);
                at = e + 1;
            }
        }
        free(text);
    }
    if (fd >= 0)
        close(fd);
    addf(b, "],\"log_end\":%lld", end);
}

/* LogProfit's series: [[time_ms, profit], ...], the last PROFIT_POINTS lines of profit.csv that read as numbers. */
static void profit_field(jbuf *b, const struct server *s, const char *id)
{
    size_t len;
    char *text = read_bot_file(s, id, "profit.csv", &len);
    jbuf_add(b, ",\"profit\":[", 11);
    if (text) {
        size_t nlines = 0;
        for (size_t i = 0; i < len; i++)
            nlines += text[i] == '\n';
        size_t skip = nlines > PROFIT_POINTS ? nlines - PROFIT_POINTS : 0, k = 0, out = 0;
        for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1, k++) {
            *nl = '\0';
            if (k < skip)
                continue;
            char *end;
            long long t = strtoll(line, &end, 10);
            if (*end != ',')
                continue;
            char *vend;
            double v = strtod(end + 1, &vend);
            if (vend == end + 1 || *vend || !isfinite(v))
                continue;
            char num[32];
            fmt_double(v, num);
            addf(b, "%s[%lld,%s]", out++ ? "," : "", t, num);
        }
    }
    jbuf_add(b, "]", 1);
    free(text);
}

/* The chart's lines (chart.jsonl), each as a string: the page reads them as JSON. */
static void chart_field(jbuf *b, const struct server *s, const char *id)
{
    size_t len;
    char *text = read_bot_file(s, id, "chart.jsonl", &len);
    jbuf_add(b, ",\"chart\":[", 10);
    int k = 0;
    /* A file longer than was read lost its first line, which says what the chart is: sent first, from the start. */
    char path[PATH_MAX + 128];
    bot_path(s, id, "chart.jsonl", path, sizeof path);
    int fd = text ? fs_open_regular(path) : -1;
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && (size_t)st.st_size > len) {
        char first[65536];
        ssize_t r = pread(fd, first, sizeof first, 0);
        char *nl = r > 0 ? memchr(first, '\n', (size_t)r) : NULL;
        if (nl) {
            jstr(b, first, (size_t)(nl - first));
            k++;
        }
    }
    if (fd >= 0)
        close(fd);
    for (char *line = text, *nl; line && (nl = memchr(line, '\n', len - (size_t)(line - text))); line = nl + 1) {
        if (k++)
            jbuf_add(b, ",", 1);
        jstr(b, line, (size_t)(nl - line));
    }
    jbuf_add(b, "]", 1);
    free(text);
}

static int api_bot(jbuf *b, const struct server *s, const char *id)
{
    struct botinfo bi;
    if (botdir_look(s->data_dir, id, &bi) != 0)
        return -1;
    jbuf_add(b, "{\"bot\":", 7);
    bot_json(b, s, &bi);
    file_field(b, s, id, "status", "status.json");
    file_field(b, s, id, "status_text", "status.txt");
    log_field(b, s, id);
    profit_field(b, s, id);
    chart_field(b, s, id);
    jbuf_add(b, "}", 1);
    return 0;
}

static void channel_json(jbuf *b, struct server *s, const char *id, int *first)
{
    struct chan_entry *c = engine_channel(s->engine, id, 1);
    if (!c)
        return;
    engine_kick(s->engine);     /* a channel followed for the first time: the engine thread starts on it now */
    struct chan_state *st = malloc(sizeof *st);
    if (!st)
        return;
    char why[256];
    int64_t seq = engine_read(s->engine, c, st);
    int refused = engine_refused(s->engine, c, why, sizeof why);
    addf(b, "%s{\"id\":\"%s\",\"seq\":%lld", *first ? "" : ",", id, (long long)seq);
    *first = 0;
    if (seq > 0) {
        addf(b, ",\"published\":%lld,\"received\":%lld,\"data\":", (long long)st->published,
             (long long)(st->received_us / 1000));
        jstr(b, st->data, st->len);
    } else {
        jbuf_add(b, ",\"data\":null", 12);
    }
    if (refused) {
        jbuf_add(b, ",\"refused\":", 11);
        jcstr(b, why);
    }
    jbuf_add(b, "}", 1);
    free(st);
}

static void api_channels(jbuf *b, struct server *s)
{
    int n;
    struct botinfo *bots = botdir_list(s->data_dir, &n);
    pthread_mutex_lock(&s->engine_mu);
    addf(b, "{\"backend\":\"%s\",\"channels\":[", engine_backend_name(s->engine));
    int first = 1;
    for (int i = 0; i < n; i++)
        channel_json(b, s, bots[i].id, &first);
    for (int i = 0; i < s->nfollow; i++) {
        int dup = 0;
        for (int k = 0; k < n && !dup; k++)
            dup = strcmp(bots[k].id, s->follow[i]) == 0;
        if (!dup)
            channel_json(b, s, s->follow[i], &first);
    }
    pthread_mutex_unlock(&s->engine_mu);
    jbuf_add(b, "]}", 2);
    free(bots);
}

/* ---- the live log: server-sent events, one a line ---- */

struct stream {
    struct server *s;
    struct logtail log;
    char *out;          /* events formatted, not yet sent */
    size_t out_len, out_at;
    char part[8192];    /* a line not ended yet: its first 8 KiB */
    size_t part_len;
    long long cut;      /* bytes of that line past part, left out */
    int64_t last_ns;    /* the last bytes sent, for the keep-alive */
};

static void stream_add(struct stream *st, const char *p, size_t n)
{
    char *o = realloc(st->out, st->out_len + n);
    if (!o)
        return;
    st->out = o;
    memcpy(st->out + st->out_len, p, n);
    st->out_len += n;
}

/* Whole lines of data become events "data: LINE\n\n", one a line: a line longer than part holds is sent as its
 * first 8 KiB and how much was left out (the whole line is in log.txt). */
static void stream_lines(struct stream *st, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\r')
            continue;
        if (c != '\n') {
            if (st->part_len < sizeof st->part)
                st->part[st->part_len++] = c;
            else
                st->cut++;
            continue;
        }
        stream_add(st, "data: ", 6);
        stream_add(st, st->part, st->part_len);
        if (st->cut > 0) {
            char more[96];
            int m = snprintf(more, sizeof more, " [... %lld bytes more: the whole line is in log.txt]", st->cut);
            stream_add(st, more, (size_t)m);
        }
        stream_add(st, "\n\n", 2);
        st->part_len = 0;
        st->cut = 0;
    }
}

/* Reads what was appended to the log since the last look (botdir.h's logtail). */
static void stream_poll(struct stream *st)
{
    char buf[65536];
    size_t n;
    while ((n = logtail_read(&st->log, buf, sizeof buf)) > 0) {
        stream_lines(st, buf, n);
        if (st->out_len > (1u << 20))
            break;
    }
    if (st->log.replaced) {     /* a line held half belongs to the file that went */
        st->log.replaced = 0;
        st->part_len = 0;
        st->cut = 0;
    }
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct stream *st = cls;
    for (;;) {
        if (st->out_at < st->out_len) {
            size_t n = st->out_len - st->out_at < max ? st->out_len - st->out_at : max;
            memcpy(buf, st->out + st->out_at, n);
            st->out_at += n;
            if (st->out_at == st->out_len)
                st->out_at = st->out_len = 0;
            st->last_ns = clock_mono_ns();
            return (ssize_t)n;
        }
        if (atomic_load(&st->s->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        stream_poll(st);
        if (st->out_len == 0) {
            if (clock_mono_ns() - st->last_ns > 15 * (int64_t)1000000000) {
                stream_add(st, ": keep-alive\n\n", 14);     /* a comment: tells a gone client from a quiet log */
                continue;
            }
            struct timespec ts = {0, 100 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
}

static void stream_free(void *cls)
{
    struct stream *st = cls;
    logtail_close(&st->log);
    free(st->out);
    free(st);
}

/* ---- requests ---- */

struct request {
    char body[BODY_MAX + 1];
    size_t len;
    int too_big;
};

static enum MHD_Result send_bytes(struct MHD_Connection *c, unsigned code, const char *type, const void *p, size_t n,
                                  int copy)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)p, copy ? MHD_RESPMEM_MUST_COPY :
                                                             MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "
                            "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
                            "frame-ancestors 'none'");
    enum MHD_Result ok = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned code, jbuf *b)
{
    static const char oom[] = "{\"error\":\"out of memory: the answer could not be made whole\"}";
    enum MHD_Result ok = b->failed
        ? send_bytes(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json; charset=utf-8", oom, sizeof oom - 1, 0)
        : send_bytes(c, code, "application/json; charset=utf-8", b->p, b->len, 1);
    jbuf_free(b);
    return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    jbuf b;
    jbuf_init(&b);
    jbuf_add(&b, "{\"error\":", 9);
    jcstr(&b, msg);
    jbuf_add(&b, "}", 1);
    return send_json(c, code, &b);
}

/* The Host header names this server: ADDR:PORT or localhost:PORT, or without ":80" on port 80 (as browsers send it). */
static int host_ok(const struct server *s, const char *host)
{
    if (!host)
        return 0;
    for (int i = 0; i < 2; i++) {
        const char *h = s->hosts[i];
        size_t n = strcspn(h, ":");
        if (strcmp(host, h) == 0 || (s->port == 80 && strlen(host) == n && strncmp(host, h, n) == 0))
            return 1;
    }
    return 0;
}

static int token_ok(const struct server *s, struct MHD_Connection *c)
{
    const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Stratrun-Token");
    if (!t || strlen(t) != 64)
        return 0;
    unsigned char diff = 0;     /* the same time whatever the first wrong character */
    for (int i = 0; i < 64; i++)
        diff |= (unsigned char)(t[i] ^ s->token[i]);
    return diff == 0;
}

static const char *mime(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return "application/octet-stream";
    if (strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    if (strcmp(dot, ".svg") == 0)
        return "image/svg+xml";
    return "application/octet-stream";
}

/* /api/bots/{id}[/rest]: the ID (checked) into id and the rest; -1 when the ID is not one. */
static int bot_route(const char *url, char *id, const char **rest)
{
    const char *p = url + strlen("/api/bots/");
    size_t n = strcspn(p, "/");
    if (n == 0 || n > ID_MAX || id_check(p, n))
        return -1;
    memcpy(id, p, n);
    id[n] = '\0';
    *rest = p + n;
    return 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con)
{
    (void)version;
    struct server *s = cls;
    if (!*con) {        /* the first call: the headers only */
        struct request *rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        *con = rq;
        return MHD_YES;
    }
    struct request *rq = *con;
    if (*upload_size) {
        size_t n = *upload_size;
        if (rq->len + n > BODY_MAX)
            rq->too_big = 1;
        else {
            memcpy(rq->body + rq->len, upload, n);
            rq->len += n;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    int post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (!post && !get)
        return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method %s is not served here (GET, POST)", method);
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (s->loopback && !host_ok(s, host))
        return send_error(c, MHD_HTTP_FORBIDDEN, "Host '%s' is not this server (%s): refused, as a page from "
                          "another site reaching here through DNS would be", host ? host : "", s->hosts[0]);
    int api = strncmp(url, "/api/", 5) == 0;
    if ((post || (api && !s->loopback)) && !token_ok(s, c))
        return send_error(c, MHD_HTTP_UNAUTHORIZED, "this request needs the token stratrun serve keeps in "
                          "%s/serve.token, in the header X-Stratrun-Token", s->data_dir);
    if (post) {
        const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
        char self[96];
        snprintf(self, sizeof self, "http://%s", host ? host : "");
        if (origin && strcmp(origin, self) != 0)
            return send_error(c, MHD_HTTP_FORBIDDEN, "a request from the page of %s is refused: only this "
                              "server's page may send commands", origin);
    }
    if (!api) {
        if (post)
            return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST is for /api/bots/ID/command");
        const char *name = strcmp(url, "/") == 0 ? "index.html" : url + 1;
        for (const struct web_asset *a = stratrun_web; a->name; a++)
            if (strcmp(a->name, name) == 0)
                return send_bytes(c, MHD_HTTP_OK, mime(name), a->data, a->size, 0);
        return send_error(c, MHD_HTTP_NOT_FOUND, "no page %s", url);
    }
    jbuf b;
    jbuf_init(&b);
    if (get && strcmp(url, "/api/bots") == 0) {
        api_bots(&b, s);
        return send_json(c, MHD_HTTP_OK, &b);
    }
    if (get && strcmp(url, "/api/channels") == 0) {
        api_channels(&b, s);
        return send_json(c, MHD_HTTP_OK, &b);
    }
    char id[ID_MAX + 1];
    const char *rest;
    if (strncmp(url, "/api/bots/", 10) != 0 || bot_route(url, id, &rest) != 0)
        return send_error(c, MHD_HTTP_NOT_FOUND, "no API %s (GET /api/bots, /api/bots/ID, /api/bots/ID/stream, "
                          "/api/channels; POST /api/bots/ID/command)", url);
    if (get && *rest == '\0') {
        if (api_bot(&b, s, id) != 0)
            return send_error(c, MHD_HTTP_NOT_FOUND, "bot %s has never run in %s", id, s->data_dir);
        return send_json(c, MHD_HTTP_OK, &b);
    }
    if (get && strcmp(rest, "/stream") == 0) {
        struct botinfo bi;
        if (botdir_look(s->data_dir, id, &bi) != 0)
            return send_error(c, MHD_HTTP_NOT_FOUND, "bot %s has never run in %s", id, s->data_dir);
        struct stream *st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        st->s = s;
        char path[PATH_MAX + 128];
        bot_path(s, id, "log.txt", path, sizeof path);
        const char *from = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "from");
        logtail_open(&st->log, path, from ? strtoll(from, NULL, 10) : -1);  /* from the page's first look, or now */
        st->last_ns = clock_mono_ns();
        stream_add(st, ": stream\n\n", 10);     /* sent at once: the page knows it is connected */
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, st,
                                                                   stream_free);
        if (!r) {
            stream_free(st);
            return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
        MHD_add_response_header(r, "Cache-Control", "no-store");
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ok;
    }
    if (post && strcmp(rest, "/command") == 0) {
        if (rq->too_big)
            return send_error(c, 413, "a command is 1 to %d bytes", CMDQ_MAX_BYTES);
        char dir[PATH_MAX + 128], err[512];
        snprintf(dir, sizeof dir, "%s/bots/%s", s->data_dir, id);
        if (cmdq_send(dir, id, rq->body, rq->len, err, sizeof err) != 0)
            return send_error(c, MHD_HTTP_CONFLICT, "%s", err);
        addf(&b, "{\"queued\":true}");
        return send_json(c, MHD_HTTP_OK, &b);
    }
    return send_error(c, MHD_HTTP_NOT_FOUND, "no API %s %s", method, url);
}

static void completed(void *cls, struct MHD_Connection *c, void **con, enum MHD_RequestTerminationCode code)
{
    (void)cls, (void)c, (void)code;
    free(*con);
    *con = NULL;
}

/* ---- the token ---- */

/* The token of <data dir>/serve.token: kept across starts, made (64 hex digits from getrandom, mode 0600) when the
 * file is missing or not one. */
static int load_token(struct server *s, char *err, size_t errlen)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/serve.token", s->data_dir);
    size_t len = 0;
    char *text = read_tail(path, 128, &len);
    struct stat st;
    int ok = text && len >= 64 && strspn(text, "0123456789abcdef") >= 64 && lstat(path, &st) == 0 &&
             st.st_uid == geteuid() && (st.st_mode & 077) == 0;
    if (ok)
        memcpy(s->token, text, 64);
    free(text);
    if (!ok) {
        unsigned char r[32];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
            snprintf(err, errlen, "getrandom failed: %s", strerror(errno));
            return -1;
        }
        hex_encode(r, sizeof r, s->token);
        s->token[64] = '\0';
        char line[66];
        snprintf(line, sizeof line, "%s\n", s->token);
        if (fs_write_atomic_mode(path, line, 65, 0600, 0, err, errlen) != 0)
            return -1;
    }
    s->token[64] = '\0';
    return 0;
}

/* ---- the command ---- */

int serve_main(int argc, char **argv, int at)
{
    struct server s;
    memset(&s, 0, sizeof s);
    const char *listen_at = "127.0.0.1:8420";
    char channel[4096] = "local";   /* a copy: the argument's password is starred out in argv */
    char dir_buf[PATH_MAX], follow_buf[4096] = "";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (i == at)
            continue;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            outq_printf(STDOUT_FILENO, "%s", USAGE);
            return EXIT_DONE;
        }
        static const char *const opts[] = {"--listen", "--data-dir", "--channel", "--follow"};
        size_t k = 0;
        while (k < 4 && !cli_opt(argc, argv, &i, at, opts[k], &v))
            k++;
        if (k == 4)
            return cli_usage("serve", a[0] == '-' ? "unknown option '%s'" : "takes no argument '%s'", a);
        if (!v)
            return cli_usage("serve", "option %s needs a value", opts[k]);
        if (k == 0)
            listen_at = v;
        else if (k == 1)
            s.data_dir = v;
        else if (k == 2) {
            if (strlen(v) >= sizeof channel)
                return cli_usage("serve", "--channel: a URL of at most %zu bytes", sizeof channel - 1);
            memcpy(channel, v, strlen(v) + 1);
            redact_in_place((char *)v);     /* what ps and /proc/PID/cmdline show, for as long as serve runs */
        }
        else
            snprintf(follow_buf, sizeof follow_buf, "%s", v);
    }
    if (!s.data_dir)
        s.data_dir = options_default_data_dir(dir_buf, sizeof dir_buf);

    /* --listen ADDR:PORT: an IPv4 address and a port (0: any free one, printed) */
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    const char *colon = strrchr(listen_at, ':');
    char addr[64];
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || (size_t)(colon - listen_at) >= sizeof addr || colon[1] == '\0' || *end || port < 0 || port > 65535)
        return cli_usage("serve", "--listen '%s': ADDR:PORT, an IPv4 address and a port 0-65535 (127.0.0.1:8420)", listen_at);
    memcpy(addr, listen_at, (size_t)(colon - listen_at));
    addr[colon - listen_at] = '\0';
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
        return cli_usage("serve", "--listen '%s': '%s' is not an IPv4 address", listen_at, addr);
    sa.sin_port = htons((uint16_t)port);
    s.loopback = (ntohl(sa.sin_addr.s_addr) >> 24) == 127;

    /* --follow ID,...: channels shown besides the data dir's bots' (bots on other servers, through Redis) */
    for (char *tok = strtok(follow_buf, ","); tok; tok = strtok(NULL, ",")) {
        const char *why = id_check(tok, strlen(tok));
        if (why)
            return cli_usage("serve", "--follow: channel '%s': %s", tok, why);
        if (s.nfollow == FOLLOW_MAX)
            return cli_usage("serve", "--follow: at most %d channels", FOLLOW_MAX);
        s.follow[s.nfollow++] = tok;
    }

    char err[1024];
    if (lazylib_need(&lazy_mhd, "stratrun serve", err, sizeof err) != 0) {
        outq_printf(STDERR_FILENO, "%s\n", err);
        return EXIT_STRATEGY;   /* the options were right; the installation lacks the library */
    }
    if (fs_safe_dir(s.data_dir, "data dir", -1, err, sizeof err) != 0)
        return cli_usage("serve", "%s", err);
    if (load_token(&s, err, sizeof err) != 0)
        return cli_usage("serve", "%s", err);
    s.engine = engine_open(channel, s.data_dir, err, sizeof err);
    if (!s.engine)
        return cli_usage("serve", "--channel: %s", err);
    pthread_mutex_init(&s.engine_mu, NULL);

    /* The socket is ours, bound before the daemon starts: its port (0: a free one) is known, and the Host headers
     * taken set, before any request can arrive. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    socklen_t salen = sizeof sa;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &salen) != 0) {
        outq_printf(STDERR_FILENO, "stratrun serve: cannot listen on %s: %s\n", listen_at, strerror(errno));
        if (fd >= 0)
            close(fd);
        engine_close(s.engine, 1000);   /* it publishes nothing: its thread ends at once */
        pthread_mutex_destroy(&s.engine_mu);
        return EXIT_STRATEGY;   /* the options were right; the machine refused (a port in use, no permission) */
    }
    s.port = ntohs(sa.sin_port);
    snprintf(s.hosts[0], sizeof s.hosts[0], "%s:%u", addr, s.port);
    snprintf(s.hosts[1], sizeof s.hosts[1], "localhost:%u", s.port);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL, 0, NULL, NULL, handle, &s,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)32, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    int status = EXIT_DONE;
    if (!d) {
        outq_printf(STDERR_FILENO, "stratrun serve: cannot serve on %s: %s\n", listen_at, strerror(errno));
        close(fd);
        status = EXIT_STRATEGY;
    } else {
        outq_printf(STDOUT_FILENO, "stratrun serve: the dashboard of %s is at http://%s:%u/#token=%s\n", s.data_dir, addr,
            s.port, s.token);
        outq_printf(STDOUT_FILENO, "stratrun serve: channels through %s; the token is kept in %s/serve.token (mode 0600)%s\n",
            engine_backend_name(s.engine), s.data_dir, s.loopback ? "; commands need it" :
            "; not a loopback address: every API request needs it");
        while (!bot_signal_received()) {
            struct timespec ts = {0, 100 * 1000000};
            nanosleep(&ts, NULL);
        }
        atomic_store(&s.stopping, 1);
        MHD_stop_daemon(d);     /* closes the socket */
        outq_printf(STDOUT_FILENO, "stratrun serve: stopped\n");
    }
    engine_close(s.engine, 1000);   /* it publishes nothing: its thread ends at once */
    pthread_mutex_destroy(&s.engine_mu);
    return status;
}
