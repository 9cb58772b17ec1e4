/*
 * bot.c: one strategy's life: its Lua state and folder, its lifecycle as phases run in coroutines (top-level
 * chunk, init, main, then onexit, or onerror after an error), error reports with tracebacks, and what SIGINT and
 * SIGTERM do to it. scheduler.c decides which bot runs when.
 */
#include "host/bot.h"
#include "lua/api.h"
#include "core/fsutil.h"
#include "core/redact.h"
#include "data/json.h"
#include "core/logsink.h"
#include "lua/log.h"
#include "core/outq.h"
#include "core/watchdog.h"
#include "core/clock.h"
#include "core/engine.h"
#include "core/timeparse.h"

#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

/* ---- signals and the hook ---- */

/* Only the scheduler's thread runs Lua. The handlers below run on it and, as lua.c's do, only set a hook on the
 * thread it runs now; the hook (normal context, at the next instruction) decides what to do. */
static volatile sig_atomic_t got_signal;     /* the first SIGINT, SIGTERM or SIGHUP, or 0 */
static volatile sig_atomic_t overrun_seen;   /* the watchdog's SIGURG: the running step used up its slice */
static int64_t first_signal_ns;              /* CLOCK_MONOTONIC of the first stop signal */
static lua_State *volatile current;          /* the thread the scheduler's thread runs now, or NULL */
static int sigpipe_fd[2] = {-1, -1};
static int watching;                         /* a step of some bot runs under the watchdog */
static int in_door;                          /* the host runs code in a bot's state (bot_door) */

#define SLICE_NS (10 * (int64_t)1000000)     /* a bot's time slice before it is preempted (live) */
#define RESEND_NS ((int64_t)1000000000)      /* the same stop signal again within this is the same stop */

static void hook(lua_State *L, lua_Debug *ar);

static int signal_ends(const struct bot *b)
{
    return got_signal && b->phase <= PHASE_MAIN && !b->stopped;
}

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *signame(int sig)
{
    return sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "SIGINT";
}

static void on_stop_signal(int sig)
{
    int saved = errno;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (got_signal) {
        if (now - first_signal_ns < RESEND_NS) {
            errno = saved;
            return;     /* the same stop delivered twice (timeout(1) signals the process, then its group) */
        }
        char msg[96] = "stratrun: second ";
        strcat(msg, signame(sig));
        strcat(msg, ": exiting now; onexit is cut short\n");
        if (write(STDERR_FILENO, msg, strlen(msg)) < 0) { /* nothing left to tell */ }
        _exit(128 + sig);
    }
    first_signal_ns = now;      /* before got_signal: a handler on another thread reads them in this order */
    got_signal = sig;
    if (write(sigpipe_fd[1], "!", 1) < 0) { /* the pipe only needs to be readable */ }
    if (current)
        lua_sethook(current, hook, LUA_MASKCOUNT, 1);
    errno = saved;
}

static void on_overrun(int sig)
{
    (void)sig;
    overrun_seen = 1;
    if (current)
        lua_sethook(current, hook, LUA_MASKCOUNT, 1);
}

void bot_signals_install(void)
{
    if (pipe2(sigpipe_fd, O_CLOEXEC | O_NONBLOCK) != 0)
        sigpipe_fd[0] = sigpipe_fd[1] = -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = 0;    /* no SA_RESTART: a blocking call returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_overrun;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGURG, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = 0;
    sigaction(SIGPIPE, &sa, NULL);     /* a reader gone is EPIPE (outq.c), not the end of every bot */
}

int bot_signal_received(void)
{
    return got_signal;
}

int bot_signal(void)
{
    return got_signal;
}

int bot_signal_fd(void)
{
    return sigpipe_fd[0];
}

void bot_signal_drain(void)
{
    char buf[64];
    while (sigpipe_fd[0] >= 0 && read(sigpipe_fd[0], buf, sizeof buf) > 0) { }
}

void bot_watchdog_start(void)
{
    watchdog_start(SIGURG, SLICE_NS);
}

int bot_interrupted(lua_State *L)
{
    return luaL_error(L, "interrupted by %s", signame(got_signal));
}

void bot_end(struct bot *b, int status, const char *why)
{
    if (b->end_req)
        return;     /* the first reason stands */
    b->end_req = 1;
    b->end_status = status;
    snprintf(b->end_why, sizeof b->end_why, "%s", why ? why : "");
    if (current && bot_of(current) == b)
        lua_sethook(current, hook, LUA_MASKCOUNT, 1);
}

/* The running step has used up a slice (the watchdog's SIGURG). Live: the bot yields at the next instruction where
 * it can, so the other bots keep their turns, and it is warned once when it has run step_limit without Sleep; where
 * it cannot yield for step_limit, it is ended. A replay never preempts (that would make it depend on the machine's
 * speed): a bot that runs step_limit of CPU without Sleep is ended there, so a replay always ends. */
