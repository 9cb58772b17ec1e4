/*
 * db.c: DBExec, SQL on the bot's own SQLite database, <bot dir>/db.sqlite3 (a replay's is under replay/bots/<id>,
 * which every replay starts empty), or, for SQL that begins with ':', on an in-memory database that lives as long
 * as the bot's Lua state, as on the platform. Each is opened on the first DBExec that needs it and closed with the
 * state (__gc of a userdata the registry keeps).
 *
 * DBExec(sql, ...) runs the statements of sql in order, binding the extra arguments to their placeholders, and
 * returns the last statement's result: {columns = {...}, values = {{...}, ...}}, with changes = N (rows changed)
 * for a statement that returns no columns. SQL that SQLite refuses, and a result over the bounds below, return
 * nil, message: the message is kept for GetLastError and logged unless SetErrorFilter matches it, as an exchange
 * call's error is. Misuse (SQL that is not a string, a table to bind, too few or too many values) raises. A stop
 * of the bot, or its step_limit where other bots wait, interrupts a statement (the progress handler below).
 */
#include "lua/api.h"
#include "lua/ctx.h"
#include "core/clock.h"
#include "core/lib_sqlite.h"
#include "data/json.h"
#include "lua/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>

#define DB_KEY "stratrun.db"            /* registry: the bot's struct dbs */
#define DB_FILE "db.sqlite3"
#define ROWS_MAX 100000                 /* rows one DBExec returns at most */
#define BYTES_MAX ((size_t)64 << 20)    /* bytes of values one DBExec returns at most */
#define VALUE_COST 16                   /* what a value costs against BYTES_MAX besides its text */
#define PROGRESS_OPS 10000              /* SQLite VM steps between two looks at the bot's stop */
#define BUSY_MS 5000                    /* how long a statement waits for a lock another process holds */
#define BUSY_SHARED_MS 10               /* the same when other bots of the process wait for the thread: a turn */

enum { ON_FILE, ON_MEMORY };
enum { GOING, STOP_SIGNAL, STOP_END };

struct dbs {
    struct bot *b;
    sqlite3 *db[2];         /* ON_FILE, ON_MEMORY: each opened on first use */
    sqlite3_stmt *stmt;     /* the statement of the running DBExec; finalized however the call ends */
    int stop;               /* why the progress handler interrupted the statement */
    int64_t busy_until;     /* CLOCK_MONOTONIC: when the wait for a lock ends */
};

/* ---- the connections ---- */

/* SQLite's progress handler, and the busy handler's check: whether the bot must end now. Then the statement is
 * interrupted (SQLITE_INTERRUPT) and DBExec raises what ended it. */
static int must_stop(void *ud)
{
    struct dbs *d = ud;
    if (bot_signal() && d->b->phase <= PHASE_MAIN)
        d->stop = STOP_SIGNAL;
    else if (bot_overran(d->b))
        d->stop = STOP_END;
    return d->stop != GOING;
}

/* Waits for a lock another process holds (an sqlite3 shell on the file) up to BUSY_MS, a few ms at a time, so that
 * a stop still ends the wait. The wait holds the scheduler's thread: where other bots of the process take turns
 * on it (live, several bots), it lasts one turn (BUSY_SHARED_MS) and the statement fails "database is locked", so
 * that nobody else is frozen; the strategy retries (_C), and its Sleep lets the others run. */
static int busy(void *ud, int count)
{
    struct dbs *d = ud;
    const struct sched *s = d->b->sched;
    int shared = s && !s->virtual_ && s->nbots >= 2;
    if (count == 0)
        d->busy_until = clock_mono_ns() + (int64_t)(shared ? BUSY_SHARED_MS : BUSY_MS) * 1000000;
    if (must_stop(d) || clock_mono_ns() >= d->busy_until)
        return 0;
    struct timespec ts = {0, 5 * 1000000};
    nanosleep(&ts, NULL);
    return 1;
}

/* Creates <bot dir>/db.sqlite3 mode 0600 if it is missing, never through a symlink, so that SQLite (which gives its
 * journal the database's mode) creates nothing readable by others. */
