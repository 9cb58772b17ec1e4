/*
 * dial.c: the client connections of Dial (dial.h): one thread each, plain or TLS sockets (OpenSSL, certificates
 * verified), WebSocket framing by wslay (it answers pings and close frames itself), zlib for compress=.
 *
 * Everything the owner and the thread share is under c->mu: the state, the received queue, the bytes to send,
 * the closing flag. The socket, the TLS session and the wslay context are the thread's alone.
 */
#include "core/dial.h"
#include "core/lib_crypto.h"
#include "core/lib_ssl.h"
#include "core/lib_wslay.h"
#include "core/lib_zlib.h"
#include "core/thread.h"
#include "core/utf8.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


#define DEFAULT_CONNECT_MS 30000
#define DEFAULT_INTERVAL_MS 1000
#define MAX_HANDSHAKE 16384     /* the WebSocket handshake's answer */
#define CHUNK 65536             /* TCP: bytes read at a time (one message) */
#define READ_BUDGET (256u << 10)    /* bytes read per pass before the thread looks at closing and the writes */
#define WS_HELD (64u << 10)         /* wslay's queue: taken from the owner's list only while it holds less */
#define TOO_BIG_GRACE_MS 1000       /* after close code 1009: the peer's close reply awaited at most this */

struct item {
    struct item *next;
    size_t len;
    long epoch;                 /* received: the drops before it (dial_pop says a drop before the next epoch) */
    char data[];
};

struct dial_conn {
    struct dial_spec s;
    pthread_t th;
    int wake_fd;                /* owner -> thread: data to send, closing */
    int event_fd;               /* thread -> owner: something changed */
    pthread_mutex_t mu;
    /* under mu */
    enum dial_state state;
    char err[DIAL_ERRLEN];
    struct item *in_head, *in_tail;
    size_t in_n, in_bytes;
    long dropped;
    struct item *out_head, *out_tail;
    size_t out_bytes;
    long drops;                 /* connections that ended (reconnect: each drop) */
    int closing;
    int resolving;              /* in getaddrinfo, which cannot be cut short */
    int detached;               /* the owner is gone: the thread frees c */
    /* the thread's */
    int fd;
    SSL *ssl;
    char *pre;                  /* bytes read past the handshake's answer, for wslay first */
    size_t pre_len, pre_off;
    char why[DIAL_ERRLEN];      /* why the connection ended */
    int want_out;               /* TLS: a read waits for the socket to be writable */
    size_t budget;              /* bytes this pass may still read (READ_BUDGET) */
    int too_big;                /* a message passed the cap: close code 1009 sent, nothing more delivered */
};

/* ---- the address ---- */

static int set_err(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int set_err(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_long(const char *v, size_t n, long lo, long hi, long *out)
{
    if (n == 0 || n > 12)
        return -1;
    long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)v[i]))
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    if (x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

/* One key=value of the options. */
static int parse_option(struct dial_spec *s, const char *k, size_t kn, const char *v, size_t vn, char *err, size_t n)
{
#define IS(str) (kn == sizeof str - 1 && memcmp(k, str, kn) == 0)
#define VAL(str) (vn == sizeof str - 1 && memcmp(v, str, vn) == 0)
    if (IS("reconnect")) {
        if (VAL("true") || VAL("1"))
            s->reconnect = 1;
        else if (VAL("false") || VAL("0"))
            s->reconnect = 0;
        else
            return set_err(err, n, "reconnect=%.*s: true or false", (int)vn, v);
    } else if (IS("interval")) {
        if (parse_long(v, vn, 10, 3600000, &s->interval_ms) != 0)
            return set_err(err, n, "interval=%.*s: ms between reconnects, 10 to 3600000", (int)vn, v);
    } else if (IS("retry")) {
        if (parse_long(v, vn, 0, 1000000000, &s->retry) != 0)
            return set_err(err, n, "retry=%.*s: attempts to reconnect, 0 (no end) or more", (int)vn, v);
    } else if (IS("compress")) {
        if (VAL("gzip"))
            s->compress = DIAL_Z_GZIP;
        else if (VAL("gzip_raw") || VAL("deflate") || VAL("flate"))
            s->compress = DIAL_Z_RAW;
        else if (VAL("zlib"))
            s->compress = DIAL_Z_ZLIB;
        else
            return set_err(err, n, "compress=%.*s: gzip, gzip_raw, deflate, flate or zlib", (int)vn, v);
    } else if (IS("mode")) {
        if (VAL("recv"))
            s->inflate_recv = 1, s->deflate_send = 0;
        else if (VAL("send"))
            s->inflate_recv = 0, s->deflate_send = 1;
        else if (VAL("dual"))
            s->inflate_recv = 1, s->deflate_send = 1;
        else
            return set_err(err, n, "mode=%.*s: recv, send or dual", (int)vn, v);
    } else {
        return set_err(err, n, "unknown option '%.*s' (allowed: reconnect, interval, retry, payload, compress, "
                       "mode)", (int)kn, k);
    }
    return 0;
#undef IS
#undef VAL
}

/* "key=value&key=value..."; payload= takes the rest of the text, '&' included (a subscription is JSON). */
static int parse_options(struct dial_spec *s, const char *p, const char *end, char *err, size_t n)
{
    for (int k = 1; p < end; k++) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (!eq)
            return set_err(err, n, "option %d after '|' is not key=value (its text is not shown: it may hold a "
                           "secret)", k);
        if (eq - p == 7 && memcmp(p, "payload", 7) == 0) {
            size_t len = (size_t)(end - eq - 1);
            if (!(s->payload = malloc(len + 1)))
                return set_err(err, n, "out of memory");
            memcpy(s->payload, eq + 1, len);
            s->payload[len] = '\0';
            s->payload_len = len;
            return 0;
        }
        if (parse_option(s, p, (size_t)(eq - p), eq + 1, (size_t)(e - eq - 1), err, n) != 0)
            return -1;
        p = amp ? amp + 1 : end;
    }
    return 0;
}

