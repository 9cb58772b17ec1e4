/*
 * ctx.h: what a Lua-facing module may know of the bot that runs it and of the scheduler running the bots, and the
 * few things it may ask of them. The structs are the host's (host/bot.c and host/scheduler.c write them; modules
 * read them through bot_of(L)); the functions declared under "asked of the host" are implemented there. This is
 * the seam between the modules (lua/) and the lifecycle above them: modules include this, never host/ headers.
 */
#ifndef STRATRUN_CTX_H
#define STRATRUN_CTX_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <lua.h>

#include "core/chanid.h"

/* The config's http table: HttpQuery's limits (http.c). 0 means the default. */
struct http_opts {
    long timeout_ms;        /* default timeout of a request (10000) */
    long max_bytes;         /* cap on a response body (10 MiB) */
    int in_replay;          /* HttpQuery allowed in a replay (0: refused, replays stay deterministic) */
    /* the config's mail table: what Mail takes when an argument is "" or nil (NULL: none); never shown to a bot */
    char *mail_server, *mail_user, *mail_password, *mail_to;
};

struct engine;
struct chan_entry;
struct market;
struct sched;
struct options;

enum phase { PHASE_CHUNK, PHASE_INIT, PHASE_MAIN, PHASE_ONEXIT, PHASE_ONERROR, PHASE_DONE };

struct bot {
    lua_State *L;
    char id[ID_MAX + 1];
    const char *script;
    char *dir;                  /* <data_dir>/bots/<id> */
    const struct options *opt;  /* the host's settings (host/options.h) */
    const struct http_opts *http; /* the config's http table (HttpQuery) */
    struct engine *engine;      /* the process's channel engine; shared by every bot of the process */
    struct chan_entry *own;     /* this bot's own channel in the engine */
    struct market *market;      /* the process's market data; shared by every bot of the process */
    struct sched *sched;        /* the scheduler running the bot, or NULL (benchmarks) */
    int log_fd;                 /* <dir>/log.txt, appended to */
    int lock_fd;                /* holds an flock on <dir>/lock while the bot runs; the file holds the PID */
    int64_t lock_check_ns;      /* live: CLOCK_MONOTONIC of the last check that <dir>/lock is still ours */
    int lock_lost;              /* bot_keep_lock could not take the lock back (said once; retried every second) */

    enum phase phase;
    lua_State *co;              /* the coroutine running the current phase */
    int co_ref;                 /* anchors co in the registry */
    int nargs;                  /* arguments waiting on co for its first resume */
    int64_t wake_ns;            /* when the scheduler resumes it (set by Sleep, sched_await), on the scheduler's
                                 * clock (sched_now) */
    int awaiting;               /* in sched_await: resumed early when awaited work is done */
    int status;                 /* the exit status so far */
    int64_t started_ms;         /* its clock when it started: the log's stop line says how long it ran */
    int start_said;             /* the log has its start line and not yet its stop line */

    /* Limits (bot.c's hook enforces them; see the one door below). */
    size_t mem_used, mem_limit; /* bytes of the Lua state, and its cap (memory_limit) */
    int out_of_memory;          /* a phase failed for lack of memory: the state is closed once the bot is done */
    int end_req;                /* the current phase must end now (os.exit, a limit): the hook yields or raises */
    int end_status;             /* the status it ends with */
    char end_why[1024];          /* logged once when it ends ("" when nothing needs saying) */
    int plain_error;            /* the phase's error was raised by registry["stratrun.refuse"]: its one line says
                                 * it all, no traceback follows it */
    int stopped;                /* bot_stop already ended main */
    int preempted;              /* the last yield was a time slice, not Sleep */
    int yield_ok;               /* the phase's last yield was the runtime's own (Sleep, an await, the hook) */
    int yielded;                /* replay: Sleep(0) gave way to the bots due at the same time (scheduler.c) */
    int64_t awake_since_ns;     /* CLOCK_MONOTONIC: when it last returned from Sleep (the busy warning) */
    int64_t step_start_ns;      /* CLOCK_MONOTONIC: when the running step began */
    int64_t step_cpu_ns;        /* replay: thread CPU time when the running step first overran a slice, or -1 */
    int busy_warned;            /* said once that it runs without Sleep */
    int mail_replay_said;       /* said once that a replay sends no mail */
    struct chanlog *chanlog;    /* replay: its channel publications and reads (lua/api.h), for the results */
    long routines;              /* HttpQuery_Go and Mail_Go routines started (their numbers) */
    atomic_int go_live;         /* of those, in flight: transfers not yet over (at most GO_MAX, http.c); the HTTP
                                 * thread lowers it when one ends */
    long mails;                 /* mails sent (their Message-IDs) */
    int64_t exit_deadline_ns;   /* live: CLOCK_MONOTONIC deadline of onexit (onexit_limit) */
};

