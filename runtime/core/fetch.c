/*
 * fetch.c: bounded libcurl transfers (fetch.h), and the process's HTTP thread: a curl multi handle fed through a
 * mutex-protected queue, which runs every HttpQuery of every bot at once and signals each completion through the
 * job's own callback (on_done). The thread sees only struct fetch_job: plain C data, never a Lua state.
 */
#include "core/fetch.h"
#include "core/clock.h"
#include "core/fsutil.h"
#include "core/thread.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* ---- one transfer ---- */

int fetch_add_header(struct fetch *f, const char *line)
{
    struct curl_slist *l = curl_slist_append(f->headers, line);
    if (!l)
        return -1;
    f->headers = l;
    return 0;
}

/* Zeroes s in place, in a way the compiler keeps: a secret leaves no copy in freed memory. */
static void wipe(char *s)
{
    volatile char *p = s;
    while (*p)
        *p++ = '\0';
}

void fetch_clear(struct fetch *f)
{
    free(f->url);
    free(f->method);
    free(f->body);
    for (struct curl_slist *l = f->headers; l; l = l->next)
        wipe(l->data);      /* a header may carry a key (a venue's X-MBX-APIKEY, an Authorization) */
    curl_slist_free_all(f->headers);
    free(f->cookie);
    free(f->resp);
    free(f->head);
    free(f->mail_from);
    curl_slist_free_all(f->mail_rcpt);
    free(f->user);
    if (f->password) {
        wipe(f->password);
        free(f->password);
    }
    memset(f, 0, sizeof *f);
}

/* A mail's message, handed to curl as it asks (CURLOPT_READFUNCTION). */
static size_t on_upload(char *dst, size_t size, size_t nmemb, void *ud)
{
    struct fetch *f = ud;
    size_t n = size * nmemb, left = f->body_len - f->body_sent;
    if (n > left)
        n = left;
    memcpy(dst, f->body + f->body_sent, n);
    f->body_sent += n;
    return n;
}

static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a);

/* The options of a mail (fetch_setup): SMTP or SMTPS only, no redirects, the message uploaded from body. */
static CURLcode setup_mail(CURL *h, struct fetch *f)
{
    CURLcode rc = CURLE_OK;
#define SET(opt, val) if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val)
    f->body_sent = 0;
    SET(CURLOPT_URL, f->url);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    SET(CURLOPT_TIMEOUT_MS, f->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, f->timeout_ms);
    SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
    SET(CURLOPT_MAIL_FROM, f->mail_from);
    SET(CURLOPT_MAIL_RCPT, f->mail_rcpt);
    SET(CURLOPT_UPLOAD, 1L);
    SET(CURLOPT_READFUNCTION, on_upload);
    SET(CURLOPT_READDATA, f);
    SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)f->body_len);
    SET(CURLOPT_USE_SSL, (long)(f->require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY));
    if (f->user) {
        SET(CURLOPT_USERNAME, f->user);
        SET(CURLOPT_PASSWORD, f->password ? f->password : "");
        if (!f->require_tls && strncmp(f->url, "smtps://", 8) != 0)
            SET(CURLOPT_NOPROXY, "*");  /* a password in clear to this machine's relay: never through a proxy */
    }
#undef SET
    return rc;
}

/* Appends n bytes to a growable buffer, keeping it NUL-terminated. Returns 0, or -1 when out of memory. */
static int append(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n + 1)
            c *= 2;
        char *nb = realloc(*buf, c);
        if (!nb)
            return -1;
        *buf = nb;
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

/* The body, up to the cap: past it the transfer is aborted (returning less than n makes curl stop). */
static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct fetch *f = ud;
    size_t n = size * nmemb;
    if (n > f->max_bytes - f->resp_len) {
        f->too_large = 1;
        snprintf(f->error, sizeof f->error, "response body larger than %zu bytes", f->max_bytes);
        return 0;
    }
    if (append(&f->resp, &f->resp_len, &f->resp_cap, p, n) != 0) {
        snprintf(f->error, sizeof f->error, "out of memory reading the response");
        return 0;
    }
    return n;
}

/* The header lines of the last response only: a status line starts a new response (after a redirect, or a
 * 100 Continue). */
