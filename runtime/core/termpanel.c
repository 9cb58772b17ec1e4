/*
 * termpanel.c: status panels at the bottom of the terminal (termpanel.h).
 */
#include "core/termpanel.h"
#include "core/outq.h"
#include "core/termtext.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

struct panel {
    char *label, *text;
    size_t len;
};

struct buf {
    char *p;
    size_t len, cap;
    int failed;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int tty = -1;     /* stdout is a terminal; -1: not asked yet. Read without mu on the common path */
static int err_same;            /* stderr is that terminal too */
static struct panel *panels;
static size_t npanels;
static size_t *drawn;           /* the columns of each row drawn, for the erase */
static size_t ndrawn, drawn_cap;
static int shown;               /* the panels are on the screen */
static int open_line;           /* the last write to stdout left a line open: the panels wait below it */
static volatile sig_atomic_t resized;

static void on_winch(int sig)
{
    (void)sig;
    resized = 1;
}

static void init_locked(void)
{
    if (atomic_load(&tty) >= 0)
        return;
    int t = isatty(STDOUT_FILENO);
    struct stat o, e;
    err_same = t && isatty(STDERR_FILENO) && fstat(STDOUT_FILENO, &o) == 0 && fstat(STDERR_FILENO, &e) == 0 &&
               o.st_rdev == e.st_rdev;
    atomic_store(&tty, t);  /* last: a reader that sees it sees err_same too */
}

void termpanel_init(void)
{
    pthread_mutex_lock(&mu);
    init_locked();
    pthread_mutex_unlock(&mu);
    if (tty) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sigemptyset(&sa.sa_mask);
        sa.sa_handler = on_winch;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGWINCH, &sa, NULL);
        outq_stdio_via(termpanel_write);    /* print, io.write and io.stderr keep the panels below them too */
    }
}

int termpanel_active(void)
{
    pthread_mutex_lock(&mu);
    init_locked();
    int t = tty;
    pthread_mutex_unlock(&mu);
    return t;
}

static void add(struct buf *b, const char *p, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->failed = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void size_of_screen(int *cols, int *rows)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
        *cols = ws.ws_col;
        *rows = ws.ws_row;
    } else {
        *cols = 80;
        *rows = 24;
    }
}

/* Moves back over the rows drawn, clearing each ("\x1b[2K", a line at a time: tmux (scroll-on-clear) would push a
 * screen cleared from its top-left corner with "\x1b[J" into the scrollback, a stale copy there). A row of w
 * columns on a terminal now cols wide takes ceil(w / cols) rows if the terminal rewrapped it on a resize (tmux,
 * VTE, kitty do). */
static void erase(struct buf *b, int cols)
{
    if (!shown)
        return;
    add(b, "\r", 1);
    for (size_t i = 0; i < ndrawn; i++)
        for (size_t r = drawn[i] == 0 ? 1 : (drawn[i] + (size_t)cols - 1) / (size_t)cols; r > 0; r--)
            add(b, "\x1b[A\x1b[2K", 7);
    shown = 0;
    ndrawn = 0;
}

/* Adds one row: line (len bytes, no newline) cut to max columns, without control characters (a tab is spaces to
 * the next multiple of 8, invalid UTF-8 is '?'), and a newline; records its width. */
static void row(struct buf *b, const char *line, size_t len, size_t max)
{
    size_t w = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)line[i];
        if (c == '\t') {
            size_t to = (w / 8 + 1) * 8;
            if (to > max)
                break;
            while (w < to) {
                add(b, " ", 1);
                w++;
            }
            i++;
            continue;
        }
        if (c < 0x20 || c == 0x7f) {
            i++;
            continue;
        }
        unsigned cp;
        size_t n = tt_decode(line + i, len - i, &cp);
        int cw = cp == 0xFFFD && n == 1 && c >= 0x80 ? 1 : tt_cp_width(cp);
        if (cp >= 0x80 && cp < 0xA0) {      /* C1 controls */
            i += n;
            continue;
        }
        if (w + (size_t)cw > max)
            break;
        if (cp == 0xFFFD && n == 1 && c >= 0x80)
            add(b, "?", 1);
        else
            add(b, line + i, n);
        w += (size_t)cw;
        i += n;
    }
    add(b, "\n", 1);
    if (ndrawn == drawn_cap) {
        size_t cap = drawn_cap ? drawn_cap * 2 : 64;
        size_t *d = realloc(drawn, cap * sizeof *d);
        if (!d) {
            b->failed = 1;
            return;
        }
        drawn = d;
        drawn_cap = cap;
    }
    drawn[ndrawn++] = w;
}

/* The lines of every panel, a "[label]" line over each when there are several, in order: calls fn(line, len) for
 * each while it returns 0; returns how many there are. */
static size_t each_line(int (*fn)(void *, const char *, size_t), void *arg)
{
    size_t count = 0;
    int stop = 0;
    for (size_t i = 0; i < npanels; i++) {
        const struct panel *p = &panels[i];
        if (npanels > 1 && p->label) {
            char head[96];
            int n = snprintf(head, sizeof head, "[%s]", p->label);
            count++;
            if (!stop)
                stop = fn(arg, head, (size_t)n < sizeof head ? (size_t)n : sizeof head - 1);
        }
        size_t at = 0;
        for (;;) {
            const char *nl = memchr(p->text + at, '\n', p->len - at);
            size_t end = nl ? (size_t)(nl - p->text) : p->len;
            count++;
            if (!stop)
                stop = fn(arg, p->text + at, end - at);
            if (!nl)
                break;
            at = end + 1;
        }
    }
    return count;
}