int dial_parse(const char *address, size_t len, struct dial_spec *s, char *err, size_t n)
{
    memset(s, 0, sizeof *s);
    s->connect_timeout_ms = DEFAULT_CONNECT_MS;
    s->interval_ms = DEFAULT_INTERVAL_MS;
    s->inflate_recv = 1;
    const char *end = address + len;
    const char *bar = memchr(address, '|', len);
    const char *aend = bar ? bar : end;
    s->addr_len = (size_t)(aend - address);
    int alen = (int)(s->addr_len > 200 ? 200 : s->addr_len);
    if (memchr(address, '\0', len))
        return set_err(err, n, "the address must not contain NUL");
    const char *sep = NULL;
    for (const char *p = address; p + 2 < aend; p++)
        if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
            sep = p;
            break;
        }
    static const struct { const char *name; enum dial_scheme scheme; const char *port; } schemes[] = {
        {"tcp", DIAL_TCP, NULL}, {"tls", DIAL_TLS, NULL}, {"ws", DIAL_WS, "80"}, {"wss", DIAL_WSS, "443"},
    };
    int k = -1;
    for (int i = 0; sep && i < 4; i++)
        if ((size_t)(sep - address) == strlen(schemes[i].name) &&
            strncasecmp(address, schemes[i].name, (size_t)(sep - address)) == 0)
            k = i;
    if (k < 0)
        return set_err(err, n, "unknown scheme in '%.*s' (stratrun dials tcp://, tls://, ws:// and wss://)", alen,
                       address);
    s->scheme = schemes[k].scheme;
    const char *h = sep + 3;
    const char *slash = memchr(h, '/', (size_t)(aend - h));
    const char *hend = slash ? slash : aend;
    const char *colon;
    if (h < hend && *h == '[') {
        const char *rb = memchr(h, ']', (size_t)(hend - h));
        if (!rb || (size_t)(rb - h - 1) >= sizeof s->host)
            return set_err(err, n, "no host in '%.*s'", alen, address);
        memcpy(s->host, h + 1, (size_t)(rb - h - 1));
        colon = rb + 1 < hend && rb[1] == ':' ? rb + 1 : NULL;
        if (rb + 1 < hend && !colon)
            return set_err(err, n, "'%.*s' is not SCHEME://HOST:PORT", alen, address);
    } else {
        colon = memrchr(h, ':', (size_t)(hend - h));
        const char *he = colon ? colon : hend;
        if (he == h || (size_t)(he - h) >= sizeof s->host)
            return set_err(err, n, "no host in '%.*s'", alen, address);
        memcpy(s->host, h, (size_t)(he - h));
    }
    for (const char *p = s->host; *p; p++)
        if ((unsigned char)*p <= ' ' || strchr("@/?#", *p))
            return set_err(err, n, "invalid host '%s' in '%.*s'", s->host, alen, address);
    long port;
    if (colon) {
        if (parse_long(colon + 1, (size_t)(hend - colon - 1), 1, 65535, &port) != 0)
            return set_err(err, n, "invalid port in '%.*s' (1 to 65535)", alen, address);
        snprintf(s->port, sizeof s->port, "%ld", port);
    } else if (schemes[k].port) {
        snprintf(s->port, sizeof s->port, "%s", schemes[k].port);
    } else {
        return set_err(err, n, "no port in '%.*s' (%s://HOST:PORT)", alen, address, schemes[k].name);
    }
    if (s->scheme == DIAL_WS || s->scheme == DIAL_WSS) {
        size_t plen = slash ? (size_t)(aend - slash) : 1;
        for (const char *p = slash; p && p < aend; p++)
            if ((unsigned char)*p <= ' ' || *p == 0x7f)
                return set_err(err, n, "the path of '%.*s' has a space or a control character", alen, address);
        if (!(s->path = malloc(plen + 1)))
            return set_err(err, n, "out of memory");
        memcpy(s->path, slash ? slash : "/", plen);
        s->path[plen] = '\0';
    } else if (slash && slash + 1 < aend) {
        return set_err(err, n, "'%.*s': a %s address has no path", alen, address, schemes[k].name);
    }
    if (bar && parse_options(s, bar + 1, end, err, n) != 0)
        return -1;
    if (s->compress != DIAL_Z_NONE && (s->scheme == DIAL_TCP || s->scheme == DIAL_TLS))
        return set_err(err, n, "compress= is for ws:// and wss:// (a TCP stream has no messages to inflate)");
    return 0;
}

void dial_spec_free(struct dial_spec *s)
{
    free(s->path);
    free(s->payload);
    s->path = s->payload = NULL;
}

/* ---- the shared part ---- */

static void signal_owner(struct dial_conn *c)
{
    uint64_t one = 1;
    if (write(c->event_fd, &one, sizeof one) < 0) { /* the counter is non-zero already */ }
    if (c->s.notify)
        c->s.notify();
}

