/*
 * bot.h: one running strategy: its Lua state, identity, files, and the lifecycle init -> main -> onexit.
 *
 * Every call from the host into Lua goes through bot_pcall, which installs a traceback handler, so a strategy
 * error prints "file:line: message" and a traceback, never reaches Lua's panic handler.
 */
#ifndef STRATRUN_BOT_H
#define STRATRUN_BOT_H

#include <stdint.h>
#include <lua.h>

#include "options.h"

struct engine;
struct chan_entry;

struct bot {
    lua_State *L;
    char id[ID_MAX + 1];
    char *dir;                  /* <data_dir>/bots/<id> */
    const struct options *opt;
    struct engine *engine;      /* the process's channel engine; shared by every bot of the process */
    struct chan_entry *own;     /* this bot's own channel in the engine */
    int log_fd;                 /* <dir>/log.txt, appended to */
    int lock_fd;                /* holds an flock on <dir>/lock while the bot runs */
};

/* Exit statuses. */
enum { EXIT_DONE = 0, EXIT_STRATEGY = 1, EXIT_USAGE = 2 };

/* Creates the bot: its folder and lock, its Lua state with the standard libraries and the runtime API, its
 * parameters as globals. Returns NULL with one line in err (exit status 2). */
struct bot *bot_new(const struct options *opt, struct engine *engine, char *err, size_t errlen);

/* Runs the script and its lifecycle. Returns the process exit status. */
int bot_run(struct bot *b);

void bot_free(struct bot *b);

/* The bot that owns L (kept in L's extra space). */
static inline struct bot *bot_of(lua_State *L)
{
    return *(struct bot **)lua_getextraspace(L);
}

/* Calls the function below nargs arguments like lua_pcall, with debug.traceback as the message handler. */
int bot_pcall(lua_State *L, int nargs, int nresults);

/* Signals: the handler records the first SIGINT/SIGTERM and interrupts Sleep and busy loops; a second one exits at
 * once. bot_signal() is the signal received, or 0. */
void bot_signals_install(void);
int bot_signal(void);
int bot_signal_fd(void);        /* readable once a signal has arrived: Sleep polls it */

/* Raised (as a Lua error) when a signal interrupts the strategy. */
int bot_interrupted(lua_State *L);

#endif