static int precreate(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "DBExec: cannot open %s: %s", path, fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static int db_open(struct dbs *d, int which, char *err, size_t errlen)
{
    char path[4200] = ":memory:";
    if (which == ON_FILE) {
        snprintf(path, sizeof path, "%s/" DB_FILE, d->b->dir);
        if (precreate(path, err, errlen) != 0)
            return -1;
    }
    /* SQLite opens its files O_CLOEXEC itself; NOFOLLOW refuses a symlink put in the file's place since. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
#ifdef SQLITE_OPEN_NOFOLLOW
    flags |= SQLITE_OPEN_NOFOLLOW;
#endif
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "DBExec: cannot open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return -1;
    }
    sqlite3_progress_handler(db, PROGRESS_OPS, must_stop, d);
    sqlite3_busy_handler(db, busy, d);
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);   /* no writable_schema and the like */
    d->db[which] = db;
    return 0;
}

static int dbs_gc(lua_State *L)
{
    struct dbs *d = lua_touserdata(L, 1);
    /* no handle, no call: SQLite may never have been loaded (LogVacuum without a database) */
    if (d->stmt)
        sqlite3_finalize(d->stmt);
    d->stmt = NULL;
    for (int i = 0; i < 2; i++) {
        if (d->db[i])
            sqlite3_close_v2(d->db[i]);
        d->db[i] = NULL;
    }
    return 0;
}

/* The bot's struct dbs, made on first use. */
static struct dbs *dbs_of(lua_State *L)
{
    struct dbs *d = api_registry_object(L, DB_KEY, sizeof *d, dbs_gc);
    d->b = bot_of(L);
    return d;
}

/* ---- one call ---- */

/* A condition of the world (SQL SQLite refuses, a result too large): the message at the top of the stack goes
 * where a platform call's error goes (require "stratrun.log".error: GetLastError, SetErrorFilter, the log). Returns
 * nil, message. */
static int fail(lua_State *L)
{
    int msg = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, "stratrun.log") == LUA_TTABLE && lua_getfield(L, -1, "error") == LUA_TFUNCTION) {
        lua_pushvalue(L, msg);
        lua_call(L, 1, 0);
    } else {
        size_t len;
        const char *s = lua_tolstring(L, msg, &len);
        log_write(bot_of(L), LOG_WARN, s, len);
    }
    lua_settop(L, msg);
    lua_pushnil(L);
    lua_insert(L, msg);
    return 2;
}

static int sql_error(lua_State *L, sqlite3 *db)
{
    lua_pushfstring(L, "DBExec: %s", sqlite3_errmsg(db));
    return fail(L);
}

/* What ended an interrupted statement, raised. */
static int raise_stop(lua_State *L, struct dbs *d)
{
    if (d->stop == STOP_SIGNAL)
        return bot_interrupted(L);
    return luaL_error(L, "%s", *d->b->end_why ? d->b->end_why : "the bot is ending");
}

static int64_t total_changes(sqlite3 *db)
{
#if SQLITE_VERSION_NUMBER >= 3037000
    return sqlite3_total_changes64(db);
#else
    return sqlite3_total_changes(db);
#endif
}

/* The rows the statement just run changed itself (not its triggers), given the total before it: sqlite3_changes
 * alone keeps the count of an earlier statement after a CREATE or a SELECT. */
static int64_t changes(sqlite3 *db, int64_t before)
{
    if (total_changes(db) == before)
        return 0;
#if SQLITE_VERSION_NUMBER >= 3037000
    return sqlite3_changes64(db);
#else
    return sqlite3_changes(db);
#endif
}

/* Whether nothing but blanks and comments follows: the statement before tail is the last. */
static int is_last(sqlite3 *db, const char *tail, const char *end)
{
    while (tail < end) {
        sqlite3_stmt *next = NULL;
        const char *at = tail;
        int rc = sqlite3_prepare_v2(db, tail, (int)(end - tail), &next, &tail);
        sqlite3_finalize(next);
        if (rc != SQLITE_OK || next)
            return 0;   /* a statement (one that cannot compile before the ones above run is one too) */
        if (tail == at)
            break;
    }
    return 1;
}

static int too_many_or_few(lua_State *L, int given, int wanted)
{
    return luaL_error(L, "DBExec: %d value%s given for %d placeholder%s in the SQL", given, given == 1 ? "" : "s",
                      wanted, wanted == 1 ? "" : "s");
}

/* Binds the values at stack indices *next..last to the statement's placeholders, in order; *wanted counts the
 * placeholders so far. Returns 0, or -1 when SQLite refuses one (the message is the connection's). */
static int bind_values(lua_State *L, struct dbs *d, int *next, int last, int *wanted)
{
    int n = sqlite3_bind_parameter_count(d->stmt);
    *wanted += n;
    if (*next + n - 1 > last)
        return too_many_or_few(L, last - 1, *wanted);
    for (int i = 1; i <= n; i++, (*next)++) {
        int rc, at = *next;
        size_t len;
        const char *s;
        switch (lua_type(L, at)) {
        case LUA_TBOOLEAN:
            rc = sqlite3_bind_int(d->stmt, i, lua_toboolean(L, at));
            break;
        case LUA_TNUMBER:
            rc = lua_isinteger(L, at) ? sqlite3_bind_int64(d->stmt, i, lua_tointeger(L, at))
                                      : sqlite3_bind_double(d->stmt, i, lua_tonumber(L, at));
            break;
        case LUA_TSTRING:   /* text when it is UTF-8, else a blob; DBExec's stack keeps it until the finalize */
            s = lua_tolstring(L, at, &len);
            rc = json_utf8_valid(s, len) ? sqlite3_bind_text64(d->stmt, i, s, len, SQLITE_STATIC, SQLITE_UTF8)
                                         : sqlite3_bind_blob64(d->stmt, i, s, len, SQLITE_STATIC);
            break;
        default:            /* nil, json.null */
            rc = sqlite3_bind_null(d->stmt, i);
        }
        if (rc != SQLITE_OK)
            return -1;
    }
    return 0;
}