static void set_state(struct dial_conn *c, enum dial_state st, const char *why)
{
    pthread_mutex_lock(&c->mu);
    c->state = st;
    if (why)
        snprintf(c->err, sizeof c->err, "%s", why);
    pthread_mutex_unlock(&c->mu);
    signal_owner(c);
}

static int closing(struct dial_conn *c)
{
    pthread_mutex_lock(&c->mu);
    int v = c->closing;
    pthread_mutex_unlock(&c->mu);
    return v;
}

/* A received message into the queue; the oldest go when it is full. */
static void deliver(struct dial_conn *c, const void *data, size_t len)
{
    struct item *it = malloc(sizeof *it + len + 1);
    if (!it)
        return;
    it->next = NULL;
    it->len = len;
    memcpy(it->data, data, len);
    it->data[len] = '\0';
    pthread_mutex_lock(&c->mu);
    it->epoch = c->drops;
    while (c->in_head && (c->in_n >= DIAL_MAX_QUEUE || c->in_bytes + len > DIAL_MAX_QUEUE_BYTES)) {
        struct item *old = c->in_head;
        c->in_head = old->next;
        if (!c->in_head)
            c->in_tail = NULL;
        c->in_n--;
        c->in_bytes -= old->len;
        c->dropped++;
        free(old);
    }
    if (c->in_tail)
        c->in_tail->next = it;
    else
        c->in_head = it;
    c->in_tail = it;
    c->in_n++;
    c->in_bytes += len;
    pthread_mutex_unlock(&c->mu);
    signal_owner(c);
}

static void free_list(struct item *it)
{
    while (it) {
        struct item *next = it->next;
        free(it);
        it = next;
    }
}

/* ---- sockets and TLS ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events, the deadline passes (0) or the owner closes (-1). */
static int wait_fd(struct dial_conn *c, int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p[2] = {{fd, events, 0}, {c->wake_fd, POLLIN, 0}};
        int r = poll(p, 2, left > 1000 ? 1000 : (int)left);
        if (r < 0 && errno != EINTR)
            return 0;
        if (closing(c))
            return -1;
        if (p[1].revents & POLLIN) {
            uint64_t v;
            if (read(c->wake_fd, &v, sizeof v) < 0) { /* drained already */ }
        }
        if (r > 0 && p[0].revents)
            return 1;
    }
}

static SSL_CTX *tls_ctx;
static char tls_ctx_err[200];

static void tls_init(void)
{
    tls_ctx = SSL_CTX_new(TLS_client_method());
    if (!tls_ctx) {
        snprintf(tls_ctx_err, sizeof tls_ctx_err, "cannot make a TLS context");
        return;
    }
    SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER, NULL);
    /* the system's store, or $SSL_CERT_FILE / $SSL_CERT_DIR when set (OpenSSL reads them here) */
    if (SSL_CTX_set_default_verify_paths(tls_ctx) != 1)
        snprintf(tls_ctx_err, sizeof tls_ctx_err, "cannot load the trusted certificates");
    SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

static void tls_error(struct dial_conn *c, const char *what)
{
    long v = SSL_get_verify_result(c->ssl);
    unsigned long e = ERR_get_error();
    char buf[160];
    if (v != X509_V_OK)
        snprintf(buf, sizeof buf, "certificate not trusted: %s", X509_verify_cert_error_string(v));
    else if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    else
        snprintf(buf, sizeof buf, "the connection closed");
    ERR_clear_error();
    snprintf(c->why, sizeof c->why, "%s: %s", what, buf);
}

static int tls_connect(struct dial_conn *c, int64_t deadline)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, tls_init);
    if (tls_ctx_err[0]) {
        snprintf(c->why, sizeof c->why, "TLS: %s", tls_ctx_err);
        return -1;
    }
    if (!(c->ssl = SSL_new(tls_ctx)) || SSL_set_fd(c->ssl, c->fd) != 1) {
        snprintf(c->why, sizeof c->why, "TLS: out of memory");
        return -1;
    }
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, c->s.host, ip) == 1 || inet_pton(AF_INET6, c->s.host, ip) == 1;
    X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
    if (is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(param, c->s.host);
    } else {
        SSL_set_tlsext_host_name(c->ssl, c->s.host);
        SSL_set1_host(c->ssl, c->s.host);
    }
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return 0;
        int e = SSL_get_error(c->ssl, r);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (!ev) {
            tls_error(c, "TLS handshake failed");
            return -1;
        }
        int w = wait_fd(c, c->fd, ev, deadline);
        if (w <= 0) {
            snprintf(c->why, sizeof c->why, w < 0 ? "closed" : "timed out in the TLS handshake");
            return -1;
        }
    }
}

/* Reads or writes at most n bytes without blocking: >0 bytes, 0 at the end of the stream, -1 would block, -2 an
 * error (c->why says it). */
static ssize_t io_read(struct dial_conn *c, void *buf, size_t n)
{
    if (!c->ssl) {
        ssize_t r = recv(c->fd, buf, n, 0);
        if (r >= 0)
            return r;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return -1;
        snprintf(c->why, sizeof c->why, "read failed: %s", strerror(errno));
        return -2;
    }
    ERR_clear_error();
    int r = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    if (r > 0)
        return r;
    int e = SSL_get_error(c->ssl, r);
    c->want_out = e == SSL_ERROR_WANT_WRITE;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return -1;
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
        return 0;
    tls_error(c, "TLS read failed");
    return -2;
}

