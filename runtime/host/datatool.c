/*
 * datatool.c: stratrun data download --market rest:BASE-URL --symbol S [--period P] --from T [--to T] OUT.csv
 *
 * The candles come from history.c, page by page, and are written as they come into a temp file beside OUT
 * (fs_temp_open); OUT appears, whole, only when the download is done and every page passed its checks. A failed
 * or interrupted download leaves OUT as it was (or absent) and no temp file.
 */
#include "host/datatool.h"
#include "host/bot.h"
#include "host/cli.h"
#include "core/clock.h"
#include "core/fsutil.h"
#include "core/outq.h"
#include "core/timeparse.h"
#include "data/binance.h"
#include "data/history.h"
#include "data/market.h"
#include "lua/ctx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TOOL "data download"

static const char usage[] =
    "usage: stratrun data download --market rest:BASE-URL --symbol SYMBOL [--period P] --from T [--to T]\n"
    "                              [--timeout MS] [--weight N] [--retries N] [--force] [--quiet] OUT.csv\n"
    "\n"
    "Downloads a venue's historical candles (Binance's GET /api/v3/klines, or a venue with the same API) into\n"
    "OUT.csv, which `stratrun replay --market OUT.csv` replays. Paged, 1,000 candles a request, within the\n"
    "venue's rate limits (HTTP 429/418 and their Retry-After, the X-MBX-USED-WEIGHT-1M header). OUT.csv appears\n"
    "whole when every page has arrived and passed its checks, or not at all.\n"
    "\n"
    "  --market rest:URL   the venue's base URL, e.g. rest:https://api.binance.com\n"
    "  --symbol SYMBOL     BASE_QUOTE, e.g. BTC_USDT\n"
    "  --period P          " HISTORY_PERIODS " (default 1m)\n"
    "  --from T, --to T    the span: candles opening at T or later, and before --to (default: now); ISO 8601\n"
    "                      (2024-01-01, 2024-01-01T12:00:00Z) or ms since 1970. Only closed candles are written.\n"
    "  --timeout MS        each request, from 100 to 600000 (default 10000)\n"
    "  --weight N          the venue's request weight limit per minute, from 0 (not watched) to 1000000\n"
    "                      (default 6000, Binance's)\n"
    "  --retries N         a request that fails on the way (no answer, a timeout, HTTP 5xx) is tried again N\n"
    "                      times, after 1, 2, 4, ... s (0 to 20, default 5)\n"
    "  --force             replace OUT.csv if it exists (without it, an existing file is kept and nothing runs)\n"
    "  --quiet             no progress on stderr\n";

struct out {
    int fd;
    char buf[1 << 16];
    size_t len;
    int quiet, tty;
    int64_t period, from, end;
    long shown;         /* candles when the progress line was last drawn */
};

static int flush_out(struct out *o)
{
    int rc = fs_write_all(o->fd, o->buf, o->len);
    o->len = 0;
    return rc;
}

static int take(void *arg, const struct candle *c, long n)
{
    struct out *o = arg;
    for (long i = 0; i < n; i++) {
        if (o->len + MARKET_CSV_ROW > sizeof o->buf && flush_out(o) != 0)
            return -1;
        o->len += market_csv_row(&c[i], o->buf + o->len);
    }
    if (!o->quiet && o->tty && n > 0) {
        char at[32];
        time_format_utc(c[n - 1].time, TIME_ISO, at, sizeof at);
        double done = o->end > o->from ? (double)(c[n - 1].time + o->period - o->from) / (double)(o->end - o->from) : 1;
        outq_printf(STDERR_FILENO, "\r\x1b[Kdownloading: up to %s (%.0f %%)", at, done * 100);
        o->shown = 1;
    }
    return 0;
}

static void say(void *arg, const char *line)
{
    struct out *o = arg;
    if (o->shown)
        outq_printf(STDERR_FILENO, "\r\x1b[K");
    o->shown = 0;
    outq_printf(STDERR_FILENO, "stratrun " TOOL ": %s\n", line);
}

static const char *plural(long long n)
{
    return n == 1 ? "" : "s";
}

static int stopped(void *arg)
{
    (void)arg;
    return bot_signal_received() != 0;
}

