/*
 * bot.c: one strategy's life: its Lua state and folder, the protected calls into Lua, the lifecycle
 * (top-level chunk, init, main, onexit / onerror), and what SIGINT and SIGTERM do to it.
 */
#include "bot.h"
#include "api.h"
#include "fsutil.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

/* ---- signals ---- */

static volatile sig_atomic_t got_signal;    /* the first SIGINT/SIGTERM, or 0 */
static volatile sig_atomic_t armed = 1;     /* does a signal still interrupt the strategy? */
static lua_State *volatile running;         /* the state to interrupt */
static int sigpipe_fd[2] = {-1, -1};

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    bot_interrupted(L);
}

static void on_signal(int sig)
{
    if (got_signal)
        _exit(128 + sig);   /* a second signal: the user wants out now */
    got_signal = sig;
    int saved = errno;
    if (write(sigpipe_fd[1], "!", 1) < 0) { /* the pipe only needs to be readable */ }
    errno = saved;
    /* As lua.c does: only set a hook, never touch the state from the handler. */
    if (running && armed)
        lua_sethook(running, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

void bot_signals_install(void)
{
    if (pipe2(sigpipe_fd, O_CLOEXEC | O_NONBLOCK) != 0)
        sigpipe_fd[0] = sigpipe_fd[1] = -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;    /* no SA_RESTART: a blocking call returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int bot_signal(void)
{
    return armed ? got_signal : 0;
}

int bot_signal_fd(void)
{
    return armed ? sigpipe_fd[0] : -1;
}

int bot_interrupted(lua_State *L)
{
    return luaL_error(L, "interrupted by %s", got_signal == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ---- protected calls ---- */

static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int bot_pcall(lua_State *L, int nargs, int nresults)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    return status;
}

/* ---- creation ---- */

struct bot *bot_new(const struct options *opt, struct engine *engine, char *err, size_t errlen)
{
    struct bot *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->log_fd = b->lock_fd = -1;
    b->opt = opt;
    b->engine = engine;
    memcpy(b->id, opt->id, sizeof b->id);
    size_t n = strlen(opt->data_dir) + strlen(b->id) + 8;
    b->dir = malloc(n);
    if (!b->dir) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    snprintf(b->dir, n, "%s/bots/%s", opt->data_dir, b->id);
    if (fs_mkdirs(b->dir, err, errlen) != 0)
        goto fail;

    /* One process per bot ID: two would overwrite each other's store and channel. */
    char path[4200];
    snprintf(path, sizeof path, "%s/lock", b->dir);
    b->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (b->lock_fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    if (flock(b->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen, "bot %s is already running (another process holds %s)", b->id, path);
        goto fail;
    }
    snprintf(path, sizeof path, "%s/log.txt", b->dir);
    b->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (b->log_fd < 0) {
        snprintf(err, errlen, "cannot open log %s: %s", path, strerror(errno));
        goto fail;
    }

    b->L = luaL_newstate();
    if (!b->L) {
        snprintf(err, errlen, "cannot create a Lua state: out of memory");
        goto fail;
    }
    *(struct bot **)lua_getextraspace(b->L) = b;
    api_open(b->L);
    /* The store and the channel were opened by their modules; they report failures (a corrupt store) here. */
    lua_getfield(b->L, LUA_REGISTRYINDEX, "stratrun.openerror");
    if (lua_isstring(b->L, -1)) {
        snprintf(err, errlen, "%s", lua_tostring(b->L, -1));
        goto fail;
    }
    lua_pop(b->L, 1);
    options_push_params(opt, b->L);
    return b;
fail:
    bot_free(b);
    return NULL;
}

void bot_free(struct bot *b)
{
    if (!b)
        return;
    if (b->L)
        lua_close(b->L);
    if (b->log_fd >= 0)
        close(b->log_fd);
    if (b->lock_fd >= 0)
        close(b->lock_fd);
    free(b->dir);
    free(b);
}

/* ---- the lifecycle ---- */

/* Reports a failed call: the message and traceback on stderr, the message in the log file. The error (message
 * plus traceback) is on the top of the stack; it is left there. */
static void report(struct bot *b)
{
    size_t len;
    const char *full = lua_tolstring(b->L, -1, &len);
    if (!full)
        full = "(error object is not a string)", len = strlen(full);
    const char *tb = strstr(full, "\nstack traceback:");
    size_t msglen = tb ? (size_t)(tb - full) : len;
    log_write(b, LOG_ERROR, full, msglen);
    if (tb)
        fprintf(stderr, "%s\n", tb + 1);
    fflush(stderr);
}

/* Calls global fname(args...) if it is a function. Returns LUA_OK when it is absent. */
static int call_hook(struct bot *b, const char *fname, const char *arg)
{
    lua_State *L = b->L;
    if (lua_getglobal(L, fname) != LUA_TFUNCTION) {
        lua_pop(L, 1);
        return LUA_OK;
    }
    if (arg)
        lua_pushstring(L, arg);
    return bot_pcall(L, arg ? 1 : 0, 0);
}

/* After an error: onerror(message) if defined, and the report. Returns the exit status. */
static int failed(struct bot *b)
{
    lua_State *L = b->L;
    if (got_signal) {
        /* Interrupted: not a strategy error. onexit runs, undisturbed by the signal already handled. */
        lua_pop(L, 1);
        int sig = got_signal;
        armed = 0;
        lua_sethook(L, NULL, 0, 0);
        if (call_hook(b, "onexit", NULL) != LUA_OK) {
            report(b);
            lua_pop(L, 1);
        }
        return 128 + sig;
    }
    report(b);
    const char *full = lua_tostring(L, -1);
    if (lua_getglobal(L, "onerror") == LUA_TFUNCTION) {
        const char *tb = full ? strstr(full, "\nstack traceback:") : NULL;
        lua_pushlstring(L, full ? full : "", tb ? (size_t)(tb - full) : (full ? strlen(full) : 0));
        armed = 1;
        if (bot_pcall(L, 1, 0) != LUA_OK) {
            report(b);
            lua_pop(L, 1);
        }
    } else {
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return EXIT_STRATEGY;
}

int bot_run(struct bot *b)
{
    lua_State *L = b->L;
    const struct options *o = b->opt;
    running = L;

    /* arg, as lua.c sets it: arg[0] the script, arg[1..] its arguments, arg[-n] the command before it. */
    int before = (int)(o->script_argv - o->argv);
    lua_createtable(L, o->script_argc, before);
    for (int i = 0; i < o->argc; i++) {
        lua_pushstring(L, o->argv[i]);
        lua_rawseti(L, -2, i - before);
    }
    lua_setglobal(L, "arg");

    int status = luaL_loadfilex(L, o->script, "t");
    if (status == LUA_ERRFILE) {
        fprintf(stderr, "stratrun: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return EXIT_USAGE;
    }
    if (status != LUA_OK) {     /* a syntax error: "file:line: message" */
        log_write(b, LOG_ERROR, lua_tostring(L, -1), lua_rawlen(L, -1));
        lua_pop(L, 1);
        return EXIT_STRATEGY;
    }
    for (int i = 1; i < o->script_argc; i++)
        lua_pushstring(L, o->script_argv[i]);
    if (bot_pcall(L, o->script_argc - 1, 0) != LUA_OK)
        return failed(b);

    if (lua_getglobal(L, "main") != LUA_TFUNCTION) {
        lua_pop(L, 1);          /* a plain chunk: done when it returns */
        return got_signal ? 128 + got_signal : EXIT_DONE;
    }
    lua_pop(L, 1);
    if (call_hook(b, "init", NULL) != LUA_OK)
        return failed(b);
    lua_getglobal(L, "main");
    if (bot_pcall(L, 0, 0) != LUA_OK)
        return failed(b);
    armed = 0;
    int sig = got_signal;
    if (call_hook(b, "onexit", NULL) != LUA_OK) {
        report(b);
        lua_pop(L, 1);
        return EXIT_STRATEGY;
    }
    return sig ? 128 + sig : EXIT_DONE;
}