static ssize_t io_write(struct dial_conn *c, const void *buf, size_t n)
{
    if (!c->ssl) {
        ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
        if (r >= 0)
            return r;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return -1;
        snprintf(c->why, sizeof c->why, "write failed: %s", strerror(errno));
        return -2;
    }
    ERR_clear_error();
    int r = SSL_write(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    if (r > 0)
        return r;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return -1;
    tls_error(c, "TLS write failed");
    return -2;
}

/* Writes all of buf before the deadline (the handshake). */
static int write_all(struct dial_conn *c, const char *buf, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t r = io_write(c, buf, n);
        if (r == -2)
            return -1;
        if (r > 0) {
            buf += r;
            n -= (size_t)r;
            continue;
        }
        int w = wait_fd(c, c->fd, POLLOUT | POLLIN, deadline);
        if (w <= 0) {
            snprintf(c->why, sizeof c->why, w < 0 ? "closed" : "timed out sending the handshake");
            return -1;
        }
    }
    return 0;
}

static void disconnect(struct dial_conn *c)
{
    if (c->ssl) {
        SSL_shutdown(c->ssl);       /* one try, without waiting for the peer's */
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->pre);
    c->pre = NULL;
    c->pre_len = c->pre_off = 0;
    c->want_out = 0;
}

static int tcp_connect(struct dial_conn *c, int64_t deadline)
{
    pthread_mutex_lock(&c->mu);
    int stop = c->closing;
    c->resolving = !stop;
    pthread_mutex_unlock(&c->mu);
    if (stop)
        return -1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int g = getaddrinfo(c->s.host, c->s.port, &hints, &res);
    pthread_mutex_lock(&c->mu);
    c->resolving = 0;
    stop = c->closing;
    pthread_mutex_unlock(&c->mu);
    if (stop || g != 0) {
        if (g != 0)
            snprintf(c->why, sizeof c->why, "cannot resolve '%.100s': %.100s", c->s.host, gai_strerror(g));
        if (res)
            freeaddrinfo(res);
        return -1;
    }
    int err = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            err = errno;
            close(fd);
            continue;
        }
        int w = wait_fd(c, fd, POLLOUT, deadline);
        socklen_t sl = sizeof err;
        if (w > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == 0 && err == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            /* a half-open connection (the peer gone without a FIN) is found within about 2 minutes */
            int idle = 60, intvl = 15, cnt = 4;
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
            c->fd = fd;
            freeaddrinfo(res);
            return 0;
        }
        close(fd);
        if (w <= 0) {
            err = w < 0 ? ECANCELED : ETIMEDOUT;
            break;
        }
    }
    freeaddrinfo(res);
    if (err == ETIMEDOUT)
        snprintf(c->why, sizeof c->why, "cannot connect to %.100s:%s: timed out after %ld ms", c->s.host, c->s.port,
                 c->s.connect_timeout_ms);
    else
        snprintf(c->why, sizeof c->why, "cannot connect to %.100s:%s: %.100s", c->s.host, c->s.port, strerror(err));
    return -1;
}

/* The value of header name in the handshake's answer (its lines after the status line), or NULL. */
static const char *header(const char *head, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            const char *e = strstr(v, "\r\n");
            while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            *vlen = (size_t)(e - v);
            return v;
        }
    }
    return NULL;
}

static int ws_handshake(struct dial_conn *c, int64_t deadline)
{
    unsigned char raw[16];
    char key[32], want[64];
    RAND_bytes(raw, sizeof raw);
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof raw);
    char hostport[300];
    int ipv6 = strchr(c->s.host, ':') != NULL;
    int default_port = strcmp(c->s.port, c->s.scheme == DIAL_WSS ? "443" : "80") == 0;
    snprintf(hostport, sizeof hostport, "%s%s%s%s%s", ipv6 ? "[" : "", c->s.host, ipv6 ? "]" : "",
             default_port ? "" : ":", default_port ? "" : c->s.port);
    size_t rlen = strlen(c->s.path) + strlen(hostport) + 200;
    char *req = malloc(rlen);
    if (!req) {
        snprintf(c->why, sizeof c->why, "out of memory");
        return -1;
    }
    int n = snprintf(req, rlen, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nUser-Agent: stratrun\r\n\r\n",
                     c->s.path, hostport, key);
    int w = write_all(c, req, (size_t)n, deadline);
    free(req);
    if (w != 0)
        return -1;
    /* the expected Sec-WebSocket-Accept: base64(SHA-1(key + the RFC 6455 GUID)) */
    char cat[80];
    unsigned char sha[20];
    snprintf(cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    EVP_Digest(cat, strlen(cat), sha, NULL, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)want, sha, sizeof sha);
    char *buf = malloc(MAX_HANDSHAKE + 1);
    if (!buf) {
        snprintf(c->why, sizeof c->why, "out of memory");
        return -1;
    }
    size_t got = 0;
    char *end = NULL;
    while (!end) {
        if (got == MAX_HANDSHAKE) {
            snprintf(c->why, sizeof c->why, "the handshake's answer is longer than %d bytes", MAX_HANDSHAKE);
            free(buf);
            return -1;
        }
        ssize_t r = io_read(c, buf + got, MAX_HANDSHAKE - got);
        if (r == 0 || r == -2) {
            if (r == 0)
                snprintf(c->why, sizeof c->why, "the server closed the connection during the WebSocket handshake");
            free(buf);
            return -1;
        }
        if (r > 0) {
            got += (size_t)r;
            buf[got] = '\0';
            end = strstr(buf, "\r\n\r\n");
            continue;
        }
        int wr = wait_fd(c, c->fd, c->want_out ? POLLOUT : POLLIN, deadline);
        if (wr <= 0) {
            snprintf(c->why, sizeof c->why, wr < 0 ? "closed" : "timed out in the WebSocket handshake");
            free(buf);
            return -1;
        }
    }
    end[2] = '\0';      /* the head, up to its last CRLF */
    size_t vlen;
    const char *acc = header(buf, "Sec-WebSocket-Accept", &vlen);
    int status = strncmp(buf, "HTTP/1.1 ", 9) == 0 ? atoi(buf + 9) : 0;
    if (status != 101) {
        const char *eol = strstr(buf, "\r\n");
        int sl = (int)(eol && eol - buf < 120 ? eol - buf : 120);
        for (int i = 0; i < sl; i++)       /* a bare LF or an escape would forge a log line */
            if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
                buf[i] = '?';
        snprintf(c->why, sizeof c->why, "the server refused the WebSocket handshake: %.*s", sl, buf);
        free(buf);
        return -1;
    }
    if (!acc || vlen != strlen(want) || memcmp(acc, want, vlen) != 0) {
        snprintf(c->why, sizeof c->why, "the server's Sec-WebSocket-Accept is wrong or missing");
        free(buf);
        return -1;
    }
    size_t rest = got - (size_t)(end + 4 - buf);
    if (rest) {
        if (!(c->pre = malloc(rest))) {
            free(buf);
            snprintf(c->why, sizeof c->why, "out of memory");
            return -1;
        }
        memcpy(c->pre, end + 4, rest);
        c->pre_len = rest;
    }
    free(buf);
    return 0;
}