static int number(const char *v, long lo, long hi, long *out)
{
    char *e;
    errno = 0;
    long x = strtol(v, &e, 10);
    if (!*v || *e || errno || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

static int download(int argc, char **argv, int at)
{
    const char *market = NULL, *symbol = NULL, *period = "1m", *from = NULL, *to = NULL, *out_path = NULL, *v;
    long timeout = 10000, weight = 6000, retries = 5;
    int force = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (i == at || i == at + 1)
            continue;
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            outq_printf(STDOUT_FILENO, "%s", usage);
            return EXIT_DONE;
        }
        const struct {
            const char *name;
            const char **dst;
        } texts[] = {{"--market", &market}, {"--symbol", &symbol}, {"--period", &period}, {"--from", &from},
                     {"--to", &to}};
        size_t t = 0;
        while (t < sizeof texts / sizeof texts[0] && !cli_opt(argc, argv, &i, at, texts[t].name, texts[t].dst))
            t++;
        if (t < sizeof texts / sizeof texts[0]) {
            if (!*texts[t].dst || !**texts[t].dst)
                return cli_usage(TOOL, "option %s needs a value", texts[t].name);
        } else if (cli_opt(argc, argv, &i, at, "--timeout", &v)) {
            if (!v || number(v, 100, 600000, &timeout) != 0)
                return cli_usage(TOOL, "--timeout '%.40s': allowed are ms from 100 to 600000", v ? v : "");
        } else if (cli_opt(argc, argv, &i, at, "--weight", &v)) {
            if (!v || number(v, 0, 1000000, &weight) != 0)
                return cli_usage(TOOL, "--weight '%.40s': allowed are 0 (not watched) to 1000000 per minute",
                                 v ? v : "");
        } else if (cli_opt(argc, argv, &i, at, "--retries", &v)) {
            if (!v || number(v, 0, 20, &retries) != 0)
                return cli_usage(TOOL, "--retries '%.40s': allowed are 0 to 20", v ? v : "");
        } else if (strcmp(s, "--force") == 0) {
            force = 1;
        } else if (strcmp(s, "--quiet") == 0) {
            quiet = 1;
        } else if (strncmp(s, "--data-dir", 10) == 0) {
            return cli_usage(TOOL, "--data-dir: a download writes OUT.csv, not into a data dir");
        } else if (s[0] == '-' && s[1]) {
            return cli_usage(TOOL, "unknown option '%.80s'", s);
        } else if (out_path) {
            return cli_usage(TOOL, "takes one OUT.csv: '%.80s' is one too many", s);
        } else {
            out_path = s;
        }
    }
    if (!market)
        return cli_usage(TOOL, "--market rest:BASE-URL is needed (e.g. rest:https://api.binance.com)");
    const char *base = strncmp(market, "rest:", 5) == 0 ? market + 5 : NULL;
    if (!base || !((strncmp(base, "http://", 7) == 0 && base[7]) || (strncmp(base, "https://", 8) == 0 && base[8])))
        return cli_usage(TOOL, "--market '%.200s': allowed is rest:BASE-URL with an http:// or https:// URL", market);
    if (strchr(base, ','))
        return cli_usage(TOOL, "--market '%.200s': a download takes the base URL only; give the symbol with "
                         "--symbol and the settings with --timeout and --weight", market);
    if (!symbol)
        return cli_usage(TOOL, "--symbol is needed (BASE_QUOTE, e.g. BTC_USDT)");
    char venue[40];
    if (binance_symbol(symbol, venue, sizeof venue) != 0)
        return cli_usage(TOOL, "--symbol '%.80s': allowed is BASE_QUOTE in capitals and digits, e.g. BTC_USDT",
                         symbol);
    int64_t pms = history_period(period);
    if (!pms)
        return cli_usage(TOOL, "--period '%.40s': allowed are %s", period, HISTORY_PERIODS);
    if (!from)
        return cli_usage(TOOL, "--from is needed (the first candle's time: 2024-01-01, or ms since 1970)");
    int64_t from_ms, to_ms = clock_wall_ms();
    int r = time_parse(from, strlen(from), TIME_MS, &from_ms);
    if (r != 0 || from_ms < 0)
        return cli_usage(TOOL, "--from '%.80s': allowed is a time from 1970 on, ISO 8601 (2024-01-01T00:00:00Z) "
                         "or ms since 1970", from);
    if (to && ((r = time_parse(to, strlen(to), TIME_MS, &to_ms)) != 0 || to_ms < 0))
        return cli_usage(TOOL, "--to '%.80s': allowed is a time from 1970 on, ISO 8601 (2024-01-01T00:00:00Z) "
                         "or ms since 1970", to);
    if (to_ms <= from_ms)
        return cli_usage(TOOL, "--to (%.40s) must be after --from (%.40s)", to ? to : "now", from);
    if (!out_path)
        return cli_usage(TOOL, "name the file to write: ... OUT.csv");
    struct stat st;
    if (!force && lstat(out_path, &st) == 0) {
        outq_printf(STDERR_FILENO, "stratrun " TOOL ": %s exists already: nothing was downloaded (--force "
                    "replaces it)\n", out_path);
        return EXIT_STRATEGY;
    }
    if (lstat(out_path, &st) == 0 && !S_ISREG(st.st_mode)) {
        outq_printf(STDERR_FILENO, "stratrun " TOOL ": %s is not a regular file (a symlink, a folder, ...): "
                    "stratrun replaces only a file\n", out_path);
        return EXIT_STRATEGY;
    }

    static struct out o;    /* 64 KiB: not on the stack */
    memset(&o, 0, sizeof o);
    char tmp[4200], err[4400];
    mode_t mask = umask(0);
    umask(mask);
    if ((o.fd = fs_temp_open(out_path, 0666 & ~(int)mask, tmp, sizeof tmp, err, sizeof err)) < 0) {
        const char *slash = strrchr(out_path, '/');
        outq_printf(STDERR_FILENO, "stratrun " TOOL ": cannot write %s: its folder %.*s refuses a new file: %s\n",
                    out_path, slash ? (int)(slash - out_path + (slash == out_path)) : 1, slash ? out_path : ".",
                    strerror(errno));
        return EXIT_STRATEGY;
    }
    o.len = strlen(market_csv_header);
    memcpy(o.buf, market_csv_header, o.len);
    o.quiet = quiet;
    o.tty = isatty(STDERR_FILENO);
    o.period = pms;
    o.from = from_ms;
    o.end = to_ms < clock_wall_ms() ? to_ms : clock_wall_ms();     /* the progress's 100 % */
    struct history_req q = {.base = base, .symbol = symbol, .period = period, .from_ms = from_ms, .to_ms = to_ms,
                            .timeout_ms = timeout, .weight = weight, .retries = (int)retries, .take = take, .say = say,
                            .stopped = stopped, .arg = &o};
    struct history_stats hs;
    int rc = history_download(&q, &hs, err, sizeof err);
    if (o.shown)
        outq_printf(STDERR_FILENO, "\r\x1b[K");
    if (rc == 0 && flush_out(&o) != 0) {
        snprintf(err, sizeof err, "cannot write %s: %s", tmp, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && hs.candles == 0) {
        char a[32], b[32];
        time_format_utc(from_ms, TIME_ISO, a, sizeof a);
        time_format_utc(hs.end, TIME_ISO, b, sizeof b);
        if (hs.requests == 0)
            snprintf(err, sizeof err, "no %s candle from %s on has closed yet: nothing to download", period, a);
        else
            snprintf(err, sizeof err, "the venue has no %s %s candles from %s to %s: nothing written", symbol,
                     period, a, b);
        rc = -1;
    }
    if (rc != 0) {
        fs_temp_abandon(o.fd, tmp);
        outq_printf(STDERR_FILENO, "stratrun " TOOL ": %s%s\n", err,
                    hs.candles > 0 ? " (nothing written: the candles downloaded before were dropped)" : "");
        return bot_signal_received() ? 128 + bot_signal_received() : EXIT_STRATEGY;
    }
    /* Without --force a file that appeared meanwhile is kept: link(2), which never replaces. */
    if (fs_temp_commit(o.fd, tmp, out_path, force, err, sizeof err) != 0) {
        outq_printf(STDERR_FILENO, "stratrun " TOOL ": %s\n", err);
        return EXIT_STRATEGY;
    }
    char a[32], b[32], g[32];
    time_format_utc(hs.first, TIME_ISO, a, sizeof a);
    time_format_utc(hs.last, TIME_ISO, b, sizeof b);
    outq_printf(STDOUT_FILENO, "wrote %ld %s %s candle%s, %s to %s, to %s (%ld request%s)\n", hs.candles,
                symbol, period, plural(hs.candles), a, b, out_path, hs.requests, plural(hs.requests));
    if (hs.head_missing > 0)
        outq_printf(STDOUT_FILENO, "the venue has no candles before %s: the %lld candle%s from --from to there %s "
                    "not in the file (listed later?)\n", a, (long long)hs.head_missing, plural(hs.head_missing),
                    hs.head_missing == 1 ? "is" : "are");
    if (hs.tail_missing > 0)
        outq_printf(STDOUT_FILENO, "the venue has no candles after %s: the %lld candle%s from there to the end of "
                    "the span %s not in the file\n", b, (long long)hs.tail_missing, plural(hs.tail_missing),
                    hs.tail_missing == 1 ? "is" : "are");
    if (hs.gaps > 0) {
        time_format_utc(hs.gap_from, TIME_ISO, g, sizeof g);
        outq_printf(STDOUT_FILENO, "the venue has no candles in %ld gap%s (%ld candle%s missing; the longest, %lld "
                    "candle%s, from %s); a replay shows no candle there\n", hs.gaps, plural(hs.gaps), hs.missing,
                    plural(hs.missing), (long long)hs.gap_len, plural(hs.gap_len), g);
    }
    return EXIT_DONE;
}

int datatool_main(int argc, char **argv, int at)
{
    const char *sub = at + 1 < argc ? argv[at + 1] : NULL;
    if (sub && strcmp(sub, "download") == 0)
        return download(argc, argv, at);
    if (sub && (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0)) {
        outq_printf(STDOUT_FILENO, "%s", usage);
        return EXIT_DONE;
    }
    return cli_usage("data", "%s%.80s%s: allowed is download", sub ? "'" : "", sub ? sub : "a subcommand is needed",
                     sub ? "'" : "");
}
