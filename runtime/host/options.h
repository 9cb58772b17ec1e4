/*
 * options.h: what a run of stratrun was asked to do, from the command line and the config file.
 * Command-line options override the config file; the config file overrides the environment and defaults.
 */
#ifndef STRATRUN_OPTIONS_H
#define STRATRUN_OPTIONS_H

#include <stddef.h>
#include <lua.h>

#include "lua/ctx.h"

#define OPT_ERRLEN 512

enum param_type { PARAM_INT, PARAM_FLOAT, PARAM_BOOL, PARAM_STRING };

struct param {
    char *name;
    enum param_type type;
    lua_Integer i;
    double d;
    int b;
    char *s;
};

/* stratrun SCRIPT [ARGS]: one bot, live. stratrun run A.lua[@ID] B.lua[@ID]...: several bots in one process,
 * live. stratrun replay ...: several bots on a virtual clock over the market data. */
enum mode { MODE_ONE, MODE_RUN, MODE_REPLAY, MODE_CMD };

/* The config's limits, each bot's own: memory_limit (MiB of its Lua state), step_limit (seconds a bot may run
 * without Sleep: live, a warning; in a replay, the bot is stopped), onexit_limit (seconds onexit may take live),
 * log_max_size and log_keep (the rotation of its log.txt). */
struct limits {
    long memory_mb;         /* default 1024 */
    double step_s;          /* default 10 */
    double onexit_s;        /* default 300, as the platform allows */
    double log_max_mb;      /* log.txt is rotated past this many MiB (0: never); default 64 */
    long log_keep;          /* rotated log files kept (log.txt.1 ...); default 5 */
};

struct bot_spec {
    const char *script;
    char id[ID_MAX + 1];    /* "" until resolved */
};

struct options {
    enum mode mode;
    struct bot_spec *bots;  /* every mode: the bots to run, in the scheduler's tie-breaking order */
    int nbots;
    int64_t from_ms, to_ms; /* replay: --from, --to (INT64_MIN: the market's own span) */
    const char *json_out;   /* replay: --json FILE */
    const char *csv_dir;    /* replay: --csv DIR (fills.csv, equity.csv) */
    const char *report;     /* replay: --report FILE.html */
    int quiet;              /* replay: --quiet, the strategies' log lines off stdout (still in their log files) */

    const char *script;     /* MODE_ONE: the strategy file; NULL with --help / --version */
    int script_argc;        /* arguments after the script, passed to it as arg[1..] */
    char **script_argv;     /* script_argv[0] is the script itself */
    char **argv;            /* the whole command line, for arg[-n] */
    int argc;

    char *config;           /* the config file read, or NULL */
    char id[ID_MAX + 1];    /* MODE_ONE, MODE_CMD: --id or the config's id; "" until resolved */
    char *data_dir;
    char *channel;          /* the channel backend URL ("local", "local:DIR", "memory") */
    char *market;           /* the market data source ("sim:seed=42", "csv:PATH") */
    char *exchange;         /* the paper exchange's settings: JSON text of the config's exchange table, or NULL */
    char *exchanges;        /* the config's exchanges list ({{...}, ...}: each laid over exchange): JSON, or NULL */
    char **markets;         /* every market an exchange table names (`market`), each once; main.c opens them */
    char **markets_from;    /* for each, the first table that named it ("exchanges[2]"), for messages */
    int nmarkets;
    char *bots_cfg;         /* the config's bots table ({ID = {exchange = {...}, exchanges = {...}}}): JSON, or NULL */
    char **bots_cfg_ids;    /* its keys, each checked to name a bot of the run (options_resolve) */
    int nbots_cfg;
    struct param *params;
    size_t nparams;
    struct http_opts http;  /* the config's http table */
    struct limits limits;   /* memory_limit, step_limit, onexit_limit */
    int cli_limits;         /* bit per limit set on the command line (they win over the config) */
    const char *record;     /* live: --record FILE, the market's candles appended as CSV (market.c), or NULL */
    int reset_account;      /* live: --reset-account, each bot's paper account starts afresh (stdlib/exchange.lua) */

    int fsync;              /* --no-fsync / fsync = false: 0; -1 until set (then on) */
    char *group;            /* --group / shared_group: the group sharing the local channel folder, or NULL */
    const char *cmd_text;   /* MODE_CMD: the command queued for bot id (stratrun cmd ID TEXT) */
    int help, version;
};

/* Parses argv and, unless --help/--version was asked, loads the config file (--config, or ./stratrun.conf when
 * present). Returns 0, or -1 with one line in err (a usage or config error: exit status 2). */
int options_load(struct options *o, int argc, char **argv, char *err, size_t errlen);

/* Wipes STRATRUN_REDIS_PASSWORD from the environment (/proc/PID/environ, os.getenv, children): call it once the
 * channel engine has read it. (A --channel URL's password is overwritten in argv as options_load reads it.) */
void options_hide_secrets(void);

/* Resolves the data dir (creating it) and the bot IDs (for one bot without --id or a config id: generated once
 * and kept in the data dir; in run and replay: SCRIPT@ID, else the script's file name). Returns 0, or -1 with one
 * line in err. */
int options_resolve(struct options *o, char *err, size_t errlen);

void options_free(struct options *o);

/* Sets the parameters of bot id as globals of L: NAME=VALUE for every bot, then ID.NAME=VALUE for this one. */
void options_push_params(const struct options *o, lua_State *L, const char *id);

extern const char options_usage[];

/* --data-dir may come before a subcommand (stratrun --data-dir DIR ps): moves the subcommand to argv[1], the
 * options before it after it, in their order. Call first; options_load and tools_main look at argv[1]. */
void options_subcommand_first(int argc, char **argv);

/* The data dir when none is given: $STRATRUN_HOME, else ~/.local/state/stratrun. Written to buf; returns it. */
const char *options_default_data_dir(char *buf, size_t size);

#endif
