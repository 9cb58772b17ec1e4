/*
 * tools.c: the shell tools over a data dir (tools.h, docs/tools.md): stratrun ps, stratrun stop, stratrun logs.
 * They read the bots' folders (the lock file with its PID and script, log.txt) and signal a bot's process; they
 * never start a bot, take a bot's lock, or write into its folder.
 */
#include "host/tools.h"
#include "host/bot.h"
#include "host/botdir.h"
#include "host/cli.h"
#include "host/chantool.h"
#include "host/options.h"
#include "host/scaffold.h"
#include "host/datatool.h"
#include "host/serve.h"
#include "core/chanid.h"
#include "core/clock.h"
#include "core/fsutil.h"
#include "core/outq.h"
#include "core/termtext.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define USAGE_PS "usage: stratrun ps [--data-dir DIR]\n" \
    "Lists the bots of the data dir: ID, state, PID, since, script and last log line.\n"
#define USAGE_STOP "usage: stratrun stop [--data-dir DIR] [--timeout S] ID...\n" \
    "Sends SIGTERM to each bot's process and waits (at most S seconds, default 330) until its onexit is done.\n" \
    "Bots that share a process (stratrun run) are stopped together and must all be named.\n"
#define USAGE_LOGS "usage: stratrun logs [--data-dir DIR] [-n N] [-f] ID\n" \
    "Prints the last N lines (default 10) of the bot's log.txt; -f then prints lines as they are written.\n"

enum tool { TOOL_PS, TOOL_STOP, TOOL_LOGS };
static const char *const names[] = {"ps", "stop", "logs"};
static const char *const usages[] = {USAGE_PS, USAGE_STOP, USAGE_LOGS};

struct args {
    enum tool tool;
    const char *data_dir;
    char dir_buf[PATH_MAX];
    const char *ids[256];
    int nids;
    long lines;         /* logs -n */
    int follow;         /* logs -f */
    double timeout_s;   /* stop --timeout */
};

static int number(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

/* Parses argv (global options before or after the tool's name). 0, 1 for --help (printed), or EXIT_USAGE. */
static int parse(struct args *a, int argc, char **argv, int at)
{
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (i == at)
            continue;
        const char *v = NULL, *name = NULL;
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            outq_printf(STDOUT_FILENO, "%s", usages[a->tool]);
            return 1;
        }
        if (cli_opt(argc, argv, &i, at, "--data-dir", &v))
            name = "--data-dir";
        else if (a->tool == TOOL_LOGS && cli_opt(argc, argv, &i, at, "-n", &v))
            name = "-n";
        else if (a->tool == TOOL_STOP && cli_opt(argc, argv, &i, at, "--timeout", &v))
            name = "--timeout";
        if (name) {
            double d;
            if (!v)
                return cli_usage(names[a->tool], "option %s needs a value", name);
            if (strcmp(name, "--data-dir") == 0) {
                if (!*v)
                    return cli_usage(names[a->tool], "--data-dir needs a folder");
                a->data_dir = v;
            } else if (strcmp(name, "-n") == 0) {
                if (number(v, 0, 1e9, &d) != 0 || d != (long)d)
                    return cli_usage(names[a->tool], "-n '%s': a whole number of lines, 0 to 1000000000", v);
                a->lines = (long)d;
            } else {
                if (number(v, 0, 86400, &d) != 0)
                    return cli_usage(names[a->tool], "--timeout '%s': seconds, 0 to 86400", v);
                a->timeout_s = d;
            }
        } else if (a->tool == TOOL_LOGS && strcmp(s, "-f") == 0) {
            a->follow = 1;
        } else if (s[0] == '-' && s[1]) {
            return cli_usage(names[a->tool], "unknown option '%s'", s);
        } else {
            const char *why = id_check(s, strlen(s));
            if (why)
                return cli_usage(names[a->tool], "bot ID '%s': %s", s, why);
            int seen = 0;
            for (int k = 0; k < a->nids && !seen; k++)
                seen = strcmp(a->ids[k], s) == 0;
            if (seen)
                continue;   /* stop a a: one bot */
            if (a->nids == (int)(sizeof a->ids / sizeof a->ids[0]))
                return cli_usage(names[a->tool], "at most %zu bot IDs", sizeof a->ids / sizeof a->ids[0]);
            a->ids[a->nids++] = s;
        }
    }
    if (a->tool == TOOL_PS && a->nids > 0)
        return cli_usage(names[a->tool], "takes no bot ID ('%s')", a->ids[0]);
    if (a->tool == TOOL_STOP && a->nids == 0)
        return cli_usage(names[a->tool], "name the bot IDs to stop");
    if (a->tool == TOOL_LOGS && a->nids != 1)
        return cli_usage(names[a->tool], "takes one bot ID, not %d", a->nids);
    if (!a->data_dir)
        a->data_dir = options_default_data_dir(a->dir_buf, sizeof a->dir_buf);
    return 0;
}

