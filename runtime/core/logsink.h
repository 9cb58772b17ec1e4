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

/* The log files (descriptors, O_APPEND) of the process's bots. path is the file fd has open (NULL: unknown);
 * when a line would take it past max_bytes (> 0), it is rotated first: path.(keep-1) becomes path.keep, ...,
 * path.1 becomes path.2, path becomes path.1 (renames within its folder), and a new empty path takes fd's number
 * (dup3), so every holder of fd writes to the new file. A single line longer than max_bytes is written whole into a
 * file of its own. keep is from 1 to LOG_KEEP_MAX. */
#define LOG_KEEP_MAX 100
void log_attach(int fd, const char *path, long long max_bytes, int keep);
void log_detach(int fd);

/* LogReset: replaces the content of the attached file fd with its last keep lines (0: none), atomically (a temp
 * file renamed over path, fs_keep_last_lines, not fsynced: FS_VOLATILE, as the log's lines are not), removes its
 * rotated files (path.1 to path.LOG_KEEP_MAX), and moves fd to the new file (dup3): all under the sink's lock, so no
 * line written meanwhile is lost or rotated away. Returns 0, or -1 with one line in err. */
int log_reset(int fd, long long keep, char *err, size_t errlen);

/* Appends one whole line to an attached log file, or nothing: never a torn line. Lines a failing file (a full or
 * read-only disk) could not take are counted; the first failure is said once on stderr, and the count is written
 * to the file (and stderr) before the next line it takes, or said on stderr at log_detach. Safe from any thread. */
void log_append(int fd, const char *line, size_t n);

/* Says once, to stderr and every attached file, how many lines stdout and stderr could not take (outq.h). */
void log_unshown_report(void);

#endif