static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    struct fetch *f = ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0)
        f->head_len = 0;
    if (f->head_len + n > FETCH_MAX_HEAD) {
        snprintf(f->error, sizeof f->error, "response headers larger than %d bytes", FETCH_MAX_HEAD);
        return 0;
    }
    if (append(&f->head, &f->head_len, &f->head_cap, p, n) != 0) {
        snprintf(f->error, sizeof f->error, "out of memory reading the response");
        return 0;
    }
    return n;
}

/* curl's sockets, close-on-exec from the start: a strategy's io.popen child must not inherit them. */
static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)ud;
    (void)purpose;
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}


int fetch_setup(CURL *h, struct fetch *f)
{
    curl_easy_reset(h);
    f->status = 0;
    f->resp_len = f->head_len = 0;
    f->too_large = 0;
    f->error[0] = '\0';
    if (f->mail_from) {
        CURLcode mrc = setup_mail(h, f);
        if (mrc != CURLE_OK)
            snprintf(f->error, sizeof f->error, "cannot set up the mail: %s", curl_easy_strerror(mrc));
        return mrc == CURLE_OK ? 0 : -1;
    }
    const char *method = f->method ? f->method : f->body ? "POST" : "GET";
    CURLcode rc = CURLE_OK;
#define SET(opt, val) if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val)
    SET(CURLOPT_URL, f->url);
    SET(CURLOPT_NOSIGNAL, 1L);                 /* threads: no SIGALRM for DNS timeouts */
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    SET(CURLOPT_MAXREDIRS, (long)FETCH_MAX_REDIRECTS);
    SET(CURLOPT_TIMEOUT_MS, f->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, f->timeout_ms);
    SET(CURLOPT_FRESH_CONNECT, f->fresh_connection ? 1L : 0L);
    SET(CURLOPT_FORBID_REUSE, f->fresh_connection ? 1L : 0L);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->max_bytes);
    SET(CURLOPT_ACCEPT_ENCODING, "");          /* whatever curl decodes; the cap counts decoded bytes */
    SET(CURLOPT_USERAGENT, "stratrun/" STRATRUN_VERSION);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, f);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, f);
    SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
    if (f->headers)
        SET(CURLOPT_HTTPHEADER, f->headers);
    if (f->cookie)
        SET(CURLOPT_COOKIE, f->cookie);
    if (strcmp(method, "GET") == 0 && !f->body) {
        SET(CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(method, "POST") != 0)
            SET(CURLOPT_CUSTOMREQUEST, method);
        if (f->body || strcmp(method, "POST") == 0) {
            SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)f->body_len);
            SET(CURLOPT_POSTFIELDS, f->body ? f->body : "");
        }
    }
#undef SET
    if (rc != CURLE_OK) {
        snprintf(f->error, sizeof f->error, "cannot set up the request: %s", curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

int fetch_header(const struct fetch *f, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    for (const char *p = f->head, *end = f->head + f->head_len; p && p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        if ((size_t)(next - p) > n && p[n] == ':' && strncasecmp(p, name, n) == 0) {
            const char *v = p + n + 1, *e = next;
            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
                e--;
            size_t len = (size_t)(e - v) < outlen - 1 ? (size_t)(e - v) : outlen - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return 0;
        }
        p = next;
    }
    return -1;
}

/* Whether the process is out of file descriptors, or nearly (fewer than FETCH_FDS_SPARE below its limit): libcurl
 * reports a socket() that failed with EMFILE as a plain connect or resolve failure, with no errno
 * (CURLINFO_OS_ERRNO is 0), and frees what it held before saying so. Writes the figures into why. */
#define FETCH_FDS_SPARE 8
static int out_of_fds(char *why, size_t whylen)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        if (errno != EMFILE && errno != ENFILE)
            return 0;
        snprintf(why, whylen, "too many open files (all %llu descriptors of ulimit -n are in use)",
                 (unsigned long long)rl.rlim_cur);
        return 1;
    }
    unsigned long long open = 0;
    for (struct dirent *de; (de = readdir(d));)
        open += de->d_name[0] != '.';
    closedir(d);
    open--;     /* the folder's own */
    if (open + FETCH_FDS_SPARE < rl.rlim_cur)
        return 0;
    snprintf(why, whylen, "too many open files (%llu of the %llu descriptors ulimit -n allows are open)", open,
             (unsigned long long)rl.rlim_cur);
    return 1;
}