static int overrun(lua_State *L, struct bot *b)
{
    double limit = b->opt->limits.step_s;
    int64_t limit_ns = (int64_t)(limit * 1e9);
    if (b->sched && b->sched->virtual_) {
        int64_t cpu = thread_cpu_ns();
        if (b->step_cpu_ns < 0)
            b->step_cpu_ns = cpu - SLICE_NS;    /* a slice had run already when the first overrun came */
        if (cpu - b->step_cpu_ns >= limit_ns) {
            char when[32], why[512];
            time_format_utc(b->sched->now_ns / 1000000, TIME_MINUTE, when, sizeof when);
            snprintf(why, sizeof why, "bot %s ran %g s of CPU at %s UTC without Sleep: a replay moves a bot's clock "
                     "only in Sleep (step_limit)", b->id, limit, when);
            bot_end(b, EXIT_STRATEGY, why);
        }
        return 0;
    }
    int64_t now = clock_mono_ns();
    if (L == b->co && lua_isyieldable(L)) {
        if (!b->busy_warned && now - b->awake_since_ns >= limit_ns) {
            b->busy_warned = 1;
            log_printf(b, LOG_WARN, "bot %s has run %g s without Sleep; the other bots keep their turns, but a "
                       "strategy's loop should Sleep (step_limit)", b->id, limit);
        }
        return 1;
    }
    bot_overran(b);
    return 1;
}

int bot_overran(struct bot *b)
{
    if (b->end_req)
        return 1;
    /* Alone in its process, a bot starves nobody: only a stop ends it. The host's own calls into it (an error
     * object's __tostring, the replay summary) are bounded all the same: the host waits on them. */
    if (!in_door && (!b->sched || b->sched->virtual_ || b->sched->nbots < 2))
        return 0;
    int64_t limit_ns = (int64_t)(b->opt->limits.step_s * 1e9);
    if (clock_mono_ns() - b->step_start_ns >= limit_ns) {
        double limit = b->opt->limits.step_s;
        char why[512];
        snprintf(why, sizeof why, "bot %s ran %g s without Sleep where it cannot be preempted (a coroutine of its "
                 "own, a metamethod, or a callback such as a sort comparator); stopped (step_limit)", b->id, limit);
        bot_end(b, EXIT_STRATEGY, why);
        return 1;
    }
    return 0;
}

/* Count hook, set by the handlers above, by bot_end and by os.exit. It yields the phase's coroutine back to the
 * scheduler when the bot must end or give up its turn; where it cannot yield (inside a coroutine of the strategy's
 * own, a non-yieldable callback, a finalizer) an ending bot gets an error at every instruction, which no pcall can
 * keep from reaching the phase's coroutine. */
static void hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct bot *b = bot_of(L);
    lua_sethook(L, NULL, 0, 0);
    int turn = 0;
    if (overrun_seen) {
        overrun_seen = 0;
        turn = overrun(L, b);
    }
    int ending = b->end_req || signal_ends(b);
    if (!ending && !turn)
        return;
    if (L == b->co && lua_isyieldable(L)) {
        b->preempted = !ending;
        b->yield_ok = 1;
        lua_yield(L, 0);    /* in a hook: the coroutine yields when the hook returns */
        return;
    }
    if (ending) {
        lua_sethook(L, hook, LUA_MASKCOUNT, 1);
        if (b->end_req)
            luaL_error(L, "%s", *b->end_why ? b->end_why : "the bot is ending");
        bot_interrupted(L);
    }
    lua_sethook(L, hook, LUA_MASKCOUNT, 1000);  /* yield when it can */
}

/* A lifecycle step of b runs under the watchdog (preemption, the replay's CPU bound). */
static void bot_watch_begin(struct bot *b)
{
    current = b->co;
    b->step_cpu_ns = -1;
    b->step_start_ns = clock_mono_ns();
    if (!b->preempted)
        b->awake_since_ns = b->step_start_ns;
    b->preempted = 0;
    watching = 1;
    watchdog_begin();
}

static void bot_watch_end(struct bot *b)
{
    (void)b;
    watchdog_end();
    watching = 0;
    current = NULL;
}

/* ---- the strategy's own coroutines, os.exit ---- */

/* coroutine.resume and the functions coroutine.wrap returns, tracked: while a coroutine of the strategy's runs,
 * the signal handlers must set their hook on it. upvalue 1: the original function; upvalue 2 (wrap): the thread. */
