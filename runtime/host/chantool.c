/*
 * chantool.c: stratrun channel ls | get ID | watch ID (chantool.h, docs/tools.md). The channels of a data dir as
 * any bot reads them: through the channel engine (core/engine.h), following each channel as GetChannelData does,
 * over the backend of --channel. It publishes nothing, takes no lock and writes no channel.
 */
#include "host/chantool.h"
#include "host/bot.h"
#include "host/botdir.h"
#include "host/cli.h"
#include "host/options.h"
#include "core/chanid.h"
#include "core/clock.h"
#include "core/engine.h"
#include "core/logsink.h"
#include "core/outq.h"
#include "core/redact.h"
#include "core/termtext.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define USAGE "usage: stratrun channel ls [ID...] [--data-dir DIR] [--channel URL]\n" \
    "       stratrun channel get [--meta] ID [--data-dir DIR] [--channel URL]\n" \
    "       stratrun channel watch ID [--data-dir DIR] [--channel URL]\n" \
    "ls: the channels of the data dir's bots (and, on local, every channel file of the folder), or the IDs named:\n" \
    "    ID, seq, published time, age and size in bytes of the latest state.\n" \
    "get: the latest state's JSON on one line; --meta: {\"id\", \"seq\", \"published\", \"received\", \"data\"}.\n" \
    "watch: a line per new state (published time, seq, JSON) as it arrives, until SIGINT or SIGTERM.\n" \
    "URL: local (default: DIR/channels), local:FOLDER, redis://[user:password@]host:port[/db].\n"

#define WAIT_MS 2000        /* how long get and ls wait for a state that should come */
#define POLL_MS 10          /* how often they look; watch too */
#define MAX_IDS 256

enum cmd { CMD_NONE, CMD_LS, CMD_GET, CMD_WATCH };

struct args {
    enum cmd cmd;
    const char *data_dir;
    char *url;              /* a copy: the argument's password is starred out in argv */
    char dir_buf[PATH_MAX];
    const char *ids[MAX_IDS];
    int nids;
    int meta;
};

/* Parses argv: 0, 1 for --help (printed), or EXIT_USAGE. */
static int parse(struct args *a, int argc, char **argv, int at)
{
    static const char *const cmds[] = {"ls", "get", "watch"};
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v;
        if (i == at)
            continue;
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            outq_printf(STDOUT_FILENO, "%s", USAGE);
            return 1;
        }
        if (cli_opt(argc, argv, &i, at, "--data-dir", &v)) {
            if (!v)
                return cli_usage("channel", "option %s needs a value", s);
            if (!*v)
                return cli_usage("channel", "--data-dir needs a folder");
            a->data_dir = v;
        } else if (cli_opt(argc, argv, &i, at, "--channel", &v)) {
            if (!v)
                return cli_usage("channel", "option %s needs a value", s);
            free(a->url);
            if (!(a->url = strdup(v)))
                return cli_usage("channel", "out of memory");
            redact_in_place((char *)v);     /* what ps and /proc/PID/cmdline show, for as long as watch runs */
        } else if (strcmp(s, "--meta") == 0) {
            a->meta = 1;
        } else if (s[0] == '-' && s[1]) {
            return cli_usage("channel", "unknown option '%s'", s);
        } else if (a->cmd == CMD_NONE) {
            size_t k = 0;
            while (k < 3 && strcmp(s, cmds[k]) != 0)
                k++;
            if (k == 3)
                return cli_usage("channel", "unknown command '%s' (allowed: ls, get ID, watch ID)", s);
            a->cmd = (enum cmd)(k + 1);
        } else {
            const char *why = id_check(s, strlen(s));
            if (why)
                return cli_usage("channel", "channel ID '%.80s': it %s (an ID is 1-64 characters of A-Z a-z 0-9 _ -)",
                                 s, why);
            if (a->nids == MAX_IDS)
                return cli_usage("channel", "at most %d channel IDs", MAX_IDS);
            a->ids[a->nids++] = s;
        }
    }
    if (a->cmd == CMD_NONE)
        return cli_usage("channel", "name a command: ls, get ID or watch ID");
    if (a->cmd != CMD_LS && a->nids != 1)
        return cli_usage("channel", "%s takes one channel ID, not %d", cmds[a->cmd - 1], a->nids);
    if (a->meta && a->cmd != CMD_GET)
        return cli_usage("channel", "--meta goes with get");
    if (!a->url && !(a->url = strdup("local")))
        return cli_usage("channel", "out of memory");
    if (strcspn(a->url, ":") == 6 && strncmp(a->url, "memory", 6) == 0)
        return cli_usage("channel", "--channel memory: a memory channel lives inside one process, where no other "
                         "process can read it (allowed: local, local:DIR, redis://host:port)");
    if (!a->data_dir)
        a->data_dir = options_default_data_dir(a->dir_buf, sizeof a->dir_buf);
    return 0;
}