void fetch_finish(struct fetch *f, CURL *h, CURLcode rc)
{
    long status = 0;
    curl_off_t retry = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    f->status = status;
    if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &retry) != CURLE_OK || retry < 0)
        retry = 0;
    f->retry_after_s = retry > FETCH_MAX_RETRY_AFTER_S ? FETCH_MAX_RETRY_AFTER_S : (long)retry;
    if (rc == CURLE_OK || f->error[0])     /* done, or a callback said why it stopped */
        return;
    long oserr = 0;
    char why[160];
    if (f->mail_from) {     /* what only a mail meets; the rest below is shared */
        switch (rc) {
        case CURLE_LOGIN_DENIED:
            snprintf(f->error, sizeof f->error, "the server refused the user name or password (it answered %ld)",
                     status);
            return;
        case CURLE_USE_SSL_FAILED:
            snprintf(f->error, sizeof f->error, "the server offers no STARTTLS, and a password is never sent in "
                     "clear: use smtps://");
            return;
        case CURLE_UNSUPPORTED_PROTOCOL:
            snprintf(f->error, sizeof f->error, "unsupported protocol (only smtp and smtps)");
            return;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_WEIRD_SERVER_REPLY:
            if (status >= 400) {
                snprintf(f->error, sizeof f->error, "the server refused the mail (it answered %ld)", status);
                return;
            }
            break;
        default:
            break;
        }
    }
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(f->error, sizeof f->error, "timed out after %ld ms", f->timeout_ms);
        break;
    case CURLE_COULDNT_CONNECT:
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
        if ((oserr == 0 || oserr == EMFILE) && out_of_fds(why, sizeof why))
            snprintf(f->error, sizeof f->error, "cannot connect: %s", why);
        else
            snprintf(f->error, sizeof f->error, "cannot connect: %s",
                     oserr ? strerror((int)oserr) : curl_easy_strerror(rc));
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        if (out_of_fds(why, sizeof why))
            snprintf(f->error, sizeof f->error, "cannot resolve the host name: %s", why);
        else
            snprintf(f->error, sizeof f->error, "cannot resolve the host name");
        break;
    case CURLE_TOO_MANY_REDIRECTS:
        snprintf(f->error, sizeof f->error, "too many redirects (more than %d)", FETCH_MAX_REDIRECTS);
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
        snprintf(f->error, sizeof f->error, "unsupported protocol (only http and https, redirects included)");
        break;
    case CURLE_URL_MALFORMAT:
        snprintf(f->error, sizeof f->error, "malformed URL");
        break;
    case CURLE_FILESIZE_EXCEEDED:
        f->too_large = 1;
        snprintf(f->error, sizeof f->error, "response body larger than %zu bytes", f->max_bytes);
        break;
    case CURLE_PARTIAL_FILE:
        snprintf(f->error, sizeof f->error, "truncated response: the connection closed before the whole body "
                 "arrived (%zu bytes received)", f->resp_len);
        break;
    case CURLE_OUT_OF_MEMORY:
        /* What libcurl says of a header line longer than its own limit (CURL_MAX_HTTP_HEADER, 100 KB) too: a
         * status line came, and no body yet. */
        if (status > 0 && f->resp_len == 0)
            snprintf(f->error, sizeof f->error, "response header too large: a header line passed libcurl's "
                     "limit of 100 KB");
        else
            snprintf(f->error, sizeof f->error, "out of memory");
        break;
    case CURLE_GOT_NOTHING:
        snprintf(f->error, sizeof f->error, "the server closed the connection without a response");
        break;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        snprintf(f->error, sizeof f->error, "connection lost: %s", curl_easy_strerror(rc));
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        snprintf(f->error, sizeof f->error, "TLS error: %s", curl_easy_strerror(rc));
        break;
    default:
        snprintf(f->error, sizeof f->error, "%s", curl_easy_strerror(rc));
    }
}