static int tracked(lua_State *L)
{
    lua_State *co = lua_tothread(L, lua_isthread(L, lua_upvalueindex(2)) ? lua_upvalueindex(2) : 1);
    struct bot *b = bot_of(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_State *prev = current;
    if (co && prev) {
        current = co;
        if (b->end_req || signal_ends(b))
            lua_sethook(co, hook, LUA_MASKCOUNT, 1);
    }
    int st = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    current = prev;
    if (prev && (b->end_req || signal_ends(b)))
        lua_sethook(prev, hook, LUA_MASKCOUNT, 1);
    if (st != LUA_OK)
        return lua_error(L);
    return lua_gettop(L);
}

/* coroutine.wrap(f): the original's function, whose upvalue 1 is its coroutine, behind tracked. */
static int tracked_wrap(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    lua_getupvalue(L, -1, 1);       /* stack: wrapfn thread */
    lua_pushcclosure(L, tracked, 2);
    return 1;
}

/* coroutine.yield(...): in a phase's own coroutine (main, init, onexit...) it is, as in plain Lua, an error; only
 * Sleep and the runtime yield there. */
static int guarded_yield(lua_State *L)
{
    struct bot *b = bot_of(L);
    if (L == b->co)
        return luaL_error(L, "attempt to yield from outside a coroutine");
    return lua_yieldk(L, lua_gettop(L), 0, NULL);
}

/* os.exit([code]): ends this bot, not the process: its onexit runs, and code is its exit status (true 0, false 1). */
static int f_exit(lua_State *L)
{
    struct bot *b = bot_of(L);
    /* As exit(3) takes it: the low 8 bits (os.exit(-1) is 255). */
    int status = lua_isboolean(L, 1) ? (lua_toboolean(L, 1) ? EXIT_SUCCESS : EXIT_FAILURE)
                                     : (int)((lua_Unsigned)luaL_optinteger(L, 1, EXIT_SUCCESS) & 0xFF);
    bot_end(b, status, NULL);
    if (L == b->co && lua_isyieldable(L)) {
        b->yield_ok = 1;
        return lua_yield(L, 0);
    }
    lua_sethook(L, hook, LUA_MASKCOUNT, 1);
    return luaL_error(L, "os.exit(%d)", status);
}

/* registry["stratrun.refuse"](message): raises message as the one line that ends the bot, without the traceback
 * that follows a strategy's error (stdlib/live.lua: a venue that cannot be reached at start). (bot) */
static int f_refuse(lua_State *L)
{
    luaL_checkstring(L, 1);
    (*(struct bot **)lua_getextraspace(L))->plain_error = 1;
    lua_settop(L, 1);
    return lua_error(L);
}

static void install_controls(lua_State *L)
{
    lua_getglobal(L, "coroutine");
    lua_getfield(L, -1, "resume");
    lua_pushcclosure(L, tracked, 1);
    lua_setfield(L, -2, "resume");
    lua_getfield(L, -1, "wrap");
    lua_pushcclosure(L, tracked_wrap, 1);
    lua_setfield(L, -2, "wrap");
    lua_getfield(L, -1, "close");     /* runs the coroutine's __close handlers on it */
    lua_pushcclosure(L, tracked, 1);
    lua_setfield(L, -2, "close");
    lua_pushcfunction(L, guarded_yield);
    lua_setfield(L, -2, "yield");
    lua_pop(L, 1);
    lua_getglobal(L, "os");
    lua_pushcfunction(L, f_exit);
    lua_setfield(L, -2, "exit");
    lua_pop(L, 1);
}

/* ---- the one door ---- */

/* Pushes the error object at idx as a string. A failing or odd __tostring is named, never raised. */
static void push_message(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    int t = lua_type(L, idx);
    if (t == LUA_TSTRING || t == LUA_TNUMBER) {
        lua_pushvalue(L, idx);
        lua_tostring(L, -1);
        return;
    }
    if (luaL_getmetafield(L, idx, "__tostring") != LUA_TNIL) {
        lua_pushvalue(L, idx);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
            if (lua_type(L, -1) == LUA_TSTRING)
                return;
            const char *got = luaL_typename(L, -1);
            lua_pop(L, 1);
            lua_pushfstring(L, "error object is a %s whose __tostring returned a %s", luaL_typename(L, idx), got);
            return;
        }
        const char *inner = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1);
        lua_pushfstring(L, "error object is a %s whose __tostring failed: %s", luaL_typename(L, idx), inner);
        lua_remove(L, -2);
        return;
    }
    lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, idx));
}

/* The door's message handler: the message as a string, with a traceback. */
static int msghandler(lua_State *L)
{
    push_message(L, 1);
    luaL_traceback(L, L, lua_tostring(L, -1), 1);
    return 1;
}

/* The host is about to run code in b's state L: the signal handlers' hook goes there, and unless a step of a bot
 * is watched already, the watchdog watches this one. Returns whether it began a watched step. */
static int door_enter(struct bot *b, lua_State *L)
{
    current = L;
    if (watching)
        return 0;
    b->step_cpu_ns = -1;
    b->step_start_ns = clock_mono_ns();
    watching = 1;
    watchdog_begin();
    return 1;
}

static void door_leave(int outer, lua_State *prev)
{
    if (outer) {
        watchdog_end();
        watching = 0;
    }
    current = prev;
}

int bot_door(struct bot *b, lua_CFunction f, void *ud, char *msg, size_t msglen)
{
    lua_State *L = b->L;
    if (!L) {
        if (msg)
            snprintf(msg, msglen, "the bot's Lua state was closed (it ran out of memory)");
        return LUA_ERRMEM;
    }
    lua_State *prev = current;
    int outer = door_enter(b, L);
    in_door++;
    int top = lua_gettop(L);
    lua_pushcfunction(L, msghandler);
    lua_pushcfunction(L, f);
    lua_pushlightuserdata(L, ud);
    int st = lua_pcall(L, 1, 0, top + 1);
    if (st != LUA_OK && msg)
        snprintf(msg, msglen, "%s", lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "not enough memory");
    lua_settop(L, top);
    in_door--;
    door_leave(outer, prev);
    return st;
}

/* ---- creation ---- */

/* Each bot's Lua state allocates through this, against its own cap (memory_limit): a bot over it gets Lua's "not
 * enough memory" error, and the other bots never pay for its leak. */