/* Pushes column c of the current row; returns what it costs against BYTES_MAX. NULL is json.null, so that a row
 * keeps its length and json.encode writes null. */
static size_t push_value(lua_State *L, sqlite3_stmt *stmt, int c)
{
    const char *p;
    size_t n = 0;
    switch (sqlite3_column_type(stmt, c)) {
    case SQLITE_INTEGER:
        lua_pushinteger(L, sqlite3_column_int64(stmt, c));
        break;
    case SQLITE_FLOAT:
        lua_pushnumber(L, sqlite3_column_double(stmt, c));
        break;
    case SQLITE_TEXT:
        p = (const char *)sqlite3_column_text(stmt, c);
        n = (size_t)sqlite3_column_bytes(stmt, c);
        lua_pushlstring(L, p ? p : "", n);
        break;
    case SQLITE_BLOB:
        p = sqlite3_column_blob(stmt, c);
        n = (size_t)sqlite3_column_bytes(stmt, c);
        lua_pushlstring(L, p ? p : "", n);
        break;
    default:
        lua_pushlightuserdata(L, NULL);
    }
    return n + VALUE_COST;
}

static void push_array(lua_State *L, int n)
{
    lua_createtable(L, n, 0);
    json_push_mark_mt(L, 1);    /* an empty one encodes as [] */
    lua_setmetatable(L, -2);
}

/* Runs the prepared statement to its end and pushes its result {columns, values[, changes]}. Returns 0; 1 when
 * the statement failed or the result is over a bound (nil, message pushed instead); raises when the bot must stop. */
static int step(lua_State *L, struct dbs *d, sqlite3 *db)
{
    int ncol = sqlite3_column_count(d->stmt), rc;
    int64_t before = total_changes(db);
    lua_createtable(L, 0, 3);
    push_array(L, ncol);
    for (int c = 0; c < ncol; c++) {
        lua_pushstring(L, sqlite3_column_name(d->stmt, c));
        lua_rawseti(L, -2, c + 1);
    }
    lua_setfield(L, -2, "columns");
    push_array(L, 0);   /* stack: result values */
    size_t bytes = 0;
    lua_Integer rows = 0;
    while ((rc = sqlite3_step(d->stmt)) == SQLITE_ROW) {
        if (++rows > ROWS_MAX) {
            lua_pushfstring(L, "DBExec: the result has more than %d rows, the most one call returns (add a LIMIT)",
                            ROWS_MAX);
            return fail(L), 1;
        }
        lua_createtable(L, ncol, 0);
        for (int c = 0; c < ncol; c++) {
            bytes += push_value(L, d->stmt, c);
            lua_rawseti(L, -2, c + 1);
        }
        lua_rawseti(L, -2, rows);
        if (bytes > BYTES_MAX) {
            lua_pushfstring(L, "DBExec: the result holds more than %d MiB, the most one call returns (add a LIMIT or "
                            "select fewer columns)", (int)(BYTES_MAX >> 20));
            return fail(L), 1;
        }
    }
    if (d->stop != GOING)
        return raise_stop(L, d);
    if (rc != SQLITE_DONE)
        return sql_error(L, db), 1;
    lua_setfield(L, -2, "values");
    if (ncol == 0) {
        lua_pushinteger(L, changes(db, before));
        lua_setfield(L, -2, "changes");
    }
    return 0;
}

/* The result of SQL without a statement (blanks, comments). */
static void push_empty(lua_State *L)
{
    lua_createtable(L, 0, 3);
    push_array(L, 0);
    lua_setfield(L, -2, "columns");
    push_array(L, 0);
    lua_setfield(L, -2, "values");
    lua_pushinteger(L, 0);
    lua_setfield(L, -2, "changes");
}

/* The body of DBExec, under lua_pcall so that the statement is finalized however it ends: (sql values...) with
 * upvalue 1 the struct dbs. The arguments were checked, and the database opened.
 * stack: sql values... result (the last statement's so far) */
