/*
 * bot.c: one strategy's life: its Lua state and folder, its lifecycle as phases run in coroutines (top-level
 * chunk, init, main, then onexit, or onerror after an error), error reports with tracebacks, and what SIGINT and
 * SIGTERM do to it. scheduler.c decides which bot runs when.
 */
#include "bot.h"
#include "api.h"
#include "fsutil.h"
#include "json.h"
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
static lua_State *volatile running;         /* the coroutine to interrupt */
static int sigpipe_fd[2] = {-1, -1};

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    if (bot_of(L)->phase <= PHASE_MAIN)     /* onexit and onerror run to their end */
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

int bot_signal_received(void)
{
    return got_signal;
}

void bot_signal_disarm(void)
{
    armed = 0;
}

int bot_signal_fd(void)
{
    return armed ? sigpipe_fd[0] : -1;
}

int bot_interrupted(lua_State *L)
{
    return luaL_error(L, "interrupted by %s", got_signal == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ---- creation ---- */

/* package.loaded["stratrun.config"]: what the bot was started with, for stdlib modules (the exchange). */
static void push_config(lua_State *L, const struct options *o, const char *id)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_createtable(L, 0, 5);
    lua_pushstring(L, id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, o->data_dir);
    lua_setfield(L, -2, "data_dir");
    lua_pushstring(L, o->channel);
    lua_setfield(L, -2, "channel");
    lua_pushstring(L, o->market);
    lua_setfield(L, -2, "market");
    char err[JSON_ERRLEN];
    if (!o->exchange || json_decode(L, o->exchange, strlen(o->exchange), err, sizeof err) != 0)
        lua_newtable(L);
    lua_setfield(L, -2, "exchange");
    lua_setfield(L, -2, "stratrun.config");
    lua_pop(L, 1);
}

/* Opens the runtime API in a new state, under lua_pcall: (options) */
static int open_runtime(lua_State *L)
{
    const struct options *opt = lua_touserdata(L, 1);
    push_config(L, opt, bot_of(L)->id);
    api_open(L);
    return 0;
}

struct bot *bot_new(const struct options *opt, const struct bot_spec *spec, struct engine *engine,
                    struct market *market, struct sched *sched, char *err, size_t errlen)
{
    struct bot *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->log_fd = b->lock_fd = -1;
    b->co_ref = LUA_NOREF;
    b->phase = PHASE_DONE;
    b->opt = opt;
    b->engine = engine;
    b->market = market;
    b->sched = sched;
    b->script = spec->script;
    memcpy(b->id, spec->id, sizeof b->id);
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
    fs_sweep_temp_files(b->dir);   /* store.json or status.txt temp files of a run killed mid-write */
    snprintf(path, sizeof path, "%s/log.txt", b->dir);
    b->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (b->log_fd < 0) {
        snprintf(err, errlen, "cannot open log %s: %s", path, strerror(errno));
        goto fail;
    }
    log_attach(b->log_fd);

    b->L = luaL_newstate();
    if (!b->L) {
        snprintf(err, errlen, "cannot create a Lua state: out of memory");
        goto fail;
    }
    *(struct bot **)lua_getextraspace(b->L) = b;
    lua_pushcfunction(b->L, open_runtime);
    lua_pushlightuserdata(b->L, (void *)opt);
    if (lua_pcall(b->L, 1, 0, 0) != LUA_OK) {
        snprintf(err, errlen, "cannot start the runtime: %s", lua_tostring(b->L, -1));
        goto fail;
    }
    /* The store and the channel were opened by their modules; they report failures (a corrupt store) here. */
    lua_getfield(b->L, LUA_REGISTRYINDEX, "stratrun.openerror");
    if (lua_isstring(b->L, -1)) {
        snprintf(err, errlen, "%s", lua_tostring(b->L, -1));
        goto fail;
    }
    lua_pop(b->L, 1);
    options_push_params(opt, b->L, b->id);
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
    if (b->log_fd >= 0) {
        log_detach(b->log_fd);
        close(b->log_fd);
    }
    if (b->lock_fd >= 0)
        close(b->lock_fd);
    free(b->dir);
    free(b);
}

/* ---- the lifecycle ---- */

/* Makes the function below nargs arguments on b->L the body of a new coroutine, for phase ph.
 * stack: fn args... -> (empty) */
static void begin(struct bot *b, enum phase ph, int nargs)
{
    lua_State *L = b->L;
    lua_State *co = lua_newthread(L);
    lua_insert(L, -2 - nargs);
    lua_xmove(L, co, 1 + nargs);
    luaL_unref(L, LUA_REGISTRYINDEX, b->co_ref);
    b->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);     /* pops the thread */
    b->co = co;
    b->nargs = nargs;
    b->phase = ph;
}

static void finish(struct bot *b)
{
    luaL_unref(b->L, LUA_REGISTRYINDEX, b->co_ref);
    b->co_ref = LUA_NOREF;
    b->co = NULL;
    b->phase = PHASE_DONE;
}

