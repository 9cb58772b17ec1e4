/*
 * bot.h: one running strategy: its Lua state, identity and files, and its lifecycle as a sequence of phases
 * (top-level chunk, init, main, onexit or onerror), each run in a coroutine that Sleep yields, so one scheduler
 * (scheduler.c) can run several bots in one process on the real clock or on a virtual one.
 */
#ifndef STRATRUN_BOT_H
#define STRATRUN_BOT_H

#include "host/options.h"
#include "lua/ctx.h"

/* Creates the bot for spec: its folder and lock, its Lua state with the standard libraries and the runtime API,
 * its parameters as globals. Returns NULL with one line in err (exit status 2). */
struct bot *bot_new(const struct options *opt, const struct bot_spec *spec, struct engine *engine,
                    struct market *market, struct sched *sched, char *err, size_t errlen);

/* Compiles path in a scratch state and throws it away: 0, or -1 with the reason in err (the file cannot be read,
 * or "file:line: message" for a syntax error). stratrun run and replay check every script first, so that one
 * missing or broken script refuses the whole command before any bot starts. */
int bot_check_script(const char *path, char *err, size_t errlen);

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

/* Live, at most once a second: when the bot's folder or lock file was removed, makes them again, takes the lock
 * again (one warning) and reopens log.txt, so that no second process can take the ID. */
void bot_keep_lock(struct bot *b);


/* Signals: the handler records the first SIGINT, SIGTERM or SIGHUP and makes the running bot yield at its next
 * instruction (the scheduler then stops every bot: onexit runs). The same signal again within a second is the same
 * stop delivered twice and is ignored; a later one exits at once, saying so. SIGPIPE is ignored. SIGURG is the
 * watchdog's: the running bot has used up its time slice. */
void bot_signals_install(void);
int bot_signal_received(void);  /* the stop signal received, or 0 */
void bot_signal_drain(void);    /* reads the signal pipe empty once the stop has been seen */

/* Starts the watchdog (core/watchdog.h) that preempts bots (SIGURG after a 10 ms slice); the process stops it at
 * exit, after the replay summary and the bots' last door calls. */
void bot_watchdog_start(void);

#endif