/* One attempt: connect, TLS, handshake, within the connect timeout. */
static int establish(struct dial_conn *c)
{
    int64_t deadline = mono_ms() + c->s.connect_timeout_ms;
    c->why[0] = '\0';
    if (tcp_connect(c, deadline) != 0)
        return -1;
    if ((c->s.scheme == DIAL_TLS || c->s.scheme == DIAL_WSS) && tls_connect(c, deadline) != 0)
        return -1;
    if ((c->s.scheme == DIAL_WS || c->s.scheme == DIAL_WSS) && ws_handshake(c, deadline) != 0)
        return -1;
    return 0;
}

/* ---- compression ---- */

static int zbits(enum dial_compress z)
{
    return z == DIAL_Z_GZIP ? 15 + 16 : z == DIAL_Z_RAW ? -15 : 15;
}

/* Inflates (or deflates) in into a malloc'd buffer of at most DIAL_MAX_MSG bytes. Returns 0, -1 on malformed
 * data, -2 past the cap. */
static int zconvert(enum dial_compress z, int inflating, const void *in, size_t n, unsigned char **out, size_t *olen)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    int rc = inflating ? inflateInit2(&zs, zbits(z))
                       : deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, zbits(z), 8, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK)
        return -1;
    size_t cap = n * 2 + 1024 < DIAL_MAX_MSG ? n * 2 + 1024 : DIAL_MAX_MSG;
    unsigned char *buf = malloc(cap);
    zs.next_in = (unsigned char *)in;
    zs.avail_in = (uInt)n;
    size_t used = 0;
    int ret = -1;
    while (buf) {
        zs.next_out = buf + used;
        zs.avail_out = (uInt)(cap - used);
        rc = inflating ? inflate(&zs, Z_NO_FLUSH) : deflate(&zs, Z_FINISH);
        used = cap - zs.avail_out;
        if (rc == Z_STREAM_END) {
            ret = 0;
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            break;
        if (zs.avail_out > 0) {     /* no progress with room to spare: the input is cut short */
            if (rc == Z_BUF_ERROR || zs.avail_in == 0)
                break;
            continue;
        }
        if (cap == DIAL_MAX_MSG) {
            ret = -2;
            break;
        }
        cap = cap * 2 < DIAL_MAX_MSG ? cap * 2 : DIAL_MAX_MSG;
        unsigned char *nb = realloc(buf, cap);
        if (!nb)
            break;
        buf = nb;
    }
    if (inflating)
        inflateEnd(&zs);
    else
        deflateEnd(&zs);
    if (ret != 0) {
        free(buf);
        return buf ? ret : -1;
    }
    *out = buf;
    *olen = used;
    return 0;
}

/* ---- the WebSocket session ---- */