static void *bot_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct bot *b = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        b->mem_used -= old;
        return NULL;
    }
    if (nsize > old && b->mem_used + (nsize - old) > b->mem_limit)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (p)
        b->mem_used = b->mem_used - old + nsize;
    return p;
}

/* package.loaded["stratrun.config"]: what stdlib modules (the exchange) need of the bot's settings. The channel
 * URL is not there: it may hold a Redis password, and nothing secret is reachable from a strategy. */
static void push_config(lua_State *L, const struct options *o, const char *id)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_createtable(L, 0, 6);
    lua_pushstring(L, id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, o->data_dir);
    lua_setfield(L, -2, "data_dir");
    lua_pushstring(L, o->market);
    lua_setfield(L, -2, "market");
    lua_pushboolean(L, o->mode == MODE_REPLAY);
    lua_setfield(L, -2, "replay");
    lua_pushboolean(L, o->reset_account);
    lua_setfield(L, -2, "reset_account");
    char err[JSON_ERRLEN];
    if (!o->exchange || json_decode(L, o->exchange, strlen(o->exchange), err, sizeof err) != 0)
        lua_newtable(L);
    /* the config's bots[id].exchange, key by key over the config's exchange table; its bots[id].exchanges, else the
     * config's exchanges (each entry is laid over the exchange table by stdlib/exchange.lua) */
    int top = lua_gettop(L);
    int own_list = 0;
    if (o->bots_cfg && json_decode(L, o->bots_cfg, strlen(o->bots_cfg), err, sizeof err) == 0) {
        lua_getfield(L, -1, id);                        /* stack: exchange bots entry */
        if (lua_istable(L, -1) && lua_getfield(L, -1, "exchange") == LUA_TTABLE) {
            for (lua_pushnil(L); lua_next(L, -2);) {    /* exchange bots entry over key value */
                lua_pushvalue(L, -2);
                lua_insert(L, -2);
                lua_settable(L, -7);                    /* exchange[key] = value; leaves the key */
            }
            lua_pushfstring(L, "bots.%s.exchange", id);
            lua_setfield(L, top - 1, "exchange_over");  /* for messages: whose settings these are */
        }
        lua_settop(L, top + 2);
        if (lua_istable(L, -1) && lua_getfield(L, -1, "exchanges") == LUA_TTABLE) {
            lua_setfield(L, top - 1, "exchanges");
            lua_pushfstring(L, "bots.%s.exchanges", id);
            lua_setfield(L, top - 1, "exchanges_from");
            own_list = 1;
        }
    }
    lua_settop(L, top);
    lua_setfield(L, -2, "exchange");
    if (!own_list && o->exchanges && json_decode(L, o->exchanges, strlen(o->exchanges), err, sizeof err) == 0) {
        lua_setfield(L, -2, "exchanges");
        lua_pushliteral(L, "exchanges");
        lua_setfield(L, -2, "exchanges_from");
    }
    lua_setfield(L, -2, "stratrun.config");
    lua_pop(L, 1);
}

/* Opens the runtime API in a new state, through the door: (bot) */
static int open_runtime(lua_State *L)
{
    struct bot *b = lua_touserdata(L, 1);
    push_config(L, b->opt, b->id);
    lua_pushcfunction(L, f_refuse);     /* before the stdlib, which takes it when loaded */
    lua_setfield(L, LUA_REGISTRYINDEX, "stratrun.refuse");
    api_open(L);
    install_controls(L);
    /* The store and the channel were opened by their modules; they report failures (a corrupt store) here. */
    if (lua_getfield(L, LUA_REGISTRYINDEX, "stratrun.openerror") == LUA_TSTRING)
        return lua_error(L);
    lua_pop(L, 1);
    options_push_params(b->opt, L, b->id);
    return 0;
}

/* Creates the bot's folder (checked as fs_safe_dir does) and takes <dir>/lock: one process per bot ID, as two
 * would overwrite each other's store and channel. The lock file holds the PID of its holder and, on a second line,
 * the script's path, written once the flock is ours, so that "already running" and `stratrun ps` can name them. On success b->lock_fd is the new lock (an old one is
 * closed). */
static int bot_lock(struct bot *b, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/bots", b->opt->data_dir);
    if (fs_safe_dir(path, "bots folder", -1, err, errlen) != 0 || fs_safe_dir(b->dir, "bot folder", -1, err, errlen) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/lock", b->dir);
    long holder;
    int fd = fs_lock_pid(path, 0600, &holder, err, errlen);
    if (fd < 0 && errno == EWOULDBLOCK) {
        if (holder > 0)
            snprintf(err, errlen, "bot %s is already running (process %ld holds %s)", b->id, holder, path);
        else
            snprintf(err, errlen, "bot %s is already running (another process holds %s)", b->id, path);
    }
    if (fd < 0)
        return -1;
    /* The second line names the script, for `stratrun ps` (fs_lock_holder). */
    char line[4200 + 32], real[PATH_MAX];
    const char *script = b->script && realpath(b->script, real) ? real : b->script ? b->script : "";
    int n = snprintf(line, sizeof line, "%ld\n%s\n", (long)getpid(), script);
    if (n > 0 && (size_t)n < sizeof line && pwrite(fd, line, (size_t)n, 0) != n) { /* the PID line stands */ }
    if (b->lock_fd >= 0)
        close(b->lock_fd);
    b->lock_fd = fd;
    b->lock_check_ns = clock_mono_ns();
    return 0;
}

/* Opens (or opens again) <dir>/log.txt for appending, never through a symlink, as the bot's log: the log sink
 * writes its lines there. Returns 0, or -1 with err. */
static int bot_open_log(struct bot *b, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/log.txt", b->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open log %s: %s", path, strerror(errno));
        return -1;
    }
    if (b->log_fd >= 0) {
        log_detach(b->log_fd);
        close(b->log_fd);
    }
    b->log_fd = fd;
    log_attach(fd, path, (long long)(b->opt->limits.log_max_mb * 1048576), (int)b->opt->limits.log_keep);
    return 0;
}