/* The local backend's channel folder of the URL into buf: 1, or 0 for another backend. */
static int local_folder(const struct args *a, char *buf, size_t size)
{
    if (strncmp(a->url, "local", 5) != 0 || (a->url[5] != '\0' && a->url[5] != ':'))
        return 0;
    if (a->url[5] == ':' && a->url[6])
        snprintf(buf, size, "%s", a->url + 6);
    else
        snprintf(buf, size, "%s/channels", a->data_dir);
    return 1;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Whether folder holds a channel file for id (a regular file, as the local backend reads it). */
static int has_file(const char *folder, const char *id)
{
    char path[PATH_MAX + ID_MAX + 2];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", folder, id);
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* json as one line for a terminal: the whitespace JSON allows between tokens (tab, CR, LF) as spaces, any other
 * control character (no JSON has one raw) as '?'. out holds CHAN_MAX + 1 bytes. */
static void one_line(const struct chan_state *st, char *out)
{
    tt_sanitize(st->data, st->len, out, st->len + 1);
}

/* The publisher's time of a state as the log shows times (local, ms). */
static void stamp(int64_t ms, char *buf, size_t size)
{
    size_t n = logsink_stamp(ms, buf, size);
    if (n > 0 && n < size && buf[n - 1] == ' ')
        buf[n - 1] = '\0';
}

static void age(int64_t ms, char *buf, size_t size)
{
    int64_t a = ms < 0 ? -ms : ms;
    const char *ahead = ms < 0 ? " ahead" : "";
    if (a < 10000)
        snprintf(buf, size, "%.1f s%s", (double)a / 1000, ahead);
    else if (a < 120000)
        snprintf(buf, size, "%lld s%s", (long long)(a / 1000), ahead);
    else if (a < 7200000)
        snprintf(buf, size, "%lld min%s", (long long)(a / 60000), ahead);
    else if (a < 172800000)
        snprintf(buf, size, "%lld h%s", (long long)(a / 3600000), ahead);
    else
        snprintf(buf, size, "%lld d%s", (long long)(a / 86400000), ahead);
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Follows channel id as GetChannelData does, and wakes the engine thread to start at once: it waits for a kick
 * (engine.h), which a bot gives when it sleeps. NULL when out of memory. */
static struct chan_entry *follow(struct engine *e, const char *id)
{
    struct chan_entry *c = engine_channel(e, id, 1);
    engine_kick(e);
    return c;
}

struct row {
    char id[ID_MAX + 1];
    struct chan_entry *c;
    int expect;             /* a state should come: wait for it */
};

static int by_id(const void *x, const void *y)
{
    return strcmp(((const struct row *)x)->id, ((const struct row *)y)->id);
}

static int add_row(struct row **rows, int *n, int *cap, const char *id)
{
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 64;
        struct row *nr = realloc(*rows, (size_t)nc * sizeof *nr);
        if (!nr)
            return -1;
        *rows = nr;
        *cap = nc;
    }
    memset(&(*rows)[*n], 0, sizeof **rows);
    snprintf((*rows)[(*n)++].id, ID_MAX + 1, "%s", id);
    return 0;
}

/* The IDs ls shows, sorted, each once: those named, else the data dir's bots' and the channel folder's files. */
static struct row *ls_ids(const struct args *a, const char *folder, int *n)
{
    struct row *rows = NULL;
    int cap = 0, ok = 0;
    *n = 0;
    for (int i = 0; i < a->nids; i++)
        ok |= add_row(&rows, n, &cap, a->ids[i]);
    if (a->nids == 0) {
        int nb;
        struct botinfo *bots = botdir_list(a->data_dir, &nb);
        for (int i = 0; i < nb; i++)
            ok |= add_row(&rows, n, &cap, bots[i].id);
        free(bots);
        DIR *d = folder ? opendir(folder) : NULL;
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (e->d_name[0] != '.' && !id_check(e->d_name, strlen(e->d_name)) && has_file(folder, e->d_name))
                ok |= add_row(&rows, n, &cap, e->d_name);
        if (d)
            closedir(d);
    }
    if (ok != 0)
        outq_printf(STDERR_FILENO, "stratrun channel ls: out of memory: some channels are not listed\n");
    if (*n > 0)
        qsort(rows, (size_t)*n, sizeof *rows, by_id);
    int k = 0;
    for (int i = 0; i < *n; i++)
        if (k == 0 || strcmp(rows[k - 1].id, rows[i].id) != 0)
            rows[k++] = rows[i];
    *n = k;
    return rows;
}

/* Waits until every row that expects a state has one (or was refused), at most WAIT_MS or until a stop signal. */
static void await_rows(struct engine *e, struct row *rows, int n)
{
    int64_t until = clock_mono_ms() + WAIT_MS;
    char why[256];
    for (;;) {
        int waiting = 0;
        for (int i = 0; i < n && !waiting; i++)
            waiting = rows[i].c && rows[i].expect && engine_seq(rows[i].c) == 0 &&
                      !engine_refused(e, rows[i].c, why, sizeof why);
        if (!waiting || clock_mono_ms() >= until || bot_signal_received())
            return;
        pause_ms(POLL_MS);
    }
}

static int ls(const struct args *a, struct engine *e, const char *folder)
{
    int n;
    struct row *rows = ls_ids(a, folder, &n);
    if (n == 0) {
        outq_printf(STDERR_FILENO, "stratrun channel ls: no channels in %s: no bot has run there%s (is --data-dir "
                    "the bots'? On Redis, name the channels: stratrun channel ls ID...)\n", a->data_dir,
                    folder ? " and its channel folder holds none" : "");
        free(rows);
        return EXIT_DONE;
    }
    for (int i = 0; i < n && e; i++) {
        rows[i].c = follow(e, rows[i].id);
        rows[i].expect = !folder || has_file(folder, rows[i].id);
    }
    if (e)
        await_rows(e, rows, n);
    struct chan_state *st = malloc(sizeof *st);
    char (*cells)[4][40] = calloc((size_t)n, sizeof *cells);
    if (!st || !cells) {
        outq_printf(STDERR_FILENO, "stratrun channel ls: out of memory\n");
        free(st), free(cells), free(rows);
        return EXIT_STRATEGY;
    }
    static const char *const heads[] = {"SEQ", "PUBLISHED", "AGE", "BYTES"};
    int wid = 2, w[4];
    for (int k = 0; k < 4; k++)
        w[k] = (int)strlen(heads[k]);
    for (int i = 0; i < n; i++) {
        char why[256];
        int64_t seq = rows[i].c ? engine_read(e, rows[i].c, st) : 0;
        if (seq > 0) {
            snprintf(cells[i][0], sizeof cells[i][0], "%lld", (long long)seq);
            stamp(st->published, cells[i][1], sizeof cells[i][1]);
            /* now, after the read: a state the engine took in after a clock read at the start was "ahead" */
            age(clock_wall_ms() - st->published, cells[i][2], sizeof cells[i][2]);
            snprintf(cells[i][3], sizeof cells[i][3], "%zu", st->len);
        } else {
            for (int k = 0; k < 4; k++)
                snprintf(cells[i][k], sizeof cells[i][k], "-");
        }
        if (rows[i].c && engine_refused(e, rows[i].c, why, sizeof why))
            outq_printf(STDERR_FILENO, "stratrun channel ls: channel %s: %s\n", rows[i].id, why);
        int l = (int)strlen(rows[i].id);
        wid = l > wid ? l : wid;
        for (int k = 0; k < 4; k++) {
            l = (int)strlen(cells[i][k]);
            w[k] = l > w[k] ? l : w[k];
        }
    }
    outq_printf(STDOUT_FILENO, "%-*s  %*s  %-*s  %*s  %*s\n", wid, "ID", w[0], heads[0], w[1], heads[1], w[2],
                heads[2], w[3], heads[3]);
    for (int i = 0; i < n; i++)
        outq_printf(STDOUT_FILENO, "%-*s  %*s  %-*s  %*s  %*s\n", wid, rows[i].id, w[0], cells[i][0], w[1],
                    cells[i][1], w[2], cells[i][2], w[3], cells[i][3]);
    free(st), free(cells), free(rows);
    return EXIT_DONE;
}

static int get(const struct args *a, struct engine *e, const char *folder)
{
    const char *id = a->ids[0];
    char why[256], shown[CHAN_MAX + 1];
    struct row r = {.c = follow(e, id), .expect = 1};
    if (!r.c) {
        outq_printf(STDERR_FILENO, "stratrun channel get: out of memory\n");
        return EXIT_STRATEGY;
    }
    if (folder && !has_file(folder, id)) {
        outq_printf(STDERR_FILENO, "stratrun channel get: channel %s has no state: no file %s/%s\n", id, folder, id);
        return EXIT_STRATEGY;
    }
    await_rows(e, &r, 1);
    struct chan_state *st = malloc(sizeof *st);
    int64_t seq = st ? engine_read(e, r.c, st) : 0;
    int status = EXIT_STRATEGY;
    if (engine_refused(e, r.c, why, sizeof why)) {
        outq_printf(STDERR_FILENO, "stratrun channel get: channel %s: %s\n", id, why);
    } else if (seq <= 0) {
        outq_printf(STDERR_FILENO, "stratrun channel get: channel %s has no state (none came through %s within "
                    "%d s)\n", id, engine_backend_name(e), WAIT_MS / 1000);
    } else {
        one_line(st, shown);
        if (a->meta)
            outq_printf(STDOUT_FILENO, "{\"id\":\"%s\",\"seq\":%lld,\"published\":%lld,\"received\":%lld,"
                        "\"data\":%s}\n", id, (long long)seq, (long long)st->published,
                        (long long)(st->received_us / 1000), shown);
        else
            outq_printf(STDOUT_FILENO, "%s\n", shown);
        status = EXIT_DONE;
    }
    free(st);
    return status;
}

static int watch(const struct args *a, struct engine *e)
{
    const char *id = a->ids[0];
    struct chan_entry *c = follow(e, id);
    struct chan_state *st = malloc(sizeof *st);
    if (!c || !st) {
        outq_printf(STDERR_FILENO, "stratrun channel watch: out of memory\n");
        free(st);
        return EXIT_STRATEGY;
    }
    int64_t last = 0;
    int refused = 0;
    char why[256], when[40], shown[CHAN_MAX + 1];
    while (!bot_signal_received()) {
        if (engine_seq(c) != last) {
            last = engine_read(e, c, st);
            stamp(st->published, when, sizeof when);
            one_line(st, shown);
            outq_printf(STDOUT_FILENO, "%s %lld %s\n", when, (long long)last, shown);
        }
        /* A refusal (a permission Redis denies) is said when it starts and when it ends. */
        int now = engine_refused(e, c, why, sizeof why);
        if (now != refused)
            outq_printf(STDERR_FILENO, now ? "stratrun channel watch: channel %s: %s\n"
                        : "stratrun channel watch: channel %s: readable again\n", id, why);
        refused = now;
        pause_ms(POLL_MS);
    }
    free(st);
    return EXIT_DONE;
}

int chantool_main(int argc, char **argv, int at)
{
    struct args a;
    memset(&a, 0, sizeof a);
    int rc = parse(&a, argc, argv, at);
    if (rc != 0) {
        free(a.url);
        return rc == 1 ? EXIT_DONE : rc;
    }
    char folder[PATH_MAX + 16], err[1024];
    int local = local_folder(&a, folder, sizeof folder);
    /* The engine would make a missing channel folder (and the data dir above it): a tool makes nothing. */
    if (local && !is_dir(folder)) {
        if (a.cmd == CMD_LS) {
            rc = ls(&a, NULL, NULL);
        } else {
            outq_printf(STDERR_FILENO, "stratrun channel %s: no channel folder %s: no bot has published there (is "
                        "--data-dir the bots'?)\n", a.cmd == CMD_GET ? "get" : "watch", folder);
            rc = EXIT_STRATEGY;
        }
        free(a.url);
        return rc;
    }
    struct engine *e = engine_open(a.url, a.data_dir, err, sizeof err);
    if (!e) {
        rc = cli_usage("channel", "--channel: %s", err);
        free(a.url);
        return rc;
    }
    const char *f = local ? folder : NULL;
    rc = a.cmd == CMD_LS ? ls(&a, e, f) : a.cmd == CMD_GET ? get(&a, e, f) : watch(&a, e);
    engine_close(e, 1000);     /* nothing to push: the thread ends at once, unless a backend call is stuck */
    free(a.url);
    return rc;
}