static ssize_t ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    (void)flags;
    struct dial_conn *c = ud;
    if (c->pre_off < c->pre_len) {
        size_t n = c->pre_len - c->pre_off < len ? c->pre_len - c->pre_off : len;
        memcpy(buf, c->pre + c->pre_off, n);
        c->pre_off += n;
        return (ssize_t)n;
    }
    if (c->budget == 0) {       /* a flooding peer: this pass is over (what is left is read on the next) */
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    ssize_t r = io_read(c, buf, len < c->budget ? len : c->budget);
    if (r > 0) {
        c->budget -= (size_t)r;
        return r;
    }
    if (r == 0)
        snprintf(c->why, sizeof c->why, "the server closed the connection");
    wslay_event_set_error(ctx, r == -1 ? WSLAY_ERR_WOULDBLOCK : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static ssize_t ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *ud)
{
    (void)flags;
    struct dial_conn *c = ud;
    ssize_t r = io_write(c, data, len);
    if (r > 0)
        return r;
    wslay_event_set_error(ctx, r == -1 ? WSLAY_ERR_WOULDBLOCK : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static int ws_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    (void)ctx;
    (void)ud;
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static void ws_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *ud)
{
    struct dial_conn *c = ud;
    if (c->too_big)
        return;     /* the connection is being closed: what came after the oversized message is not delivered */
    if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        int rlen = arg->msg_length > 2 ? (int)(arg->msg_length - 2 > 100 ? 100 : arg->msg_length - 2) : 0;
        snprintf(c->why, sizeof c->why, "the server closed the WebSocket (code %u%s%.*s)", arg->status_code,
                 rlen ? ": " : "", rlen, rlen ? (const char *)arg->msg + 2 : "");
        return;
    }
    if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME)
        return;     /* pings are answered by wslay */
    if (c->s.compress != DIAL_Z_NONE && c->s.inflate_recv && arg->opcode == WSLAY_BINARY_FRAME) {
        unsigned char *out;
        size_t olen;
        int r = zconvert(c->s.compress, 1, arg->msg, arg->msg_length, &out, &olen);
        if (r == 0) {
            deliver(c, out, olen);
            free(out);
            return;
        }
        if (r == -2) {
            snprintf(c->why, sizeof c->why, "a message inflated past %u bytes (the cap of a message)",
                     (unsigned)DIAL_MAX_MSG);
            wslay_event_queue_close(ctx, WSLAY_CODE_MESSAGE_TOO_BIG, NULL, 0);
            wslay_event_shutdown_read(ctx);
            c->too_big = 1;
            return;
        }
        /* not compressed after all: as it came */
    }
    deliver(c, arg->msg, arg->msg_length);
}