static int ps(const struct args *a)
{
    int n;
    struct botinfo *bots = botdir_list(a->data_dir, &n);
    if (n == 0) {
        outq_printf(STDERR_FILENO, "stratrun ps: no bots in %s%s\n", a->data_dir,
            errno == ENOENT ? " (it has no bots folder: is --data-dir the bots'?)" : "");
        free(bots);
        return EXIT_DONE;
    }
    int wid = 2, wpid = 3, wscript = 6;
    for (int i = 0; i < n; i++) {
        char pid[24];
        int l = (int)strlen(bots[i].id);
        wid = l > wid ? l : wid;
        l = snprintf(pid, sizeof pid, "%ld", bots[i].pid);
        wpid = bots[i].held && l > wpid ? l : wpid;
        l = (int)strlen(bots[i].script);
        wscript = l > wscript ? l : wscript;
    }
    outq_printf(STDOUT_FILENO, "%-*s  %-7s  %*s  %-19s  %-*s  %s\n", wid, "ID", "STATE", wpid, "PID", "SINCE", wscript,
        "SCRIPT", "LAST LOG LINE");
    for (int i = 0; i < n; i++) {
        const struct botinfo *b = &bots[i];
        char pid[24] = "-", since[32] = "-", raw[1024], line[1024], script[PATH_MAX];
        if (b->held) {
            snprintf(pid, sizeof pid, "%ld", b->pid);
            botdir_stamp(b->since, since, sizeof since);
        }
        botdir_last_line(a->data_dir, b->id, raw, sizeof raw);
        tt_sanitize(raw, strlen(raw), line, sizeof line);  /* a strategy's line: no escape reaches the terminal */
        tt_sanitize(b->script, strlen(b->script), script, sizeof script);
        outq_printf(STDOUT_FILENO, "%-*s  %-7s  %*s  %-19s  %-*s  %s\n", wid, b->id, b->held ? "running" : "stopped", wpid,
            pid, since, wscript, script[0] ? script : "-", line);
    }
    free(bots);
    return EXIT_DONE;
}

static int named(const struct args *a, const char *id)
{
    for (int i = 0; i < a->nids; i++)
        if (strcmp(a->ids[i], id) == 0)
            return 1;
    return 0;
}

