/*
 * fetch.h: bounded HTTP transfers on libcurl, shared by HttpQuery (http.c) and the rest market's poller
 * (source_rest.c), and the process's HTTP thread that runs HttpQuery's transfers.
 *
 * A request and its response are plain C data (struct fetch): they cross threads under a mutex, never as Lua
 * values. Every transfer is bounded the same way: a timeout for the whole transfer, a cap on the response body
 * (the transfer is aborted when it passes the cap, never buffered whole), at most FETCH_MAX_REDIRECTS redirects,
 * http and https only (redirects included). A mail (mail_from set) goes over smtp or smtps only.
 */
#ifndef STRATRUN_FETCH_H
#define STRATRUN_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/lib_curl.h"

#define FETCH_MAX_REDIRECTS 5
#define FETCH_MAX_HEAD (64 * 1024)      /* the response's header block, on top of the body's cap */
#define FETCH_ERRLEN 300
#define FETCH_MAX_RETRY_AFTER_S (3 * 86400)    /* a longer Retry-After counts as this: Binance's longest ban */

struct fetch {
    /* The request: set before the transfer, read-only during it. Strings are malloc'd and owned by the fetch. */
    char *url;
    char *method;               /* NULL: GET, or POST when there is a body */
    char *body;                 /* NULL: none */
    size_t body_len;
    struct curl_slist *headers; /* "Name: value" lines */
    char *cookie;               /* NULL: none */
    long timeout_ms;            /* the whole transfer, redirects included */
    int fresh_connection;       /* a connection of its own, closed after: a request that must not be sent twice
                                 * (curl resends a request whose reused connection closed without an answer) */
    size_t max_bytes;           /* the response body's cap */

    /* A mail instead (Mail, http.c): url is smtp:// or smtps://, body the whole message (headers, CRLF lines). */
    char *mail_from;            /* NULL: an HTTP request */
    struct curl_slist *mail_rcpt;
    char *user, *password;      /* NULL: no AUTH; the password is wiped when the fetch is cleared */
    int require_tls;            /* smtp:// with a password: STARTTLS or no transfer (never a password in clear) */
    size_t body_sent;           /* the upload's position in body */

    /* The response: written during the transfer, read once it is over. */
    long status;                /* the final HTTP status; 0 when no response arrived */
    char *resp;                 /* the body (NUL-terminated; may contain NULs), or NULL when empty */
    size_t resp_len, resp_cap;
    char *head;                 /* the final response's header lines, raw ("Name: value\r\n"...) */
    size_t head_len, head_cap;
    int too_large;              /* the body passed max_bytes: the transfer was aborted */
    long retry_after_s;         /* the response's Retry-After in seconds (either form), 0 when none; at most
                                 * FETCH_MAX_RETRY_AFTER_S */
    char error[FETCH_ERRLEN];   /* why the transfer failed; "" when it did not (whatever the status) */
};

/* Appends the request header line ("Name: value") to f. Returns 0, or -1 when out of memory. */
int fetch_add_header(struct fetch *f, const char *line);

/* Frees everything f holds (its header lines and password zeroed first: they may carry secrets) and zeroes it. */
void fetch_clear(struct fetch *f);

/* Resets h and configures it for f: bounds, callbacks into f, the request's method, body, headers and cookie.
 * f must outlive the transfer. Returns 0, or -1 with f->error set. */
int fetch_setup(CURL *h, struct fetch *f);

/* After the transfer of h ended with rc: sets f->status and, when it failed, f->error (a short reason such as
 * "timed out after 500 ms", "connection refused", "response body larger than 1048576 bytes"). */
void fetch_finish(struct fetch *f, CURL *h, CURLcode rc);

/* The value of the final response's header name (case-insensitive), trimmed, copied into out (cut to outlen - 1
 * bytes). Returns 0, or -1 when the response has no such header. */
int fetch_header(const struct fetch *f, const char *name, char *out, size_t outlen);

/* ---- a venue's "leave me alone": HTTP 429 and 418, for every requester of the process ---- */

#define FETCH_BACKOFF_429_S 60      /* a 429 without Retry-After: wait this long */
#define FETCH_BACKOFF_418_S 120     /* a 418 without Retry-After: Binance's shortest ban */

/* The wait a 429 (too many requests) or 418 (the address is banned) answer asks for, in seconds: its
 * Retry-After, else FETCH_BACKOFF_429_S or FETCH_BACKOFF_418_S; 0 for any other answer. */
long fetch_backoff_s(const struct fetch *f);

/* scheme://host:port of url (the default port when it names none; the host lower-cased) into out, the key of the
 * back-off table. Returns 0, or -1 when url has none (or out is too small). */
int fetch_url_host(const char *url, char *out, size_t outlen);

/* Notes that host (fetch_url_host) asked for wait_s seconds without requests (status 429 or 418). The table is
 * the process's: the rest market's poller and HttpQuery {retry_after = true} both note and both obey it, since a
 * venue counts and bans per address, not per requester. */
void fetch_backoff_note(const char *host, long status, long wait_s);

/* Shares the back-offs with the other processes of data_dir (set once at start-up): fetch_backoff_note also writes
 * the host's wait into <data_dir>/backoff/<host> (atomically, unless the file holds a later one), and
 * fetch_backoff_left reads it, with one stat per call and a read only when the file changed. The wait is kept on
 * the wall clock there, so a process started later (a restarted bot) sees what is left of it. */
void fetch_backoff_share(const char *data_dir);

/* Whether host is waiting out a back-off, its own process's or one another process of the data dir noted
 * (fetch_backoff_share): 1 with the status and the wait it asked for, and the time left in ms; 0 otherwise. */
int fetch_backoff_left(const char *host, long *status, long *wait_s, int64_t *left_ms);

/* ---- the HTTP thread: one per process, started by the first submit, running a curl multi handle ---- */

/* Called on the HTTP thread when a job's transfer is over (done, failed, or ended by fetch_shutdown), with the
 * job's done_arg, unless the job was given up (fetch_release) before. It runs under fetch.c's mutex, so it is
 * never called once fetch_release has returned; it must be quick (write an eventfd, signal a condition) and must
 * not call any fetch_ function. */
typedef void (*fetch_done_fn)(void *arg);

struct fetch_job {
    struct fetch f;
    fetch_done_fn on_done;      /* NULL: none (the owner polls fetch_done) */
    void *done_arg;
    /* private to fetch.c, under its mutex */
    int done, abandoned;
    struct fetch_job *next;
};

/* A new job with f zeroed and no on_done, or NULL when out of memory. Until it is submitted, fetch_release frees
 * it at once. */
struct fetch_job *fetch_job_new(void);

/* Queues j on the HTTP thread (starting it on first use). From then on j belongs to the thread until it is done;
 * the thread calls its on_done when it is. Returns 0, or -1 with j->f.error set (the
 * thread could not start); j is then still the caller's. */
int fetch_submit(struct fetch_job *j);

/* 1 once j's transfer is over: j->f may then be read by the caller. */
int fetch_done(struct fetch_job *j);

/* The caller gives j up: freed now if it is done, else by the thread when it is (its on_done is no longer
 * called: what done_arg points to may be freed after this call). */
void fetch_release(struct fetch_job *j);

/* Stops the HTTP thread (at exit, after the bots are gone): transfers still running are ended, jobs freed. */
void fetch_shutdown(void);

#endif
