/*
 * log.h: the bot's log (stdout and <bot dir>/log.txt) and its status panel, for the host's own messages too.
 */
#ifndef STRATRUN_LOG_H
#define STRATRUN_LOG_H

#include <stddef.h>
#include <lua.h>

struct bot;

enum log_level { LOG_INFO, LOG_WARN, LOG_ERROR, LOG_FILE };     /* LOG_FILE: an info line of log.txt only */

/* Writes one line "YYYY-MM-DD HH:MM:SS.mmm [level ]msg" to stdout (info) or stderr (warn, error) and appends it
 * to the bot's log file. Newlines inside msg are kept; the line ends with one. */
void log_write(struct bot *b, enum log_level level, const char *msg, size_t len);

/* printf-style log_write. */
void log_printf(struct bot *b, enum log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The error of a failed platform call (an exchange call, Mail): kept for GetLastError, and logged unless a
 * SetErrorFilter expression matches it. */
void log_call_error(lua_State *L, const char *msg, size_t len);

/* Replay: renders the bot's last LogStatus text and writes its status file (LogStatus only keeps the text). A
 * lua_CFunction for the host's door (host/bot.h): its one argument is the bot, as a light userdata. */
int log_status_flush(lua_State *L);

/* Clears the status panel from the terminal (at exit), leaving the log above it. */
void log_panel_clear(void);

#endif