static int stop(const struct args *a)
{
    struct botinfo want[sizeof a->ids / sizeof a->ids[0]];
    for (int i = 0; i < a->nids; i++) {
        if (botdir_look(a->data_dir, a->ids[i], &want[i]) != 0) {
            outq_printf(STDERR_FILENO, "stratrun stop: bot %s has never run in %s (is --data-dir the bot's?)\n", a->ids[i],
                a->data_dir);
            return EXIT_STRATEGY;
        }
        if (!want[i].held) {
            outq_printf(STDERR_FILENO, "stratrun stop: bot %s is not running\n", a->ids[i]);
            return EXIT_STRATEGY;
        }
        if (want[i].pid <= 0 || want[i].pid > INT_MAX || want[i].pid == (long)getpid()) {
            outq_printf(STDERR_FILENO, "stratrun stop: bot %s runs, but its lock file names no process to signal\n",
                a->ids[i]);
            return EXIT_STRATEGY;
        }
    }
    /* A process runs every bot of its `stratrun run`: a SIGTERM stops them all, so all must be named. */
    int n;
    struct botinfo *bots = botdir_list(a->data_dir, &n);
    for (int i = 0; i < a->nids; i++) {
        char others[1024] = "", all[1024] = "";
        size_t ol = 0, al = 0;
        for (int k = 0; k < n; k++)
            if (bots[k].held && bots[k].pid == want[i].pid) {
                al += (size_t)snprintf(all + al, al < sizeof all ? sizeof all - al : 0, " %s", bots[k].id);
                if (!named(a, bots[k].id))
                    ol += (size_t)snprintf(others + ol, ol < sizeof others ? sizeof others - ol : 0, "%s%s",
                                           ol ? ", " : "", bots[k].id);
            }
        if (ol) {
            outq_printf(STDERR_FILENO, "stratrun stop: bot %s runs in process %ld with %s (one stratrun run): stopping it "
                "stops them all; to do that, name them all: stratrun stop%s\n", want[i].id, want[i].pid, others,
                all);
            free(bots);
            return EXIT_USAGE;
        }
    }
    free(bots);
    /* A process that cannot be signalled (another user's) is said and left out; the bots signalled are still
     * waited for, so their onexit is not reported as cut short. */
    int left = a->nids, status = EXIT_DONE;
    int done[sizeof a->ids / sizeof a->ids[0]] = {0};
    for (int i = 0; i < a->nids; i++) {
        int first = 1;
        for (int k = 0; k < i; k++)
            first &= want[k].pid != want[i].pid;
        if (first && kill((pid_t)want[i].pid, SIGTERM) != 0) {
            outq_printf(STDERR_FILENO, "stratrun stop: cannot signal process %ld of bot %s: %s\n", want[i].pid, want[i].id,
                strerror(errno));
            status = EXIT_STRATEGY;
            for (int k = i; k < a->nids; k++)
                if (want[k].pid == want[i].pid)
                    done[k] = 1, left--;
        }
    }
    int64_t t0 = clock_mono_ns(), limit = (int64_t)(a->timeout_s * 1e9);
    for (;;) {
        for (int i = 0; i < a->nids; i++) {
            struct botinfo now;
            if (done[i] || (botdir_look(a->data_dir, want[i].id, &now) == 0 && now.held && now.pid == want[i].pid))
                continue;
            done[i] = 1;
            left--;
            char raw[1024], line[1024];
            botdir_last_line(a->data_dir, want[i].id, raw, sizeof raw);
            tt_sanitize(raw, strlen(raw), line, sizeof line);
            outq_printf(STDOUT_FILENO, "bot %s (process %ld) stopped in %.1f s; its log ends: %s\n", want[i].id, want[i].pid,
                (double)(clock_mono_ns() - t0) / 1e9, line[0] ? line : "(empty)");
        }
        if (left == 0 || bot_signal_received())
            break;
        if (clock_mono_ns() - t0 >= limit) {
            for (int i = 0; i < a->nids; i++)
                if (!done[i])
                    outq_printf(STDERR_FILENO, "stratrun stop: bot %s (process %ld) still runs after %g s: its onexit may "
                        "still be running; stratrun stop %s again ends it at once, cutting onexit short\n",
                        want[i].id, want[i].pid, a->timeout_s, want[i].id);
            status = EXIT_STRATEGY;
            break;
        }
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    return left && status == EXIT_DONE ? EXIT_STRATEGY : status;
}

/* Writes the bytes of fd from *pos to end to stdout; *pos moves past them. */
static void copy_out(int fd, off_t *pos, off_t end)
{
    char buf[65536];
    ssize_t r;
    while (*pos < end && (r = pread(fd, buf, end - *pos > (off_t)sizeof buf ? sizeof buf : (size_t)(end - *pos),
                                    *pos)) > 0) {
        outq_write(STDOUT_FILENO, buf, (size_t)r);
        *pos += r;
    }
}

/* The lines of fd's first size bytes (a last line without its newline counts). */
static long long count_lines(int fd, off_t size)
{
    char buf[65536];
    long long n = 0;
    off_t at = 0;
    ssize_t r;
    int last = '\n';
    while (at < size && (r = pread(fd, buf, size - at > (off_t)sizeof buf ? sizeof buf : (size_t)(size - at), at)) > 0) {
        for (ssize_t i = 0; i < r; i++)
            n += buf[i] == '\n';
        last = buf[r - 1];
        at += r;
    }
    return n + (last != '\n');
}

/* A log.txt shorter than the lines asked for was rotated (logsink.h): the rest, want lines, come from the end of
 * log.txt.1 (one file back; older ones are not read). */
static void older_lines(const char *path, long long want)
{
    char older[PATH_MAX + 136];
    snprintf(older, sizeof older, "%s.1", path);
    int fd = want > 0 ? fs_open_regular(older) : -1;
    struct stat st;
    if (fd < 0)
        return;
    off_t pos;
    if (fstat(fd, &st) == 0 && (pos = fs_tail_start(fd, st.st_size, want, 0)) >= 0)
        copy_out(fd, &pos, st.st_size);
    close(fd);
}

static int logs(const struct args *a)
{
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/bots/%s", a->data_dir, a->ids[0]);
    struct stat st;
    if (stat(path, &st) != 0) {
        outq_printf(STDERR_FILENO, "stratrun logs: bot %s has never run in %s (is --data-dir the bot's?)\n", a->ids[0],
            a->data_dir);
        return EXIT_STRATEGY;
    }
    snprintf(path, sizeof path, "%s/bots/%s/log.txt", a->data_dir, a->ids[0]);
    int fd = fs_open_regular(path);
    if (fd < 0 && (errno != ENOENT || !a->follow)) {
        outq_printf(STDERR_FILENO, "stratrun logs: cannot read %s: %s\n", path, strerror(errno));
        return EXIT_STRATEGY;
    }
    off_t pos = 0;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        pos = a->lines == 0 ? st.st_size : fs_tail_start(fd, st.st_size, a->lines, 0);
        if (pos < 0) {
            outq_printf(STDERR_FILENO, "stratrun logs: cannot read %s: %s\n", path, strerror(errno));
            close(fd);
            return EXIT_STRATEGY;
        }
        if (pos == 0 && a->lines > 0)
            older_lines(path, a->lines - count_lines(fd, st.st_size));
        copy_out(fd, &pos, st.st_size);     /* the last N lines as they were: not a line more */
    }
    if (fd >= 0)
        close(fd);
    /* -f: the file is looked at every 100 ms until a signal, from where the lines above ended (botdir.h: a log
     * replaced by LogReset or cut shorter is followed from its new end, so no line is shown twice). */
    if (a->follow) {
        struct logtail t;
        logtail_open(&t, path, fd >= 0 ? (long long)pos : 0);
        char buf[65536];
        while (!bot_signal_received()) {
            size_t n = logtail_read(&t, buf, sizeof buf);
            if (n > 0) {
                outq_write(STDOUT_FILENO, buf, n);
                continue;
            }
            struct timespec ts = {0, 100 * 1000000};
            nanosleep(&ts, NULL);
        }
        logtail_close(&t);
    }
    return EXIT_DONE;
}