void bot_keep_lock(struct bot *b)
{
    int64_t now = clock_mono_ns();
    if (b->lock_fd < 0 || now - b->lock_check_ns < 1000000000)
        return;
    b->lock_check_ns = now;
    char path[4200];
    snprintf(path, sizeof path, "%s/lock", b->dir);
    struct stat held, named;
    if (fstat(b->lock_fd, &held) != 0 || (stat(path, &named) == 0 && named.st_dev == held.st_dev &&
                                          named.st_ino == held.st_ino))
        return;
    /* The folder (or the lock file) was removed: another process could take the ID. Take it back. */
    char err[4400]; /* room for a folder path of PATH_MAX and its reason */
    if (bot_lock(b, err, sizeof err) != 0) {
        if (!b->lock_lost++)
            log_printf(b, LOG_WARN, "bot folder %s was removed and its lock cannot be taken back: %s", b->dir, err);
        return;
    }
    b->lock_lost = 0;
    if (bot_open_log(b, err, sizeof err) != 0)
        log_printf(b, LOG_WARN, "%s", err);
    log_printf(b, LOG_WARN, "bot folder %s was removed; made it again and took its lock back", b->dir);
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
    b->http = &opt->http;
    b->engine = engine;
    b->market = market;
    b->sched = sched;
    b->script = spec->script;
    b->mem_limit = (size_t)opt->limits.memory_mb << 20;
    memcpy(b->id, spec->id, sizeof b->id);
    size_t n = strlen(opt->data_dir) + strlen(b->id) + 8;
    b->dir = malloc(n);
    if (!b->dir) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    snprintf(b->dir, n, "%s/bots/%s", opt->data_dir, b->id);
    if (bot_lock(b, err, errlen) != 0 || (engine && engine_claim(engine, b->id, err, errlen) != 0))
        goto fail;
    fs_sweep_temp_files(b->dir);   /* store.json or status.txt temp files of a run killed mid-write */
    if (bot_open_log(b, err, errlen) != 0)
        goto fail;

    b->L = lua_newstate(bot_alloc, b);
    if (!b->L) {
        snprintf(err, errlen, "cannot create a Lua state: out of memory");
        goto fail;
    }
    *(struct bot **)lua_getextraspace(b->L) = b;
    char msg[1024];
    if (bot_door(b, open_runtime, b, msg, sizeof msg) != LUA_OK) {
        /* The first line: the store's and channel's own messages need no traceback at start. */
        msg[strcspn(msg, "\n")] = '\0';
        snprintf(err, errlen, "%s", msg);
        goto fail;
    }
    return b;
fail:
    bot_free(b);
    return NULL;
}

void bot_close_state(struct bot *b)
{
    if (!b->L)
        return;
    /* Finalizers run now. Lua runs them with hooks off, so nothing can interrupt one (docs/bots.md); no handler
     * may point at the state while it is freed. */
    b->phase = PHASE_DONE;
    b->co = NULL;
    b->co_ref = LUA_NOREF;
    lua_State *L = b->L;
    if (current && bot_of(current) == b)
        current = NULL;
    b->L = NULL;
    lua_close(L);
    b->end_req = 0;
#ifdef __GLIBC__
    /* Give the closed state's memory back to the system: a state of many small objects lives in the heap, whose
     * freed pages glibc keeps unless asked (a bot that failed at memory_limit left the process 200 MB large). */
    malloc_trim(0);
#endif
}

void bot_free(struct bot *b)
{
    if (!b)
        return;
    bot_close_state(b);
    if (b->log_fd >= 0) {
        log_detach(b->log_fd);
        close(b->log_fd);
    }
    if (b->lock_fd >= 0)
        close(b->lock_fd);
    chanlog_free(b->chanlog);
    free(b->dir);
    free(b);
}

/* ---- the lifecycle ---- */

/* Everything below touches the bot's state only through the door, so that a hostile value (a failing __index on
 * _G, a __tostring that raises, an allocation over the cap) is an error, never a panic. */

struct begin_args {
    struct bot *b;
    enum phase ph;
    const char *hook;       /* a global function to run; NULL: the function is on b->L's stack already */
    const char *arg;        /* the hook's one argument, or NULL */
    int nargs;              /* with hook NULL: arguments above the function */
    int started;            /* out: the phase began */
};