struct draw {
    struct buf *b;
    size_t cols, left;  /* rows still free above the footer */
};

static int draw_line(void *arg, const char *line, size_t len)
{
    struct draw *d = arg;
    if (d->left == 0)
        return 1;
    row(d->b, line, len, d->cols);
    d->left--;
    return 0;
}

static int count_only(void *arg, const char *line, size_t len)
{
    (void)arg, (void)line, (void)len;
    return 1;
}

/* Draws every panel: at most rows - 1 screen rows (the cursor's row stays free), each row cut to cols - 1 columns
 * (a terminal that wraps on the last column would otherwise take a second row). */
static void draw(struct buf *b, int cols, int rows)
{
    if (npanels == 0 || open_line)
        return;
    size_t total = each_line(count_only, NULL);
    size_t room = rows > 2 ? (size_t)rows - 1 : 1;
    struct draw d = {b, cols > 1 ? (size_t)cols - 1 : 1, total > room ? room - 1 : total};
    ndrawn = 0;
    each_line(draw_line, &d);
    if (total > room) {
        char more[80];
        int n = snprintf(more, sizeof more, "... %zu more lines (status.txt has them all)", total - (room - 1));
        row(b, more, (size_t)n, d.cols);
    }
    shown = 1;
}

static void flush(struct buf *b)
{
    if (!b->failed && b->len > 0)
        outq_write(STDOUT_FILENO, b->p, b->len);
    free(b->p);
}

void termpanel_set(const char *label, const char *text, size_t len)
{
    pthread_mutex_lock(&mu);
    init_locked();
    if (!tty) {
        pthread_mutex_unlock(&mu);
        return;
    }
    size_t i = 0;
    while (i < npanels && !(label ? panels[i].label && strcmp(panels[i].label, label) == 0 : !panels[i].label))
        i++;
    char *copy = text ? malloc(len + 1) : NULL;
    if (text && !copy) {
        pthread_mutex_unlock(&mu);
        return;
    }
    if (i == npanels && text) {
        struct panel *np = realloc(panels, (npanels + 1) * sizeof *np);
        char *l = label ? strdup(label) : NULL;
        if (!np || (label && !l)) {
            if (np)
                panels = np;
            free(l);
            free(copy);
            pthread_mutex_unlock(&mu);
            return;
        }
        panels = np;
        panels[npanels++] = (struct panel){l, NULL, 0};
    }
    int cols, rows;
    size_of_screen(&cols, &rows);
    struct buf b = {0};
    erase(&b, cols);
    if (i < npanels) {
        free(panels[i].text);
        if (text) {
            memcpy(copy, text, len);
            panels[i].text = copy;
            panels[i].len = len;
        } else {
            free(panels[i].label);
            memmove(&panels[i], &panels[i + 1], (npanels - i - 1) * sizeof *panels);
            npanels--;
        }
    }
    draw(&b, cols, rows);
    flush(&b);
    pthread_mutex_unlock(&mu);
}

void termpanel_write(int fd, const char *p, size_t n)
{
    if (atomic_load_explicit(&tty, memory_order_acquire) == 0) {   /* not a terminal: no panel, no lock */
        outq_write(fd, p, n);
        return;
    }
    pthread_mutex_lock(&mu);
    init_locked();
    if (n == 0 || !tty || (fd == STDERR_FILENO && !err_same) || (fd != STDOUT_FILENO && fd != STDERR_FILENO) ||
        (!shown && !open_line && npanels == 0)) {
        if (n > 0 && tty && (fd == STDOUT_FILENO || (fd == STDERR_FILENO && err_same)))
            open_line = p[n - 1] != '\n';     /* a first panel waits below a line left open */
        outq_write(fd, p, n);   /* under mu: in order with the panels' writes */
        pthread_mutex_unlock(&mu);
        return;
    }
    int cols, rows;
    size_of_screen(&cols, &rows);
    struct buf b = {0};
    erase(&b, cols);
    add(&b, p, n);
    open_line = p[n - 1] != '\n';
    draw(&b, cols, rows);
    flush(&b);
    pthread_mutex_unlock(&mu);
}

void termpanel_poll(void)
{
    if (!resized)
        return;
    pthread_mutex_lock(&mu);
    resized = 0;
    if (shown) {
        int cols, rows;
        size_of_screen(&cols, &rows);
        struct buf b = {0};
        erase(&b, cols);
        draw(&b, cols, rows);
            flush(&b);
    }
    pthread_mutex_unlock(&mu);
}

void termpanel_clear(void)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < npanels; i++) {
        free(panels[i].label);
        free(panels[i].text);
    }
    free(panels);
    panels = NULL;
    npanels = 0;
    free(drawn);
    drawn = NULL;
    ndrawn = drawn_cap = 0;
    shown = 0;
    pthread_mutex_unlock(&mu);
}