int tools_main(int argc, char **argv, int *status)
{
    const int at = 1;   /* the tool's name: options_subcommand_first moved it there */
    if (argc < 2)
        return 0;
    if (strcmp(argv[at], "serve") == 0) {
        *status = serve_main(argc, argv, at);
        return 1;
    }
    if (strcmp(argv[at], "channel") == 0) {
        *status = chantool_main(argc, argv, at);
        return 1;
    }
    if (strcmp(argv[at], "new") == 0) {
        *status = scaffold_main(argc, argv, at);
        return 1;
    }
    if (strcmp(argv[at], "data") == 0) {
        *status = datatool_main(argc, argv, at);
        return 1;
    }
    struct args a;
    memset(&a, 0, sizeof a);
    a.lines = 10;
    a.timeout_s = 330;
    size_t t = 0;
    while (t < sizeof names / sizeof names[0] && strcmp(argv[at], names[t]) != 0)
        t++;
    if (t == sizeof names / sizeof names[0])
        return 0;
    a.tool = (enum tool)t;
    int rc = parse(&a, argc, argv, at);
    if (rc == 1)
        *status = EXIT_DONE;
    else if (rc != 0)
        *status = rc;
    else
        *status = a.tool == TOOL_PS ? ps(&a) : a.tool == TOOL_STOP ? stop(&a) : logs(&a);
    return 1;
}