/* ---- the process's back-off table (fetch.h) ---- */

#define BACKOFF_HOSTS 64        /* hosts remembered at once; the one whose wait ends first makes room */

struct backoff {
    char host[300];             /* scheme://host:port, lower case */
    int64_t until_ns;           /* CLOCK_MONOTONIC */
    long status, wait_s;
    /* the data dir's file of the host (fetch_backoff_share) as last read: read again only when these change */
    dev_t file_dev;
    ino_t file_ino;
    struct timespec file_mtime;
    off_t file_size;            /* -1: not read */
    int64_t file_until_ms;      /* wall clock, from the file */
    long file_status, file_wait_s;
};

static pthread_mutex_t backoff_mu = PTHREAD_MUTEX_INITIALIZER;
static struct backoff backoffs[BACKOFF_HOSTS];
static char *shared_dir;        /* <data dir>/backoff, or NULL: not shared */

long fetch_backoff_s(const struct fetch *f)
{
    if (f->status != 429 && f->status != 418)
        return 0;
    return f->retry_after_s ? f->retry_after_s : f->status == 418 ? FETCH_BACKOFF_418_S : FETCH_BACKOFF_429_S;
}

int fetch_url_host(const char *url, char *out, size_t outlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = -1;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        for (char *c = host; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        rc = snprintf(out, outlen, "%s://%s:%s", scheme, host, port) < (int)outlen ? 0 : -1;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

/* host's entry, under backoff_mu: its own, else the one whose wait ends first, made host's. */
static struct backoff *backoff_slot(const char *host)
{
    int slot = 0;
    for (int i = 0; i < BACKOFF_HOSTS; i++) {
        if (strcmp(backoffs[i].host, host) == 0)
            return &backoffs[i];
        if (backoffs[i].until_ns < backoffs[slot].until_ns)
            slot = i;
    }
    struct backoff *e = &backoffs[slot];
    *e = (struct backoff){.file_size = -1};
    snprintf(e->host, sizeof e->host, "%s", host);
    return e;
}

/* ---- the back-offs shared by the processes of a data dir: a file per host under <data dir>/backoff ---- */

void fetch_backoff_share(const char *data_dir)
{
    size_t n = strlen(data_dir) + sizeof "/backoff";
    char *d = malloc(n);
    if (!d)
        return;
    snprintf(d, n, "%s/backoff", data_dir);
    pthread_mutex_lock(&backoff_mu);
    free(shared_dir);
    shared_dir = d;
    pthread_mutex_unlock(&backoff_mu);
}

/* The file of host: its characters other than [a-z0-9.-] as '_' (the host is written inside too, and checked). */
static void shared_path(const char *host, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/", shared_dir);
    for (const char *c = host; *c && n + 2 < (int)len; c++)
        out[n++] = (islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '.' || *c == '-') ? *c : '_';
    out[n] = '\0';
}

/* host's entry with its shared file's wait, under backoff_mu: one lstat, and a read only when the file changed. */
static struct backoff *shared_read(const char *host)
{
    char path[4200], *text = NULL, err[300];
    struct stat st;
    shared_path(host, path, sizeof path);
    struct backoff *e = backoff_slot(host);
    if (lstat(path, &st) != 0) {
        e->file_until_ms = 0;
        e->file_size = -1;
        return e;
    }
    if (st.st_dev == e->file_dev && st.st_ino == e->file_ino && st.st_size == e->file_size &&
        st.st_mtim.tv_sec == e->file_mtime.tv_sec && st.st_mtim.tv_nsec == e->file_mtime.tv_nsec)
        return e;
    e->file_dev = st.st_dev;
    e->file_ino = st.st_ino;
    e->file_size = st.st_size;
    e->file_mtime = st.st_mtim;
    e->file_until_ms = 0;
    size_t len;
    char named[300];
    long long until;
    if (fs_read_all(path, 1024, &text, &len, err, sizeof err) == 0 &&
        sscanf(text, "%299s %lld %ld %ld", named, &until, &e->file_status, &e->file_wait_s) == 4 &&
        strcmp(named, host) == 0 && e->file_wait_s >= 0 && e->file_wait_s <= FETCH_MAX_RETRY_AFTER_S &&
        until <= clock_wall_ms() + (int64_t)FETCH_MAX_RETRY_AFTER_S * 1000)
        e->file_until_ms = until;   /* a wait longer than any the venue gives is not one of ours: not obeyed */
    free(text);
    return e;
}

/* Writes host's back-off into its shared file, unless the file has a later one already. */
static void shared_note(const char *host, long status, long wait_s)
{
    char dir[4200], path[4200], line[400], err[300];
    int64_t until = clock_wall_ms() + (int64_t)wait_s * 1000;
    pthread_mutex_lock(&backoff_mu);
    int later = !shared_dir || shared_read(host)->file_until_ms >= until;
    if (!later) {
        snprintf(dir, sizeof dir, "%s", shared_dir);
        shared_path(host, path, sizeof path);
    }
    pthread_mutex_unlock(&backoff_mu);
    int n = snprintf(line, sizeof line, "%s %lld %ld %ld\n", host, (long long)until, status, wait_s);
    /* a failure leaves the wait to this process's own table */
    if (!later && fs_mkdirs(dir, err, sizeof err) == 0)
        fs_write_atomic(path, line, (size_t)n, err, sizeof err);
}

void fetch_backoff_note(const char *host, long status, long wait_s)
{
    shared_note(host, status, wait_s);
    int64_t until = clock_mono_ns() + (int64_t)wait_s * 1000000000;
    pthread_mutex_lock(&backoff_mu);
    struct backoff *e = backoff_slot(host);
    if (until > e->until_ns) {
        e->until_ns = until;
        e->status = status;
        e->wait_s = wait_s;
    }
    pthread_mutex_unlock(&backoff_mu);
}

int fetch_backoff_left(const char *host, long *status, long *wait_s, int64_t *left_ms)
{
    int64_t now = clock_mono_ns();
    int found = 0;
    pthread_mutex_lock(&backoff_mu);
    for (int i = 0; i < BACKOFF_HOSTS && !found; i++)
        if (backoffs[i].until_ns > now && strcmp(backoffs[i].host, host) == 0) {
            *status = backoffs[i].status;
            *wait_s = backoffs[i].wait_s;
            *left_ms = (backoffs[i].until_ns - now + 999999) / 1000000;
            found = 1;
        }
    struct backoff *e = shared_dir ? shared_read(host) : NULL;
    int64_t left = e ? e->file_until_ms - clock_wall_ms() : 0;
    if (left > 0 && (!found || left > *left_ms)) {
        *status = e->file_status;
        *wait_s = e->file_wait_s;
        *left_ms = left;
        found = 1;
    }
    pthread_mutex_unlock(&backoff_mu);
    return found;
}

/* ---- the HTTP thread ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct fetch_job *queue, **queue_tail = &queue;     /* submitted, not yet started: oldest first */
static CURLM *multi;                                        /* non-NULL while the thread runs */
static pthread_t thread;
static int stopping;

/* The thread's own list of transfers in progress (with their easy handles as CURLOPT_PRIVATE's target). */
struct active {
    struct fetch_job *j;
    CURL *h;
    struct active *next;
};

static void free_job(struct fetch_job *j)
{
    fetch_clear(&j->f);
    free(j);
}

/* j is over: its owner may read it now (or it is freed, when its owner gave it up). */
static void complete(struct fetch_job *j)
{
    pthread_mutex_lock(&mu);
    int abandoned = j->abandoned;
    j->done = 1;
    if (!abandoned && j->on_done)
        j->on_done(j->done_arg);    /* under the lock: never after fetch_release */
    pthread_mutex_unlock(&mu);
    if (abandoned)
        free_job(j);
}

static void *run(void *arg)
{
    (void)arg;
    struct active *act = NULL;
    for (;;) {
        pthread_mutex_lock(&mu);
        struct fetch_job *take = queue;
        queue = NULL;
        queue_tail = &queue;
        int stop = stopping;
        pthread_mutex_unlock(&mu);
        while (take) {
            struct fetch_job *j = take;
            take = j->next;
            if (stop) {
                snprintf(j->f.error, sizeof j->f.error, "stratrun is stopping");
                complete(j);
                continue;
            }
            CURL *h = curl_easy_init();
            struct active *a = h ? malloc(sizeof *a) : NULL;
            if (!a || fetch_setup(h, &j->f) != 0 || curl_multi_add_handle(multi, h) != CURLM_OK) {
                if (!j->f.error[0])
                    snprintf(j->f.error, sizeof j->f.error, "cannot start the transfer: out of memory");
                if (h)
                    curl_easy_cleanup(h);
                free(a);
                complete(j);
                continue;
            }
            *a = (struct active){j, h, act};
            act = a;
        }
        if (stop)
            break;
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *h = msg->easy_handle;
            CURLcode rc = msg->data.result;
            for (struct active **p = &act; *p; p = &(*p)->next) {
                if ((*p)->h != h)
                    continue;
                struct active *a = *p;
                *p = a->next;
                fetch_finish(&a->j->f, h, rc);
                curl_multi_remove_handle(multi, h);
                curl_easy_cleanup(h);
                complete(a->j);
                free(a);
                break;
            }
        }
        /* Sleeps until a socket is ready, a timeout of curl's is due, or fetch_submit/fetch_shutdown wake it. */
        curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    while (act) {
        struct active *a = act;
        act = a->next;
        curl_multi_remove_handle(multi, a->h);
        curl_easy_cleanup(a->h);
        snprintf(a->j->f.error, sizeof a->j->f.error, "stratrun is stopping");
        complete(a->j);
        free(a);
    }
    return NULL;
}

struct fetch_job *fetch_job_new(void)
{
    struct fetch_job *j = calloc(1, sizeof *j);
    if (j) {
        j->done = 1;    /* not running: fetch_release frees it at once */
    }
    return j;
}

/* Sets FD_CLOEXEC on every socket the process has open. Every socket stratrun itself opens is close-on-exec
 * already; curl_multi_init's wake-up socketpair is not. (Comparing descriptor numbers before and after the init
 * missed it when another thread closed a descriptor meanwhile and the pair took its number.) */
static void sockets_cloexec(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        int fd = atoi(de->d_name);
        struct stat st;
        if (de->d_name[0] == '.' || fd <= 2 || fd == dirfd(d) || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
            continue;
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC))
            fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
    closedir(d);
}

int fetch_submit(struct fetch_job *j)
{
    pthread_mutex_lock(&mu);
    if (!multi && !stopping) {
        /* curl_multi_init opens a socketpair (its wake-up) without close-on-exec: set it, so that a strategy's
         * io.popen child does not inherit it. */
        multi = curl_multi_init();
        sockets_cloexec();
        if (multi && thread_start(&thread, run, NULL) != 0) {
            curl_multi_cleanup(multi);
            multi = NULL;
        }
    }
    if (!multi || stopping) {
        j->done = 1;
        pthread_mutex_unlock(&mu);
        char why[160];
        snprintf(j->f.error, sizeof j->f.error, "cannot start the HTTP thread%s%s",
                 out_of_fds(why, sizeof why) ? ": " : "", why);
        return -1;
    }
    j->done = 0;
    j->next = NULL;
    *queue_tail = j;
    queue_tail = &j->next;
    curl_multi_wakeup(multi);
    pthread_mutex_unlock(&mu);
    return 0;
}

int fetch_done(struct fetch_job *j)
{
    pthread_mutex_lock(&mu);
    int done = j->done;
    pthread_mutex_unlock(&mu);
    return done;
}

void fetch_release(struct fetch_job *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&mu);
    int done = j->done;
    if (!done) {
        j->abandoned = 1;
    }
    pthread_mutex_unlock(&mu);
    if (done)
        free_job(j);
}

void fetch_shutdown(void)
{
    pthread_mutex_lock(&mu);
    CURLM *m = multi;
    if (m) {
        stopping = 1;
        curl_multi_wakeup(m);
    }
    pthread_mutex_unlock(&mu);
    if (!m)
        return;
    pthread_join(thread, NULL);
    pthread_mutex_lock(&mu);
    curl_multi_cleanup(multi);
    multi = NULL;
    stopping = 0;
    pthread_mutex_unlock(&mu);
}
