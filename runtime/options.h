/*
 * options.h: what a run of stratrun was asked to do, from the command line and the config file.
 * Command-line options override the config file; the config file overrides the environment and defaults.
 */
#ifndef STRATRUN_OPTIONS_H
#define STRATRUN_OPTIONS_H

#include <stddef.h>
#include <lua.h>

#define ID_MAX 64
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

struct options {
    const char *script;     /* the strategy file; NULL with --help / --version */
    int script_argc;        /* arguments after the script, passed to it as arg[1..] */
    char **script_argv;     /* script_argv[0] is the script itself */
    char **argv;            /* the whole command line, for arg[-n] */
    int argc;

    char *config;           /* the config file read, or NULL */
    char id[ID_MAX + 1];    /* "" until resolved */
    char *data_dir;
    char *channel;          /* the channel backend URL ("local", "local:DIR", "memory") */
    struct param *params;
    size_t nparams;

    int help, version;
};

/* Parses argv and, unless --help/--version was asked, loads the config file (--config, or ./stratrun.conf when
 * present). Returns 0, or -1 with one line in err (a usage or config error: exit status 2). */
int options_load(struct options *o, int argc, char **argv, char *err, size_t errlen);

/* Resolves the data dir (creating it) and the bot ID (generating one and keeping it in the data dir when neither
 * --id nor the config names one). Returns 0, or -1 with one line in err. */
int options_resolve(struct options *o, char *err, size_t errlen);

void options_free(struct options *o);

/* Checks a bot or channel ID: 1 to 64 characters of [A-Za-z0-9_-]. Returns NULL, or what is wrong with it. */
const char *id_check(const char *id, size_t len);

/* Sets every parameter as a global of L. */
void options_push_params(const struct options *o, lua_State *L);

extern const char options_usage[];

#endif