static int run(lua_State *L)
{
    struct dbs *d = lua_touserdata(L, lua_upvalueindex(1));
    size_t len;
    const char *sql = lua_tolstring(L, 1, &len), *end = sql + len;
    int which = *sql == ':' ? ON_MEMORY : ON_FILE, last = lua_gettop(L), next = 2, wanted = 0;
    sqlite3 *db = d->db[which];
    push_empty(L);
    for (const char *tail = sql + (which == ON_MEMORY); tail < end;) {
        const char *at = tail;
        int rc = sqlite3_prepare_v2(db, tail, (int)(end - tail), &d->stmt, &tail);
        if (rc != SQLITE_OK)
            return d->stop != GOING ? raise_stop(L, d) : sql_error(L, db);
        if (!d->stmt) {
            if (tail == at)
                break;
            continue;   /* blanks or a comment */
        }
        if (bind_values(L, d, &next, last, &wanted) != 0)
            return sql_error(L, db);
        if (next <= last && is_last(db, tail, end))
            return too_many_or_few(L, last - 1, wanted);
        if (step(L, d, db) != 0)
            return 2;
        lua_replace(L, last + 1);
        sqlite3_finalize(d->stmt);
        d->stmt = NULL;
    }
    if (next <= last)
        return too_many_or_few(L, last - 1, wanted);
    return 1;
}

/* The SQL and values a call may pass; anything else raises, naming it. */
static void check_args(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TSTRING)
        luaL_error(L, "DBExec: sql must be a string, not %s", luaL_typename(L, 1));
    size_t len;
    const char *sql = lua_tolstring(L, 1, &len), *nul = memchr(sql, '\0', len);
    if (nul)
        luaL_error(L, "DBExec: sql holds a NUL byte (at byte %d)", (int)(nul - sql) + 1);
    if (len > 1000000000)
        luaL_error(L, "DBExec: sql is %I bytes long, more than SQLite's limit of 1000000000", (lua_Integer)len);
    for (int i = 2, top = lua_gettop(L); i <= top; i++) {
        int t = lua_type(L, i);
        if (t == LUA_TNIL || t == LUA_TBOOLEAN || t == LUA_TNUMBER || t == LUA_TSTRING ||
            (t == LUA_TLIGHTUSERDATA && lua_touserdata(L, i) == NULL))
            continue;
        luaL_error(L, "DBExec: value %d must be nil, json.null, a boolean, a number or a string, not %s", i - 1,
                   luaL_typename(L, i));
    }
}

/* DBExec(sql, ...) -> {columns, values[, changes]} | nil, message */
static int f_DBExec(lua_State *L)
{
    check_args(L);
    char err[4400];
    /* SQLite is loaded by the first DBExec; without it the call raises (a broken installation) */
    if (lazylib_need(&lazy_sqlite, "DBExec", err, sizeof err) != 0)
        return luaL_error(L, "%s", err);
    struct dbs *d = dbs_of(L);
    int which = *lua_tostring(L, 1) == ':' ? ON_MEMORY : ON_FILE, n = lua_gettop(L);
    if (!d->db[which] && db_open(d, which, err, sizeof err) != 0) {
        lua_pushstring(L, err);
        return fail(L);
    }
    d->stop = GOING;
    lua_pushlightuserdata(L, d);
    lua_pushcclosure(L, run, 1);
    for (int i = 1; i <= n; i++)
        lua_pushvalue(L, i);    /* copies: the originals keep the bound strings alive until the finalize */
    int st = lua_pcall(L, n, LUA_MULTRET, 0);
    sqlite3_finalize(d->stmt);
    d->stmt = NULL;
    if (st == LUA_ERRMEM) {     /* the result does not fit in the bot's memory_limit: too large, not misuse */
        lua_pushstring(L, "DBExec: the result does not fit in the bot's memory_limit (add a LIMIT)");
        return fail(L);
    }
    if (st != LUA_OK)
        return lua_error(L);
    return lua_gettop(L) - n;
}

/* LogVacuum(): gives back the space of the rows deleted from the bot's database (SQLite's VACUUM), as the
 * platform's does for its SQLite log after LogReset (stratrun's log.txt gives its space back at LogReset already).
 * Nothing when the bot has no database file; a failure is a platform call's error (logged, GetLastError). */
static int f_LogVacuum(lua_State *L)
{
    struct dbs *d = dbs_of(L);
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/" DB_FILE, d->b->dir);
    if (!d->db[ON_FILE] && lstat(path, &st) != 0)
        return 0;
    lua_pushcfunction(L, f_DBExec);
    lua_pushliteral(L, "VACUUM");
    lua_call(L, 1, 0);
    return 0;
}

static const luaL_Reg funcs[] = {
    {"DBExec", f_DBExec},
    {"LogVacuum", f_LogVacuum},
    {NULL, NULL}
};

int luaopen_db(lua_State *L)
{
    lua_pushglobaltable(L);
    luaL_setfuncs(L, funcs, 0);
    return 1;
}
