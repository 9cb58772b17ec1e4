/*
 * log.h: the bot's log (stdout and <bot dir>/log.txt) and its status panel, for the host's own messages too.
 */
#ifndef STRATRUN_LOG_H
#define STRATRUN_LOG_H

#include <stddef.h>

struct bot;

enum log_level { LOG_INFO, LOG_WARN, LOG_ERROR };

/* Writes one line "YYYY-MM-DD HH:MM:SS.mmm [level ]msg" to stdout (info) or stderr (warn, error) and appends it
 * to the bot's log file. Newlines inside msg are kept; the line ends with one. */
void log_write(struct bot *b, enum log_level level, const char *msg, size_t len);

/* printf-style log_write. */
void log_printf(struct bot *b, enum log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The same line format for threads that have no bot (the channel engine): to stderr and to the log file of every
 * bot of the process (log_attach). Safe from any thread. */
void log_thread_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_thread_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));     /* the same, no "warning:" */
void log_attach(int fd);
void log_detach(int fd);

/* Replay: renders the bot's last LogStatus text and writes its status file (LogStatus only keeps the text). */
void log_status_flush(struct bot *b);

/* Says once, to stderr and every bot's log file, how many lines stdout and stderr could not take (outq.h). */
void log_unshown_report(void);

/* Clears the status panel from the terminal (at exit), leaving the log above it. */
void log_panel_clear(void);

#endif
