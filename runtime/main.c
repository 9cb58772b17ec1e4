/*
 * main.c: stratrun's entry point. Reads the options, opens the channel engine and the market data, creates the
 * bots, runs them under the scheduler, prints a replay's summary, flushes, exits. Everything a strategy can call
 * lives in the modules api.c loads; the lifecycle lives in bot.c, the scheduling in scheduler.c.
 */

#include <fcntl.h>
#include <ftw.h>
#include <sys/file.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


#include "host/bot.h"
#include "core/clock.h"
#include "core/cmdqueue.h"
#include "core/engine.h"
#include "core/fetch.h"
#include "core/fsutil.h"
#include "core/logsink.h"
#include "lua/log.h"
#include "data/market.h"
#include "host/options.h"
#include "core/outq.h"
#include "core/termpanel.h"
#include "host/tools.h"
#include "core/watchdog.h"
#include "host/replay.h"
#include "host/scheduler.h"

static int usage_error(const char *msg)
{
    outq_printf(STDERR_FILENO, "stratrun: %s\n", msg);
    return EXIT_USAGE;
}

/* fds 0-2 closed by whoever started us: /dev/null takes their place, so the first file opened does not become
 * stdout, and nothing polls or writes a closed descriptor. */
static void standard_fds(void)
{
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0) {
            int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
            if (n >= 0 && n != fd) {
                dup2(n, fd);
                close(n);
            }
        }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    struct options opt = {0};
    char err[OPT_ERRLEN];
    int status = EXIT_USAGE;
    struct engine *engine = NULL;
    struct market *market = NULL;
    struct sched s = {0};
    int replay_lock = -1;

    standard_fds();
    /* Before any thread: the signal dispositions (SIGPIPE ignored, the stop signals). Then stdout and stderr go
     * through the output queue. (libcurl's global state is set up when it is loaded, on first use: core/lib_curl.c.) */
    bot_signals_install();
    termpanel_init();
    if (outq_start() == 0)
        outq_stdio();
    options_subcommand_first(argc, argv);
    if (tools_main(argc, argv, &status))      /* stratrun ps, stop, logs, channel, new, serve */
        goto out;
    if (options_load(&opt, argc, argv, err, sizeof err) != 0) {
        usage_error(err);
        goto out;
    }
    if (opt.help || opt.version) {
        const char *text = opt.help ? options_usage : "stratrun " STRATRUN_VERSION "\n";
        outq_write(STDOUT_FILENO, text, strlen(text));
        status = EXIT_DONE;
        goto out;
    }
    if (options_resolve(&opt, err, sizeof err) != 0) {
        usage_error(err);
        goto out;
    }
    if (opt.mode == MODE_CMD) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/bots/%s", opt.data_dir, opt.id);
        if (cmdq_send(dir, opt.id, opt.cmd_text, strlen(opt.cmd_text), err, sizeof err) != 0)
            usage_error(err);
        else
            status = EXIT_DONE;
        goto out;
    }
    fetch_backoff_share(opt.data_dir);  /* a venue's 429 or 418 holds back every process of the data dir */
    for (int i = 0; opt.mode != MODE_ONE && i < opt.nbots; i++)
        if (bot_check_script(opt.bots[i].script, err, sizeof err) != 0) {
            char line[OPT_ERRLEN + 64];
            snprintf(line, sizeof line, "%s (no bot was started)", err);
            usage_error(line);
            goto out;
        }
    if (opt.mode == MODE_REPLAY) {
        /* A replay starts from nothing, as the platforms clear a backtest's _G: its own folder, emptied, by one
         * replay at a time (the lock is held until exit). */
        size_t n = strlen(opt.data_dir) + 16;
        char *dir = malloc(n);
        snprintf(dir, n, "%s/replay.lock", opt.data_dir);
        replay_lock = open(dir, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (replay_lock < 0 || flock(replay_lock, LOCK_EX | LOCK_NB) != 0) {
            if (replay_lock < 0)    /* a symlink in its place (ELOOP) is not followed */
                snprintf(err, sizeof err, "cannot open %s: %s", dir, strerror(errno));
            else
                snprintf(err, sizeof err, "another replay is running in %s (it holds %s); give this one its own "
                         "--data-dir", opt.data_dir, dir);
            free(dir);
            usage_error(err);
            goto out;
        }
        snprintf(dir, n, "%s/replay", opt.data_dir);
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(opt.data_dir);
        opt.data_dir = dir;
        if (fs_mkdirs(dir, err, sizeof err) != 0) {
            usage_error(err);
            goto out;
        }
        free(opt.channel);
        opt.channel = strdup("memory");
    }
    engine = engine_open(opt.channel, opt.data_dir, err, sizeof err);
    options_hide_secrets();
    if (!engine) {
        usage_error(err);
        goto out;
    }
    if (opt.mode == MODE_REPLAY && strncmp(opt.market, "rest:", 5) == 0) {
        snprintf(err, sizeof err, "market '%.200s' is live data: a replay needs recorded candles (record them with "
                 "--record FILE in a live run, then replay --market csv:FILE)", opt.market);
        usage_error(err);
        goto out;
    }
    if (!(market = market_open(opt.market, clock_wall_ms(), err, sizeof err))) {
        usage_error(err);
        goto out;
    }
    if (opt.record && market_record(market, opt.record, err, sizeof err) != 0) {
        usage_error(err);
        goto out;
    }
    /* The other markets the config's exchanges name: all open before any bot starts, freed after every bot. */
    if (opt.nmarkets && !(s.markets = calloc((size_t)opt.nmarkets, sizeof *s.markets))) {
        usage_error("out of memory");
        goto out;
    }
    for (int i = 0; i < opt.nmarkets; i++) {
        const char *url = opt.markets[i];
        if (strcmp(url, opt.market) == 0)
            continue;
        const char *from = opt.markets_from[i];
        if (opt.mode == MODE_REPLAY && strncmp(url, "rest:", 5) == 0) {
            snprintf(err, sizeof err, "config %.100s.market '%.200s' is live data: a replay needs recorded candles "
                     "(csv:FILE or sim:...)", from, url);
            usage_error(err);
            goto out;
        }
        if (!(s.markets[s.nmarkets] = market_open(url, clock_wall_ms(), err, sizeof err))) {
            char line[OPT_ERRLEN + 160];
            snprintf(line, sizeof line, "config %.100s.market: %s", from,
                     strncmp(err, "market: ", 8) == 0 ? err + 8 : err);
            usage_error(line);
            goto out;
        }
        s.nmarkets++;
    }
    s.virtual_ = opt.mode == MODE_REPLAY;
    s.market = market;
    if (s.virtual_ && (replay_span(&s, market, &opt, err, sizeof err) != 0 ||
                       replay_check_outputs(&opt, err, sizeof err) != 0)) {
        usage_error(err);
        goto out;
    }
    s.progress = s.virtual_ && isatty(STDERR_FILENO);
    s.progress_fd = isatty(STDOUT_FILENO) ? STDOUT_FILENO : STDERR_FILENO;
    s.quiet = opt.quiet;
    s.bots = calloc((size_t)opt.nbots, sizeof *s.bots);
    for (int i = 0; s.bots && i < opt.nbots; i++, s.nbots++)
        if (!(s.bots[i] = bot_new(&opt, &opt.bots[i], engine, market, &s, err, sizeof err))) {
            usage_error(err);
            goto out;
        }
    bot_watchdog_start();
    int64_t t0 = clock_wall_ns();
    /* A replay whose output nobody watches line by line: its lines go out in batches (a wake-up of the writer
     * thread and a write per line were a fifth of a replay's time). */
    int batch = s.virtual_ && !isatty(STDOUT_FILENO) && !isatty(STDERR_FILENO);
    outq_batch(batch);
    status = sched_run(&s);
    log_panel_clear();
    if (s.virtual_)
        replay_finish(&s, &opt, clock_wall_ns() - t0);
    outq_batch(0);
out:
    /* What stdout and stderr could not take is said once, in the bots' log files too (after at most a second for
     * a slow reader to take what is queued). */
    outq_flush(1000);
    log_unshown_report();
    /* Bots first: closing a Lua state runs finalizers, which may still publish. Then the last published states
     * go out, waiting at most one second. */
    for (int i = 0; i < s.nbots; i++)
        bot_free(s.bots[i]);
    free(s.bots);
    engine_close(engine, 1000);
    fetch_shutdown();       /* after the bots: their requests still running are given up, then ended */
    market_free(market);
    for (int i = 0; i < s.nmarkets; i++)
        market_free(s.markets[i]);
    free(s.markets);
    options_free(&opt);
    if (replay_lock >= 0)
        close(replay_lock);
    lazylib_fini(&lazy_curl);
    watchdog_stop();
    outq_stop(1000);
    return status;
}
