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
    int64_t wake_ns;            /* when the scheduler resumes it (set by Sleep, sched_await) */
    int awaiting;               /* in sched_await: resumed early when awaited work is done */
    int status;                 /* the exit status so far */
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

/* Resumes the current phase until it sleeps (returns 1, wake_ns set) or the bot is done (returns 0). */
int bot_step(struct bot *b);

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

/* Signals: the handler records the first SIGINT/SIGTERM and interrupts Sleep and busy loops; a second one exits at
 * once. */
void bot_signals_install(void);
int bot_signal(void);           /* the signal received while strategies may still be interrupted, or 0 */
int bot_signal_received(void);  /* the signal received, or 0 */
void bot_signal_disarm(void);   /* from now on (onexit), a signal no longer interrupts Sleep */
int bot_signal_fd(void);        /* readable once a signal has arrived */

/* Raised (as a Lua error) when a signal interrupts the strategy. */
int bot_interrupted(lua_State *L);

#endif