/* Makes a hook, or the function below nargs arguments on the door's stack, the body of a new coroutine.
 * Hooks are read from the globals table raw: a strict-mode __index on _G is not asked for functions that the
 * script did not define. */
static int begin_protected(lua_State *L)
{
    struct begin_args *a = lua_touserdata(L, 1);
    lua_remove(L, 1);
    struct bot *b = a->b;
    int nargs = a->nargs;
    if (a->hook) {
        lua_pushglobaltable(L);
        lua_pushstring(L, a->hook);
        lua_rawget(L, -2);
        /* a live exchange's start (reconciling with the venue) runs as main and its stop (cancel_on_stop) as
         * onexit, each calling the strategy's own (stdlib/live.lua) */
        const char *wrap = a->ph == PHASE_MAIN ? "stratrun.main" : a->ph == PHASE_ONEXIT ? "stratrun.onexit" : NULL;
        if (wrap) {
            if (lua_getfield(L, LUA_REGISTRYINDEX, wrap) == LUA_TFUNCTION)
                lua_remove(L, -2);
            else
                lua_pop(L, 1);
        }
        if (lua_type(L, -1) != LUA_TFUNCTION)
            return 0;
        lua_remove(L, -2);      /* the globals table */
        nargs = 0;
        if (a->arg) {
            lua_pushstring(L, a->arg);
            nargs = 1;
        }
    }
    lua_State *co = lua_newthread(L);
    lua_sethook(co, NULL, 0, 0);    /* not the hook the main state may carry from the door */
    lua_insert(L, -2 - nargs);
    lua_xmove(L, co, 1 + nargs);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);     /* pops the thread */
    luaL_unref(L, LUA_REGISTRYINDEX, b->co_ref);
    b->co_ref = ref;
    b->co = co;
    b->nargs = nargs;
    b->phase = a->ph;
    if (a->ph == PHASE_ONEXIT || a->ph == PHASE_ONERROR)    /* live, onexit_limit bounds it (scheduler.c) */
        b->exit_deadline_ns = clock_mono_ns() + (int64_t)(b->opt->limits.onexit_s * 1e9);
    a->started = 1;
    return 0;
}

/* The log's stop line, once, when a started bot is done (log.txt only: the terminal saw the run end). */
static void log_stop_line(struct bot *b)
{
    if (!b->start_said)
        return;
    int64_t ran = (clock_now_ms(b) - b->started_ms) / 1000;
    b->start_said = 0;
    char why[80] = "";
    if (b->stopped && b->status > 128 && b->status < 128 + 65)
        snprintf(why, sizeof why, " (stopped by %s)", signame(b->status - 128));
    else if (b->status == EXIT_STRATEGY)    /* onexit failed after a stop signal: the process exits 128+N */
        snprintf(why, sizeof why, " (an error or a limit ended it%s%s)", got_signal ? ", after " : "",
                 got_signal ? signame(got_signal) : "");
    log_printf(b, LOG_FILE, "stop: %s ran %lld h %02lld min %02lld s; exit status %d%s", b->id,
               (long long)(ran / 3600), (long long)(ran / 60 % 60), (long long)(ran % 60), b->status, why);
}

static void finish(struct bot *b)
{
    log_stop_line(b);
    if (b->L && b->co_ref != LUA_NOREF)
        luaL_unref(b->L, LUA_REGISTRYINDEX, b->co_ref);    /* never raises: the free list exists already */
    b->co_ref = LUA_NOREF;
    b->co = NULL;
    b->phase = PHASE_DONE;
}

/* Starts phase ph with global function fname if the script defines it; returns 0 if it does not (or if the
 * state cannot even start it: then the bot is done, with the reason logged). */
static int begin_hook(struct bot *b, enum phase ph, const char *fname, const char *arg)
{
    struct begin_args a = {b, ph, fname, arg, 0, 0};
    char msg[1024];
    if (bot_door(b, begin_protected, &a, msg, sizeof msg) != LUA_OK) {
        log_printf(b, LOG_ERROR, "cannot start %s: %s", fname, msg);
        b->status = EXIT_STRATEGY;
        return 0;
    }
    return a.started;
}

struct start_args {
    struct bot *b;
    int status;
};

/* Pushes one word of the command line for arg[]; a channel URL's password (redis://user:password@host) is masked:
 * nothing secret is reachable from a strategy. */
static void push_arg(lua_State *L, const char *a, int chan)
{
    size_t off, len, opt = strncmp(a, "--channel=", 10) == 0 ? 10 : 0;
    if (!chan || !redact_span(a + opt, &off, &len)) {
        lua_pushstring(L, a);
        return;
    }
    off += opt;
    lua_pushfstring(L, "%s***%s", lua_pushlstring(L, a, off), a + off + len);
    lua_remove(L, -2);
}

