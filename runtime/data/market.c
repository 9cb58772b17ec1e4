/*
 * market.c: the market's candle store (market.h): the candles of one source (market_source.h) under one lock,
 * found by time with a binary search, and the recorder behind --record. The sources are sim (source_sim.c), csv
 * (source_csv.c) and rest (source_rest.c); this file names them only in the table market_open picks from.
 */
#include "data/market.h"
#include "core/fsutil.h"
#include "core/logsink.h"
#include "data/market_source.h"
#include "core/numfmt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct market {
    char *url;
    pthread_mutex_t mu;         /* guards the candles and the recorder: a live source's thread appends to them */
    struct candle *c;
    long n, cap;
    int64_t period;
    int open_ended;             /* no last candle: a live sim (grows with the clock) or a rest market */
    long history;               /* candles before the span (market_span): what a replay's first bar looks back on */
    const struct market_source_ops *ops;
    void *src;                  /* the source's state; NULL until it opened */
    char *rec_path;             /* --record: the CSV the candles go to, or NULL */
    int rec_fd;                 /* its descriptor (O_APPEND) while rec_path is set */
    long rec_next;              /* the first candle not yet in it */
    int rec_err;                /* errno of the write failure said, 0 while writes work */
};

#define LOCK(m) pthread_mutex_lock(&((struct market *)(m))->mu)
#define UNLOCK(m) pthread_mutex_unlock(&((struct market *)(m))->mu)

/* Under the lock. */
static int push_candle(struct market *m, const struct candle *c)
{
    if (m->n == m->cap) {
        long cap = m->cap ? m->cap * 2 : 1024;
        struct candle *nc = realloc(m->c, (size_t)cap * sizeof *nc);
        if (!nc)
            return -1;
        m->c = nc;
        m->cap = cap;
    }
    m->c[m->n++] = *c;
    return 0;
}

static const struct market_source_ops *const sources[] = {&source_sim, &source_csv, &source_rest, NULL};

struct market *market_open(const char *url, int64_t now_ms, char *err, size_t errlen)
{
    struct market *m = calloc(1, sizeof *m);
    if (!m || !(m->url = strdup(url))) {
        free(m);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->mu, NULL);
    const char *args = NULL;
    for (int i = 0; sources[i] && !args; i++)
        if ((args = sources[i]->match(url)))
            m->ops = sources[i];
    if (!args) {
        snprintf(err, errlen, "unknown market '%s' (allowed: sim:seed=N,..., csv:PATH, PATH.csv, rest:URL)", url);
        market_free(m);
        return NULL;
    }
    struct market_shape shape = {0, 0, 0};
    if (!(m->src = m->ops->open(m, url, args, now_ms, &shape, err, errlen))) {
        market_free(m);
        return NULL;
    }
    LOCK(m);
    m->period = shape.period;
    m->open_ended = shape.open_ended;
    m->history = shape.history;
    UNLOCK(m);
    return m;
}

void market_free(struct market *m)
{
    if (!m)
        return;
    if (m->src)
        m->ops->close(m->src);  /* first: a live source's thread appends candles */
    if (m->rec_path)
        close(m->rec_fd);
    free(m->rec_path);
    pthread_mutex_destroy(&m->mu);
    free(m->c);
    free(m->url);
    free(m);
}

void market_span(const struct market *m, int64_t *first_close_ms, int64_t *last_close_ms)
{
    LOCK(m);
    *first_close_ms = m->n > m->history ? m->c[m->history].time + m->period : INT64_MAX;
    *last_close_ms = m->open_ended || !m->n ? INT64_MAX : m->c[m->n - 1].time + m->period;
    UNLOCK(m);
}

/* ---- the recorder ---- */

const char market_csv_header[] = "time,open,high,low,close,volume\n";

size_t market_csv_row(const struct candle *c, char *row)
{
    char v[5][32];
    fmt_double(c->open, v[0]);
    fmt_double(c->high, v[1]);
    fmt_double(c->low, v[2]);
    fmt_double(c->close, v[3]);
    fmt_double(c->volume, v[4]);
    int n = snprintf(row, MARKET_CSV_ROW, "%" PRId64 ",%s,%s,%s,%s,%s\n", c->time, v[0], v[1], v[2], v[3], v[4]);
    return n < 0 ? 0 : (size_t)n;
}

/* Writes the candles not yet in the record file, one whole row per write(2): a short write (a full disk) is cut
 * back to the row's start, so the file never ends in a torn row. A failure is said once; the candles stay in
 * memory and are written, in order, once the file takes rows again (the next append retries). Under the lock. */
static void record(struct market *m)
{
    if (!m->rec_path)
        return;
    for (; m->rec_next < m->n; m->rec_next++) {
        char row[MARKET_CSV_ROW];
        size_t n = market_csv_row(&m->c[m->rec_next], row);
        if (fs_append_whole(m->rec_fd, row, n) != 0) {
            int e = errno;
            if (e != m->rec_err)
                log_thread_warning("--record %s: cannot write: %s; the candles are kept and written when it works "
                                   "again", m->rec_path, strerror(e));
            m->rec_err = e;
            return;
        }
        if (m->rec_err) {
            log_thread_info("--record %s: writing again", m->rec_path);
            m->rec_err = 0;
        }
    }
}


/* Checks an existing record file of size bytes, trimming a torn last line (a write cut off by a full disk or a
 * crash) with one warning, and finds the time of its last row (INT64_MIN when it has only its header). Returns the
 * file's length, or -1 with err. */
