/*
 * logsink.h: the log line format, and log lines from threads that have no bot (the channel engine, the market
 * poller): to stderr and to the log file of every bot of the process. Knows neither bots nor Lua.
 */
#ifndef STRATRUN_LOGSINK_H
#define STRATRUN_LOGSINK_H

#include <stddef.h>
#include <stdint.h>

/* Writes "YYYY-MM-DD HH:MM:SS.mmm " (local time) for ms since the epoch into buf; returns its length. */
size_t logsink_stamp(int64_t ms, char *buf, size_t size);

/* One line, stamped now, to stderr and every attached file. Safe from any thread. */
void log_thread_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_thread_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));     /* the same, no "warning:" */

/* The log files (descriptors, O_APPEND) of the process's bots. */
void log_attach(int fd);
void log_detach(int fd);

/* Appends one whole line to an attached log file, or nothing: never a torn line. Lines a failing file (a full or
 * read-only disk) could not take are counted; the first failure is said once on stderr, and the count is written
 * to the file (and stderr) before the next line it takes, or said on stderr at log_detach. Safe from any thread. */
void log_append(int fd, const char *line, size_t n);

/* Says once, to stderr and every attached file, how many lines stdout and stderr could not take (outq.h). */
void log_unshown_report(void);

#endif