/* Starts phase ph with global function fname if the script defines it; returns 0 if it does not. */
static int begin_hook(struct bot *b, enum phase ph, const char *fname, const char *arg)
{
    if (lua_getglobal(b->L, fname) != LUA_TFUNCTION) {
        lua_pop(b->L, 1);
        return 0;
    }
    if (arg)
        lua_pushstring(b->L, arg);
    begin(b, ph, arg ? 1 : 0);
    return 1;
}

int bot_start(struct bot *b)
{
    lua_State *L = b->L;
    const struct options *o = b->opt;
    int one = o->mode == MODE_ONE;

    /* arg, as lua.c sets it: arg[0] the script, arg[1..] its arguments, arg[-n] the command before it. */
    int before = one ? (int)(o->script_argv - o->argv) : 0;
    lua_createtable(L, one ? o->script_argc : 0, before);
    for (int i = 0; one && i < o->argc; i++) {
        lua_pushstring(L, o->argv[i]);
        lua_rawseti(L, -2, i - before);
    }
    if (!one) {
        lua_pushstring(L, b->script);
        lua_rawseti(L, -2, 0);
    }
    lua_setglobal(L, "arg");

    int status = luaL_loadfilex(L, b->script, "t");
    if (status == LUA_ERRFILE) {
        fprintf(stderr, "stratrun: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return b->status = EXIT_USAGE;
    }
    if (status != LUA_OK) {     /* a syntax error: "file:line: message" */
        log_write(b, LOG_ERROR, lua_tostring(L, -1), lua_rawlen(L, -1));
        lua_pop(L, 1);
        return b->status = EXIT_STRATEGY;
    }
    int nargs = one ? o->script_argc - 1 : 0;
    for (int i = 1; i <= nargs; i++)
        lua_pushstring(L, o->script_argv[i]);
    begin(b, PHASE_CHUNK, nargs);
    return 0;
}

/* After a phase returned: what comes next. */
static void next_phase(struct bot *b)
{
    switch (b->phase) {
    case PHASE_CHUNK:
        if (lua_getglobal(b->L, "main") != LUA_TFUNCTION) {
            lua_pop(b->L, 1);   /* a plain chunk: done when it returns */
            finish(b);
            return;
        }
        lua_pop(b->L, 1);
        if (begin_hook(b, PHASE_INIT, "init", NULL))
            return;
        __attribute__((fallthrough));   /* no init: main next */
    case PHASE_INIT:
        lua_getglobal(b->L, "main");
        begin(b, PHASE_MAIN, 0);
        return;
    case PHASE_MAIN:
        if (!begin_hook(b, PHASE_ONEXIT, "onexit", NULL))
            finish(b);
        return;
    default:
        finish(b);
    }
}

/* Reports the error on top of the failed co: the message in the log and on stderr, the traceback on stderr.
 * Leaves the message on b->L. */
static void report(struct bot *b)
{
    lua_State *L = b->L;
    lua_xmove(b->co, L, 1);     /* the error object; a dead coroutine cannot run __tostring itself */
    if (!lua_isstring(L, -1)) {
        int has = luaL_callmeta(L, -1, "__tostring");
        if (has && !lua_isstring(L, -1)) {
            lua_pop(L, 1);
            has = 0;
        }
        if (!has)
            lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, -1));
        lua_replace(L, -2);
    }
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    log_write(b, LOG_ERROR, msg, len);
    luaL_traceback(L, b->co, NULL, 0);
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    fflush(stderr);
    lua_pop(L, 1);
}

void bot_abandon(struct bot *b, const char *why)
{
    if (b->phase == PHASE_DONE)
        return;
    log_write(b, LOG_ERROR, why, strlen(why));
    b->status = EXIT_STRATEGY;
    finish(b);
}

void bot_stop(struct bot *b, int status)
{
    b->awaiting = 0;    /* what it awaited is abandoned with main */
    if (b->phase == PHASE_CHUNK || b->phase == PHASE_INIT || b->phase == PHASE_MAIN) {
        b->status = status;
        if (!begin_hook(b, PHASE_ONEXIT, "onexit", NULL))
            finish(b);
    }
}

int bot_step(struct bot *b)
{
    while (b->phase != PHASE_DONE) {
        int nres;
        lua_State *co = b->co;
        running = co;
        int st = lua_resume(co, NULL, b->nargs, &nres);
        running = NULL;
        b->nargs = 0;
        if (st == LUA_YIELD) {
            lua_pop(co, nres);
            return 1;   /* Sleep set wake_ns */
        }
        if (st == LUA_OK) {
            lua_pop(co, nres);
            next_phase(b);
            continue;
        }
        enum phase failed = b->phase;
        if (bot_signal_received() && failed <= PHASE_MAIN) {
            /* Interrupted: not a strategy error. onexit runs, undisturbed by the signal already handled. */
            lua_sethook(co, NULL, 0, 0);
            bot_stop(b, 128 + bot_signal_received());
            continue;
        }
        report(b);      /* pushes the message */
        b->status = EXIT_STRATEGY;
        if (failed <= PHASE_MAIN && begin_hook(b, PHASE_ONERROR, "onerror", lua_tostring(b->L, -1))) {
            lua_pop(b->L, 1);
            continue;
        }
        lua_pop(b->L, 1);
        finish(b);
    }
    return 0;
}