/* Exit statuses. */
enum { EXIT_DONE = 0, EXIT_STRATEGY = 1, EXIT_USAGE = 2 };

struct sched {
    int virtual_;           /* a replay: the clock is now_ns */
    int64_t now_ns;         /* replay: the virtual clock */
    int64_t start_ns;       /* replay: where the clock starts */
    int64_t end_ns;         /* replay: when the market data ends (or --to): bots are stopped there */
    struct bot **bots;
    int nbots;
    int progress;           /* replay: draw a progress bar (stderr is a terminal) */
    int progress_fd;        /* where: stdout when it is a terminal too, so that log lines and the bar share one
                             * queue and never mix (log_write erases the bar first); else stderr */
    int progress_drawn;     /* the bar is on the screen (a log line erases it; the scheduler draws it again) */
    int64_t progress_t0;    /* CLOCK_MONOTONIC when the replay started: the ETA */
    int quiet;              /* replay --quiet: the strategies' Log lines go to their log files only */
    long steps;             /* bot resumptions so far: the bench's "bot-iterations" */
    struct market *market;  /* replay: the market whose candles make Sleep(0)'s events (sched_next_event) */
    struct market **markets;    /* the other markets the config's exchanges name (market.get), opened by main.c */
    int nmarkets;
};

/* The bot that owns L (kept in L's extra space, which coroutines inherit). */
static inline struct bot *bot_of(lua_State *L)
{
    return *(struct bot **)lua_getextraspace(L);
}

/* ---- a bot's clock (lua/clock.c) ---- */

/* A bot in a replay: its virtual time. A live bot: the wall clock. Every timestamp the runtime hands a strategy
 * (Log lines, Unix, UnixNano, _D, channel metadata) comes from here. */
int64_t clock_now_ns(const struct bot *b);

static inline int64_t clock_now_us(const struct bot *b)
{
    return clock_now_ns(b) / 1000;
}

static inline int64_t clock_now_ms(const struct bot *b)
{
    return clock_now_ns(b) / 1000000;
}

/* ---- asked of the host (host/bot.c, host/scheduler.c) ---- */

int bot_signal(void);           /* the stop signal received, or 0 */
int bot_signal_fd(void);        /* readable once a stop signal has arrived (for ppoll in calls that block) */

/* For calls that block their thread: 1 when the bot must end now (bot_end was called, or it has run step_limit
 * where it cannot be preempted while other bots wait); b->end_why says why. */
int bot_overran(struct bot *b);

/* Raised (as a Lua error) by calls that block their thread (where they cannot yield) when a stop arrives. */
int bot_interrupted(lua_State *L);

/* The scheduler's clock: the virtual time in a replay, CLOCK_MONOTONIC live. Wake times are on this clock. */
int64_t sched_now(const struct sched *s);

/* Replay: Sleep(0)'s wake time for b. When another bot is due now and has not given way itself, now (b runs again
 * after it: b->yielded); else the next moment anything can change for b: the earliest wake time of another bot
 * later than now, or the close of the market's next candle, whichever comes first. So a Sleep(0) polling loop
 * sees what other bots publish at the time they publish it, and always moves the clock forward. */
int64_t sched_next_event(const struct sched *s, struct bot *b);

/* Work on another thread (an HTTP request): a C function that can await (sched_can_await: a live bot's own
 * coroutine) starts the work, then returns sched_await(L, deadline, ctx, k). Its bot yields and other bots run;
 * it is resumed in k when the deadline passes or when any awaited work signals sched_notify() (k checks whether
 * its own work is done, and awaits again if not). Where it cannot await, the function blocks its thread instead. */
int sched_can_await(lua_State *L);
int sched_await(lua_State *L, int64_t deadline_ns, lua_KContext ctx, lua_KFunction k);
void sched_notify(void);        /* any thread */

#endif