static off_t record_tail(int fd, const char *path, off_t size, int64_t *last, char *err, size_t errlen)
{
    char buf[4096];
    size_t hl = sizeof market_csv_header - 1;
    size_t n = (size_t)(size < (off_t)hl ? size : (off_t)hl);
    if (pread(fd, buf, n, 0) != (ssize_t)n || memcmp(buf, market_csv_header, n) != 0) {
        snprintf(err, errlen, "--record %s: the file is not empty and does not start with the header %.*s", path,
                 (int)hl - 1, market_csv_header);
        return -1;
    }
    off_t from = size > (off_t)sizeof buf ? size - (off_t)sizeof buf : 0;
    n = size < (off_t)hl ? 0 : (size_t)pread(fd, buf, (size_t)(size - from), from);
    size_t end = n;     /* just after the last newline */
    while (end > 0 && buf[end - 1] != '\n')
        end--;
    if (end == 0 && from > 0) {
        snprintf(err, errlen, "--record %s: its last line is over %zu bytes and incomplete; repair or move the file",
                 path, sizeof buf);
        return -1;
    }
    if (end < n || size < (off_t)hl) {
        off_t keep = from + (off_t)end;
        if (ftruncate(fd, keep) != 0) {
            snprintf(err, errlen, "--record %s: cannot trim its incomplete last line: %s", path, strerror(errno));
            return -1;
        }
        log_thread_warning("--record %s: its last line was incomplete (a write was cut off): %lld bytes removed",
                           path, (long long)(size - keep));
        size = keep;
    }
    *last = INT64_MIN;
    if (size <= (off_t)hl)
        return size;
    size_t start = end - 1;
    while (start > 0 && buf[start - 1] != '\n')
        start--;
    char *e;
    errno = 0;
    long long t = strtoll(buf + start, &e, 10);
    if (errno || *e != ',') {
        snprintf(err, errlen, "--record %s: its last row does not start with a time in ms", path);
        return -1;
    }
    *last = t;
    return size;
}

int market_record(struct market *m, const char *path, char *err, size_t errlen)
{
    if (!m->open_ended) {
        snprintf(err, errlen, "--record needs a market that grows live (rest:URL, or sim without bars); '%s' is "
                 "recorded data already", m->url);
        return -1;
    }
    /* Not through a symlink planted in its place; not inherited by a strategy's io.popen child. */
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) {
        if (errno == ELOOP)
            snprintf(err, errlen, "--record %s is a symlink: stratrun does not follow one (name the file itself)", path);
        else
            snprintf(err, errlen, "--record %s: %s", path, strerror(errno));
        return -1;
    }
    int64_t last = INT64_MIN;
    off_t size = lseek(fd, 0, SEEK_END);
    if (size > 0)
        size = record_tail(fd, path, size, &last, err, errlen);
    if (size == 0) {
        if (fs_append_whole(fd, market_csv_header, sizeof market_csv_header - 1) != 0) {
            snprintf(err, errlen, "--record %s: cannot write: %s", path, strerror(errno));
            size = -1;
        }
    }
    if (size < 0 || !(m->rec_path = strdup(path))) {
        if (size >= 0)
            snprintf(err, errlen, "out of memory");
        close(fd);
        return -1;
    }
    LOCK(m);
    m->rec_fd = fd;
    m->rec_next = 0;
    while (m->rec_next < m->n && m->c[m->rec_next].time <= last)
        m->rec_next++;
    record(m);
    UNLOCK(m);
    return 0;
}

long market_append(struct market *m, const struct candle *c, long n)
{
    LOCK(m);
    long from = m->n, i = 0;
    if (m->n > 0)
        while (i < n && c[i].time <= m->c[m->n - 1].time)
            i++;
    for (; i < n; i++)
        if (push_candle(m, &c[i]) != 0)
            break;
    record(m);
    long added = m->n - from;
    UNLOCK(m);
    return added;
}

long market_at(struct market *m, int64_t t_ms)
{
    if (m->ops->advance)
        m->ops->advance(m->src, m, t_ms);
    LOCK(m);
    /* The last candle with time + period <= t: a binary search (CSV data may have gaps). */
    long lo = 0, hi = m->n - 1, found = -1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (m->c[mid].time + m->period <= t_ms) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    UNLOCK(m);
    return found;
}

int market_candle(const struct market *m, long i, struct candle *out)
{
    LOCK(m);
    int rc = i >= 0 && i < m->n ? 0 : -1;
    if (rc == 0)
        *out = m->c[i];
    UNLOCK(m);
    return rc;
}

long market_count(const struct market *m)
{
    LOCK(m);
    long n = m->n;
    UNLOCK(m);
    return n;
}

int64_t market_period(const struct market *m)
{
    return m->period;
}

const char *market_url(const struct market *m)
{
    return m->url;
}

const char *market_kind(const struct market *m)
{
    return m->ops->kind;
}

/* ---- a live venue's feeds: the source's, when it has them ---- */

int market_fields(const struct market *m, struct market_field *out, int max)
{
    return m->ops->fields ? m->ops->fields(m->src, out, max) : 0;
}

int market_fetched(struct market *m, enum market_feed feed, int64_t *fetched_ms, char *why, size_t whylen)
{
    if (!m->ops->fetched)
        return -1;
    *fetched_ms = m->ops->fetched(m->src, feed, why, whylen);
    return 0;
}

size_t market_body_len(struct market *m, enum market_feed feed)
{
    return m->ops->body_len ? m->ops->body_len(m->src, feed) : 0;
}

int market_body_copy(struct market *m, enum market_feed feed, char *dst, size_t len, int64_t *fetched_ms)
{
    return m->ops->body_copy ? m->ops->body_copy(m->src, feed, dst, len, fetched_ms) : -1;
}
