/*
 * bot.h: one running strategy: its Lua state, identity and files, and its lifecycle as a sequence of phases
 * (top-level chunk, init, main, onexit or onerror), each run in a coroutine that Sleep yields, so one scheduler
 * (scheduler.c) can run several bots in one process on the real clock or on a virtual one.
 */
#ifndef STRATRUN_BOT_H
#define STRATRUN_BOT_H

#include <stdint.h>
#include <lua.h>

#include "options.h"

#include <stddef.h>

struct engine;
struct chan_entry;
struct market;
struct sched;

enum phase { PHASE_CHUNK, PHASE_INIT, PHASE_MAIN, PHASE_ONEXIT, PHASE_ONERROR, PHASE_DONE };

struct bot {
    lua_State *L;
    char id[ID_MAX + 1];
    const char *script;
    char *dir;                  /* <data_dir>/bots/<id> */
    const struct options *opt;
    struct engine *engine;      /* the process's channel engine; shared by every bot of the process */
    struct chan_entry *own;     /* this bot's own channel in the engine */
    struct market *market;      /* the process's market data; shared by every bot of the process */
    struct sched *sched;        /* the scheduler running the bot, or NULL (benchmarks) */
    int log_fd;                 /* <dir>/log.txt, appended to */
    int lock_fd;                /* holds an flock on <dir>/lock while the bot runs */

    enum phase phase;
    lua_State *co;              /* the coroutine running the current phase */
    int co_ref;                 /* anchors co in the registry */
    int nargs;                  /* arguments waiting on co for its first resume */
    int64_t wake_ns;            /* when the scheduler resumes it (set by Sleep, sched_await), on the scheduler's
                                 * clock (sched_now) */
    int awaiting;               /* in sched_await: resumed early when awaited work is done */
    int status;                 /* the exit status so far */

    /* Limits (bot.c's hook enforces them; see the one door below). */
    size_t mem_used, mem_limit; /* bytes of the Lua state, and its cap (memory_limit) */
    int out_of_memory;          /* a phase failed for lack of memory: the state is closed once the bot is done */
    int end_req;                /* the current phase must end now (os.exit, a limit): the hook yields or raises */
    int end_status;             /* the status it ends with */
    char end_why[1024];          /* logged once when it ends ("" when nothing needs saying) */
    int stopped;                /* bot_stop already ended main */
    int preempted;              /* the last yield was a time slice, not Sleep */
    int yielded;                /* replay: Sleep(0) gave way to the bots due at the same time (scheduler.c) */
    int64_t awake_since_ns;     /* CLOCK_MONOTONIC: when it last returned from Sleep (the busy warning) */
    int64_t step_start_ns;      /* CLOCK_MONOTONIC: when the running step began */
    int64_t step_cpu_ns;        /* replay: thread CPU time when the running step first overran a slice, or -1 */
    int busy_warned;            /* said once that it runs without Sleep */
    int64_t exit_deadline_ns;   /* live: CLOCK_MONOTONIC deadline of onexit (onexit_limit) */
    lua_State *current;         /* the thread running now: co, or a coroutine the strategy resumed from it */
};

/* Exit statuses. */
enum { EXIT_DONE = 0, EXIT_STRATEGY = 1, EXIT_USAGE = 2 };

/* Creates the bot for spec: its folder and lock, its Lua state with the standard libraries and the runtime API,
 * its parameters as globals. Returns NULL with one line in err (exit status 2). */
struct bot *bot_new(const struct options *opt, const struct bot_spec *spec, struct engine *engine,
                    struct market *market, struct sched *sched, char *err, size_t errlen);

/* Loads the script and makes its top-level chunk the first phase. Returns 0, or an exit status (2 when the
 * script cannot be read, 1 on a syntax error, reported) with the bot done. */
int bot_start(struct bot *b);

/* Resumes the current phase until it sleeps (returns 1, wake_ns set), is preempted (returns 1, b->preempted set)
 * or the bot is done (returns 0). */
int bot_step(struct bot *b);

/* Asks the current phase to end as soon as it runs again (the hook yields it, or raises until it can): status is
 * the bot's exit status, why (may be NULL) is logged once. Safe to call while the bot is not running. */
void bot_end(struct bot *b, int status, const char *why);

/* The one door into a bot's Lua state from the host: runs f(L) with ud as its only argument (a light userdata)
 * under lua_pcall with a message handler that makes any error object a string (a failing __tostring included).
 * Returns LUA_OK, or the error status with the message in msg (truncated to msglen; may be NULL). Never raises.
 * A bot whose state was closed (out of memory) returns LUA_ERRMEM. */
int bot_door(struct bot *b, lua_CFunction f, void *ud, char *msg, size_t msglen);

/* Closes the bot's Lua state now (its memory returns to the system), keeping the rest of the bot. */
void bot_close_state(struct bot *b);

/* Ends the bot early (replay over, signal): unless it is already ending, onexit runs next. */
void bot_stop(struct bot *b, int status);

/* Ends the bot at once, wherever it is, logging why (status 1). */
void bot_abandon(struct bot *b, const char *why);

void bot_free(struct bot *b);

/* The bot that owns L (kept in L's extra space, which coroutines inherit). */
static inline struct bot *bot_of(lua_State *L)
{
    return *(struct bot **)lua_getextraspace(L);
}

/* Signals: the handler records the first SIGINT, SIGTERM or SIGHUP and makes the running bot yield at its next
 * instruction (the scheduler then stops every bot: onexit runs). The same signal again within a second is the same
 * stop delivered twice and is ignored; a later one exits at once, saying so. SIGPIPE is ignored. SIGURG is the
 * watchdog's: the running bot has used up its time slice. */
void bot_signals_install(void);
int bot_signal_received(void);  /* the stop signal received, or 0 */
int bot_signal_fd(void);        /* readable once a signal has arrived */
int bot_signal(void);           /* the stop signal, while bots may still be interrupted by it, or 0 */

/* Raised (as a Lua error) by calls that block their thread (where they cannot yield) when a stop arrives. */
int bot_interrupted(lua_State *L);

/* Runs the lifecycle step of b under the watchdog (preemption, the replay's CPU bound). */
void bot_watch_begin(struct bot *b);
void bot_watch_end(struct bot *b);

#endif