/* The top-level chunk, loaded and made the first phase, through the door: (start_args) */
static int start_protected(lua_State *L)
{
    struct start_args *a = lua_touserdata(L, 1);
    lua_remove(L, 1);
    struct bot *b = a->b;
    const struct options *o = b->opt;
    int one = o->mode == MODE_ONE;

    /* arg, as lua.c sets it: arg[0] the script, arg[1..] its arguments, arg[-n] the command before it. */
    int before = one ? (int)(o->script_argv - o->argv) : 0;
    lua_createtable(L, one ? o->script_argc : 0, before);
    for (int i = 0; one && i < o->argc; i++) {
        int chan = i > 0 && i <= before && (strcmp(o->argv[i - 1], "--channel") == 0 ||
                                            strncmp(o->argv[i], "--channel=", 10) == 0);
        push_arg(L, o->argv[i], chan);
        lua_rawseti(L, -2, i - before);
    }
    if (!one) {
        lua_pushstring(L, b->script);
        lua_rawseti(L, -2, 0);
    }
    lua_setglobal(L, "arg");

    int status = luaL_loadfilex(L, b->script, "t");
    if (status == LUA_ERRFILE) {
        outq_printf(STDERR_FILENO, "stratrun: %s\n", lua_tostring(L, -1));
        a->status = EXIT_USAGE;
        return 0;
    }
    if (status != LUA_OK) {     /* a syntax error: "file:line: message" */
        if (status == LUA_ERRMEM)
            return lua_error(L);
        log_write(b, LOG_ERROR, lua_tostring(L, -1), lua_rawlen(L, -1));
        a->status = EXIT_STRATEGY;
        return 0;
    }
    int nargs = one ? o->script_argc - 1 : 0;
    for (int i = 1; i <= nargs; i++)
        lua_pushstring(L, o->script_argv[i]);
    struct begin_args ba = {b, PHASE_CHUNK, NULL, NULL, nargs, 0};
    lua_pushlightuserdata(L, &ba);
    lua_insert(L, 1);
    return begin_protected(L);
}

int bot_check_script(const char *path, char *err, size_t errlen)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        snprintf(err, errlen, "cannot check %s: out of memory", path);
        return -1;
    }
    int status = luaL_loadfilex(L, path, "t");
    if (status != LUA_OK)
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
    lua_close(L);
    return status == LUA_OK ? 0 : -1;
}

int bot_start(struct bot *b)
{
    struct start_args a = {b, 0};
    b->started_ms = clock_now_ms(b);
    b->start_said = 1;
    if (b->sched && b->sched->virtual_)     /* no PID: a replay's log is the same from run to run */
        log_printf(b, LOG_FILE, "start: %s runs %s (stratrun %s, replay)", b->id, b->script, STRATRUN_VERSION);
    else
        log_printf(b, LOG_FILE, "start: %s runs %s (stratrun %s, PID %ld, live)", b->id, b->script,
                   STRATRUN_VERSION, (long)getpid());
    char msg[1024];
    if (bot_door(b, start_protected, &a, msg, sizeof msg) != LUA_OK) {
        log_printf(b, LOG_ERROR, "cannot start %s: %s", b->script, msg);
        a.status = EXIT_STRATEGY;
    }
    if (a.status)
        b->status = a.status;
    return a.status;
}

/* A global function of the script, read raw, through the door: (struct hook_probe) */
struct hook_probe {
    const char *name;
    int present;
};

static int probe_protected(lua_State *L)
{
    struct hook_probe *p = lua_touserdata(L, 1);
    lua_pushglobaltable(L);
    lua_pushstring(L, p->name);
    p->present = lua_rawget(L, -2) == LUA_TFUNCTION;
    return 0;
}

static int defines(struct bot *b, const char *name)
{
    struct hook_probe p = {name, 0};
    return bot_door(b, probe_protected, &p, NULL, 0) == LUA_OK && p.present;
}

/* After a phase returned: what comes next. */
static void next_phase(struct bot *b)
{
    switch (b->phase) {
    case PHASE_CHUNK:
        if (!defines(b, "main")) {
            finish(b);      /* a plain chunk: done when it returns */
            return;
        }
        if (begin_hook(b, PHASE_INIT, "init", NULL))
            return;
        __attribute__((fallthrough));   /* no init: main next */
    case PHASE_INIT:
        if (!begin_hook(b, PHASE_MAIN, "main", NULL))
            finish(b);
        return;
    case PHASE_MAIN:
        if (!begin_hook(b, PHASE_ONEXIT, "onexit", NULL))
            finish(b);
        return;
    default:
        finish(b);
    }
}

/* Reports the error on top of the failed co, through the door: the message in the log and on stderr, the
 * traceback on stderr; the message is kept in b->end_why for onerror. (bot) */
static int report_protected(lua_State *L)
{
    struct bot *b = lua_touserdata(L, 1);
    lua_xmove(b->co, L, 1);     /* the error object; a dead coroutine cannot run __tostring itself */
    push_message(L, -1);
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    log_write(b, LOG_ERROR, msg, len);
    snprintf(b->end_why, sizeof b->end_why, "%s", msg);
    if (!b->plain_error) {
        size_t tl;
        luaL_traceback(L, b->co, NULL, 0);
        const char *tb = lua_tolstring(L, -1, &tl);
        outq_write(STDERR_FILENO, tb, tl);
        outq_write(STDERR_FILENO, "\n", 1);
    }
    b->plain_error = 0;
    lua_pushvalue(L, 2);        /* the error object goes back: the coroutine's __close handlers get it */
    lua_xmove(L, b->co, 1);
    return 0;
}