/* A text frame must hold UTF-8 (a peer closes the connection on anything else): other bytes go as binary. */
static int is_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = p[i] < 0x80 ? 1 : utf8_len(p + i, n - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

/* The owner's oldest write, taken from the shared list, or NULL. Its bytes still count toward
 * DIAL_MAX_OUT_BYTES until sent() says they went (or the session ends). */
static struct item *take_one(struct dial_conn *c)
{
    pthread_mutex_lock(&c->mu);
    struct item *it = c->out_head;
    if (it) {
        c->out_head = it->next;
        if (!c->out_head)
            c->out_tail = NULL;
        it->next = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    return it;
}

static void sent(struct dial_conn *c, size_t n)
{
    pthread_mutex_lock(&c->mu);
    c->out_bytes = c->out_bytes > n ? c->out_bytes - n : 0;
    pthread_mutex_unlock(&c->mu);
}

/* Every write not yet taken, dropped (a broken connection's). */
static void drop_out(struct dial_conn *c)
{
    pthread_mutex_lock(&c->mu);
    struct item *it = c->out_head;
    c->out_head = c->out_tail = NULL;
    c->out_bytes = 0;
    pthread_mutex_unlock(&c->mu);
    free_list(it);
}

static int out_waiting(struct dial_conn *c)
{
    pthread_mutex_lock(&c->mu);
    int v = c->out_head != NULL;
    pthread_mutex_unlock(&c->mu);
    return v;
}

/* Drains the wake eventfd; 1 when the owner is closing. */
static int woken(struct dial_conn *c)
{
    uint64_t v;
    if (read(c->wake_fd, &v, sizeof v) < 0) { /* nothing */ }
    return closing(c);
}

/* The owner's writes into wslay's queue, while it holds less than WS_HELD: what waits to be sent stays bounded
 * (the owner's list by DIAL_MAX_OUT_BYTES, wslay's by WS_HELD and one message). Returns -1 out of memory. */
static int ws_take(struct dial_conn *c, wslay_event_context_ptr ctx)
{
    struct item *it;
    while (wslay_event_get_queued_msg_length(ctx) < WS_HELD && (it = take_one(c))) {
        int deflated = c->s.compress != DIAL_Z_NONE && c->s.deflate_send;
        unsigned char *z = NULL;
        size_t zlen = 0;
        if (deflated && zconvert(c->s.compress, 0, it->data, it->len, &z, &zlen) != 0)
            deflated = 0;
        int text = !deflated && is_utf8(it->data, it->len);
        struct wslay_event_msg m = {text ? WSLAY_TEXT_FRAME : WSLAY_BINARY_FRAME,
                                    deflated ? z : (const uint8_t *)it->data, deflated ? zlen : it->len};
        int r = wslay_event_queue_msg(ctx, &m);     /* copies the bytes */
        sent(c, it->len);
        free(z);
        free(it);
        if (r == WSLAY_ERR_NOMEM) {
            snprintf(c->why, sizeof c->why, "out of memory");
            return -1;
        }
        /* WSLAY_ERR_NO_MORE_MSG: a close is queued, nothing more goes */
    }
    return 0;
}

static void ws_session(struct dial_conn *c)
{
    struct wslay_event_callbacks cb = {ws_recv, ws_send, ws_genmask, NULL, NULL, NULL, ws_msg};
    wslay_event_context_ptr ctx;
    if (wslay_event_context_client_init(&ctx, &cb, c) != 0) {
        snprintf(c->why, sizeof c->why, "out of memory");
        return;
    }
    wslay_event_config_set_max_recv_msg_length(ctx, DIAL_MAX_MSG);
    c->too_big = 0;
    c->budget = READ_BUDGET;
    int64_t give_up = 0;        /* after code 1009: when the peer's close reply is no longer awaited */
    for (;;) {
        if (ws_take(c, ctx) != 0)
            break;
        /* frames that came with the handshake's answer: no poll would say they are there */
        if (c->pre_off < c->pre_len && wslay_event_recv(ctx) != 0) {
            if (!c->why[0])
                snprintf(c->why, sizeof c->why, "the server sent a malformed frame");
            break;
        }
        if (wslay_event_want_write(ctx) && wslay_event_send(ctx) != 0) {
            if (!c->why[0])
                snprintf(c->why, sizeof c->why, "the connection broke while sending");
            break;
        }
        if (!wslay_event_want_read(ctx) && !wslay_event_want_write(ctx))
            break;      /* the close handshake is over */
        if (c->too_big && !give_up)
            give_up = mono_ms() + TOO_BIG_GRACE_MS;
        int timeout = -1;
        if (give_up) {
            int64_t left = give_up - mono_ms();
            if (left <= 0)
                break;
            timeout = (int)left;
        }
        /* more to read than the pass's budget allowed (maybe already in wslay's or OpenSSL's buffers), or writes
         * waiting that wslay's queue now has room for: look again without sleeping */
        int more_in = c->budget == 0;
        if (more_in || (wslay_event_get_queued_msg_length(ctx) < WS_HELD && out_waiting(c)))
            timeout = 0;
        c->budget = READ_BUDGET;
        short ev = POLLIN;
        if (wslay_event_want_write(ctx) || c->want_out)
            ev |= POLLOUT;
        struct pollfd p[2] = {{c->fd, ev, 0}, {c->wake_fd, POLLIN, 0}};
        if (poll(p, 2, timeout) < 0 && errno != EINTR)
            break;
        if ((p[1].revents & POLLIN) && woken(c)) {
            wslay_event_queue_close(ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
            wslay_event_send(ctx);      /* one try: the owner does not wait for the peer */
            snprintf(c->why, sizeof c->why, "closed");
            break;
        }
        if ((more_in || (p[0].revents & (POLLIN | POLLHUP | POLLERR))) && wslay_event_recv(ctx) != 0) {
            if (!c->why[0])
                snprintf(c->why, sizeof c->why, "the server sent a malformed or oversized frame (a message "
                         "is at most %u bytes)", (unsigned)DIAL_MAX_MSG);
            break;
        }
    }
    wslay_event_context_free(ctx);
}

static void tcp_session(struct dial_conn *c)
{
    char *buf = malloc(CHUNK);
    struct item *out = NULL;
    size_t off = 0;
    int more_in = 0;
    while (buf) {
        for (;;) {
            if (!out)
                out = take_one(c), off = 0;     /* a write that came meanwhile (its wake-up already read) */
            if (!out)
                break;
            ssize_t r = out->len > off ? io_write(c, out->data + off, out->len - off) : 0;
            if (r == -2)
                goto done;
            if (r == -1)
                break;
            off += (size_t)r;
            if (off == out->len) {
                sent(c, out->len);
                free(out);
                out = NULL;
            }
        }
        struct pollfd p[2] = {{c->fd, (short)(POLLIN | (out || c->want_out ? POLLOUT : 0)), 0},
                              {c->wake_fd, POLLIN, 0}};
        if (poll(p, 2, more_in ? 0 : -1) < 0 && errno != EINTR)
            break;
        if ((p[1].revents & POLLIN) && woken(c)) {
            snprintf(c->why, sizeof c->why, "closed");
            break;
        }
        if (more_in || (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            /* at most READ_BUDGET a pass: a flooding peer must not keep the thread from closing */
            size_t budget = READ_BUDGET;
            more_in = 0;
            for (;;) {
                if (budget == 0) {
                    more_in = 1;    /* maybe more in OpenSSL's buffer, which no poll sees */
                    break;
                }
                ssize_t r = io_read(c, buf, CHUNK < budget ? CHUNK : budget);
                if (r > 0) {
                    deliver(c, buf, (size_t)r);
                    budget -= (size_t)r;
                    continue;
                }
                if (r == 0)
                    snprintf(c->why, sizeof c->why, "the server closed the connection");
                if (r != -1)
                    goto done;
                break;
            }
        }
    }
done:
    if (out)
        sent(c, out->len);
    free(out);
    free(buf);
}

/* ---- the thread ---- */

static void conn_free(struct dial_conn *c)
{
    disconnect(c);
    free_list(c->in_head);
    free_list(c->out_head);
    dial_spec_free(&c->s);
    close(c->wake_fd);
    close(c->event_fd);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Waits ms or until the owner closes; 1 when it closes. */
static int pause_ms(struct dial_conn *c, long ms)
{
    return wait_fd(c, -1, 0, mono_ms() + ms) < 0;
}

static void *run(void *arg)
{
    struct dial_conn *c = arg;
    long attempts = 0;
    for (int first = 1;; first = 0) {
        if (establish(c) != 0) {
            disconnect(c);
            if (closing(c))
                break;
            if (first) {
                set_state(c, DIAL_FAILED, c->why);
                break;
            }
            if (c->s.retry && ++attempts >= c->s.retry) {
                char why[DIAL_ERRLEN];
                snprintf(why, sizeof why, "gave up after %ld attempts to reconnect: %.200s", attempts, c->why);
                set_state(c, DIAL_CLOSED, why);
                break;
            }
            set_state(c, DIAL_RECONNECTING, c->why);
            if (pause_ms(c, c->s.interval_ms))
                break;
            continue;
        }
        attempts = 0;
        if (c->s.payload) {
            size_t n = c->s.payload_len;
            struct item *it = malloc(sizeof *it + n + 1);
            if (it) {
                it->len = n;
                memcpy(it->data, c->s.payload, n);
                pthread_mutex_lock(&c->mu);     /* first in line, before what the owner wrote meanwhile */
                it->next = c->out_head;
                c->out_head = it;
                if (!c->out_tail)
                    c->out_tail = it;
                c->out_bytes += n;
                pthread_mutex_unlock(&c->mu);
            }
        }
        set_state(c, DIAL_OPEN, "");
        if (c->s.scheme == DIAL_WS || c->s.scheme == DIAL_WSS)
            ws_session(c);
        else
            tcp_session(c);
        disconnect(c);
        if (closing(c))
            break;
        if (!c->s.reconnect) {
            set_state(c, DIAL_CLOSED, c->why);
            break;
        }
        pthread_mutex_lock(&c->mu);
        c->drops++;
        pthread_mutex_unlock(&c->mu);
        set_state(c, DIAL_RECONNECTING, c->why);
        /* what the owner wrote for the broken connection is not sent on the next one */
        drop_out(c);
        if (pause_ms(c, c->s.interval_ms))
            break;
    }
    pthread_mutex_lock(&c->mu);
    int detached = c->detached;
    pthread_mutex_unlock(&c->mu);
    if (detached)
        conn_free(c);
    return NULL;
}

int dial_load(const char *who, char *err, size_t errlen)
{
    struct lazylib *const libs[] = {&lazy_crypto, &lazy_ssl, &lazy_wslay, &lazy_zlib};
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++)
        if (lazylib_need(libs[i], who, err, errlen) != 0)
            return -1;
    return 0;
}

struct dial_conn *dial_start(struct dial_spec *s)
{
    struct dial_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->s = *s;
    memset(s, 0, sizeof *s);
    c->fd = -1;
    c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    c->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&c->mu, NULL);
    c->state = DIAL_CONNECTING;
    if (c->wake_fd < 0 || c->event_fd < 0 || thread_start(&c->th, run, c) != 0) {
        if (c->wake_fd >= 0)
            close(c->wake_fd);
        if (c->event_fd >= 0)
            close(c->event_fd);
        pthread_mutex_destroy(&c->mu);
        *s = c->s;      /* still the caller's to free */
        free(c);
        return NULL;
    }
    return c;
}

enum dial_state dial_state(struct dial_conn *c, char *err, size_t errlen, long *drops)
{
    pthread_mutex_lock(&c->mu);
    enum dial_state st = c->state;
    if (drops)
        *drops = c->drops;
    if (err)
        snprintf(err, errlen, "%s", c->err);
    pthread_mutex_unlock(&c->mu);
    return st;
}

int dial_event_fd(const struct dial_conn *c)
{
    return c->event_fd;
}

void dial_drain(struct dial_conn *c)
{
    uint64_t v;
    if (read(c->event_fd, &v, sizeof v) < 0) { /* empty */ }
}

int dial_pop(struct dial_conn *c, int latest, long *seen, char **msg, size_t *len, long *dropped)
{
    pthread_mutex_lock(&c->mu);
    struct item *it = c->in_head;
    while (it && latest && it->next) {     /* the older ones go */
        c->in_head = it->next;
        c->in_n--;
        c->in_bytes -= it->len;
        free(it);
        it = c->in_head;
    }
    /* a drop before the oldest message (or, none waiting, since the last drop said): said first, in order */
    long epoch = it ? it->epoch : c->drops;
    int drop = epoch > *seen;
    if (drop)
        *seen = epoch;
    if (it && !drop) {
        c->in_head = it->next;
        if (!c->in_head)
            c->in_tail = NULL;
        c->in_n = c->in_head ? c->in_n - 1 : 0;
        c->in_bytes = c->in_head ? c->in_bytes - it->len : 0;
    }
    *dropped = c->dropped;
    c->dropped = 0;
    pthread_mutex_unlock(&c->mu);
    if (drop)
        return 2;
    if (!it)
        return 0;
    /* the item's bytes are moved to the front of its own block: one allocation, handed over */
    size_t n = it->len;
    memmove(it, it->data, n + 1);
    *msg = (char *)it;
    *len = n;
    return 1;
}

size_t dial_write(struct dial_conn *c, const void *data, size_t len)
{
    if (len > DIAL_MAX_MSG)
        return 0;
    struct item *it = malloc(sizeof *it + len + 1);
    if (!it)
        return 0;
    it->next = NULL;
    it->len = len;
    memcpy(it->data, data, len);
    pthread_mutex_lock(&c->mu);
    int ok = c->state == DIAL_OPEN && !c->closing && c->out_bytes + len <= DIAL_MAX_OUT_BYTES;
    if (ok) {
        if (c->out_tail)
            c->out_tail->next = it;
        else
            c->out_head = it;
        c->out_tail = it;
        c->out_bytes += len;
    }
    pthread_mutex_unlock(&c->mu);
    if (!ok) {
        free(it);
        return 0;
    }
    uint64_t one = 1;
    if (write(c->wake_fd, &one, sizeof one) < 0) { /* already signalled */ }
    return len;
}

void dial_close(struct dial_conn *c)
{
    pthread_mutex_lock(&c->mu);
    c->closing = 1;
    int resolving = c->resolving;
    if (resolving)
        c->detached = 1;
    pthread_mutex_unlock(&c->mu);
    uint64_t one = 1;
    if (write(c->wake_fd, &one, sizeof one) < 0) { /* already signalled */ }
    if (resolving) {
        pthread_detach(c->th);
        return;
    }
    pthread_join(c->th, NULL);
    conn_free(c);
}