/* Runs the pending to-be-closed variables of b->co, a phase that failed or that a stop ended, as Lua closes a
 * coroutine: through the door, with the hook on that coroutine. (close_args) */
struct close_args {
    struct bot *b;
    int failed;     /* the coroutine died of an error: its error object is not raised again */
};

static int close_protected(lua_State *L)
{
    struct close_args *a = lua_touserdata(L, 1);
    struct bot *b = a->b;
    lua_State *co = b->co, *prev = current;
    current = co;
#if LUA_VERSION_RELEASE_NUM >= 50406
    int st = lua_closethread(co, L);
#else
    int st = lua_resetthread(co);
#endif
    current = prev;
    if (st != LUA_OK && !a->failed && lua_gettop(co) > 0 && lua_type(co, -1) != LUA_TNIL) {
        lua_xmove(co, L, 1);
        return lua_error(L);
    }
    return 0;
}

/* The door around close_protected; an error in a __close handler is logged. failed: the phase failed already
 * (its error object is what the handlers get, and an unchanged one is not an error of its own). */
static void close_pending(struct bot *b, int failed)
{
    if (!b->co || !b->L)
        return;
    int st = lua_status(b->co);
    failed |= st != LUA_OK && st != LUA_YIELD;  /* it died of an error (a stop raised where it could not yield) */
    char msg[512];
    struct close_args a = {b, failed};
    if (bot_door(b, close_protected, &a, msg, sizeof msg) != LUA_OK) {
        msg[strcspn(msg, "\n")] = '\0';
        log_printf(b, LOG_ERROR, "closing %s's to-be-closed variables: %s", b->id, msg);
    }
}

static void report(struct bot *b, int st)
{
    char msg[512];
    int ok = bot_door(b, report_protected, b, msg, sizeof msg) == LUA_OK;
    b->end_req = 0;     /* a bound that cut the report (a __tostring that never returns) ends the report only */
    if (!ok) {
        /* Even the message could not be made (out of memory): say what is known. */
        log_printf(b, LOG_ERROR, "%s (%s)", st == LUA_ERRMEM ? "not enough memory" : "error", msg);
        snprintf(b->end_why, sizeof b->end_why, "%s", st == LUA_ERRMEM ? "not enough memory" : msg);
    }
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
    if (b->phase <= PHASE_MAIN && b->phase != PHASE_DONE && !b->stopped) {
        b->status = status;
        b->stopped = 1;
        close_pending(b, 0);    /* main's <close> variables, as a coroutine.close would */
        if (!begin_hook(b, PHASE_ONEXIT, "onexit", NULL))
            finish(b);
    }
}

/* The current phase was asked to end (bot_end, a stop signal): main gives way to onexit, a hook just ends. */
static void end_phase(struct bot *b)
{
    if (!b->end_req) {      /* a stop signal: main ends, onexit runs (the scheduler stops the other bots) */
        bot_stop(b, 128 + got_signal);
        return;
    }
    b->end_req = 0;
    if (*b->end_why)
        log_write(b, LOG_ERROR, b->end_why, strlen(b->end_why));
    if (b->end_status >= 0)
        b->status = b->end_status;
    if (b->phase <= PHASE_MAIN)
        bot_stop(b, b->status);
    else
        finish(b);
}

int bot_step(struct bot *b)
{
    while (b->phase != PHASE_DONE) {
        int nres;
        bot_watch_begin(b);
        b->yield_ok = 0;
        int st = lua_resume(b->co, NULL, b->nargs, &nres);
        bot_watch_end(b);
        b->nargs = 0;
        int ending = b->end_req || signal_ends(b);
        if (st == LUA_YIELD || st == LUA_OK)
            lua_pop(b->co, nres);
        if (ending) {
            b->preempted = 0;
            end_phase(b);
            continue;
        }
        if (st == LUA_YIELD && b->yield_ok)
            return 1;   /* Sleep set wake_ns, or a time slice is over (b->preempted) */
        if (st == LUA_YIELD) {      /* a yield that is neither: ended, as plain Lua refuses it in main */
            bot_end(b, EXIT_STRATEGY, "attempt to yield from outside a coroutine");
            end_phase(b);
            continue;
        }
        if (st == LUA_OK) {
            next_phase(b);
            continue;
        }
        enum phase failed = b->phase;
        if (st == LUA_ERRMEM)
            b->out_of_memory = 1;
        report(b, st);
        close_pending(b, 1);
        b->status = EXIT_STRATEGY;
        /* The failed coroutine goes now: what it held (all of it, when the bot ran out of memory) can be collected
         * before onerror runs. */
        luaL_unref(b->L, LUA_REGISTRYINDEX, b->co_ref);
        b->co_ref = LUA_NOREF;
        b->co = NULL;
        char why[sizeof b->end_why];
        memcpy(why, b->end_why, sizeof why);
        b->end_why[0] = '\0';
        if (failed <= PHASE_MAIN && begin_hook(b, PHASE_ONERROR, "onerror", why))
            continue;
        finish(b);
    }
    if (b->out_of_memory)
        bot_close_state(b);     /* its memory returns now, not at the end of the process */
    return 0;
}
