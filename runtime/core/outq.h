/*
 * outq.h: the process's stdout and stderr, each written by a thread of its own from a bounded queue, so that a
 * terminal or a pipe that is slow, full or gone never blocks or kills a bot, and a stalled stdout never holds up
 * stderr. Lines that cannot be queued (the queue is full) or
 * written (the reader is gone) are counted; outq_stop says so once. Knows neither bots nor Lua.
 *
 * Before outq_start, and after outq_stop, outq_write writes directly (blocking), so tools that never start the
 * queue (benchmarks, tests) print as before.
 */
#ifndef STRATRUN_OUTQ_H
#define STRATRUN_OUTQ_H

#include <stddef.h>

/* Starts the writer thread. SIGPIPE must be ignored first (a gone reader is then EPIPE, not a kill). Returns 0, or
 * -1 when no thread could be started (output then stays direct). */
int outq_start(void);

/* Makes the C library's stdout and stderr (print, io.write, fprintf) write to the queues too, unbuffered, so they
 * stay in order with outq_write on the same fd. Call before any Lua state opens its io library. */
void outq_stdio(void);

/* Sends what the C library's stdout and stderr take (after outq_stdio) through fn instead of outq_write (the
 * terminal's panels, core/termpanel.h). Call before any thread writes. */
void outq_stdio_via(void (*fn)(int fd, const char *p, size_t n));

/* Queues n bytes for fd (STDOUT_FILENO or STDERR_FILENO). Never blocks on the fd; copies p. Safe from any thread. */
void outq_write(int fd, const char *p, size_t n);
void outq_printf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* on: a writer is woken only when 64 KiB wait or a write comes 50 ms or more after its last wake-up (and by
 * outq_flush, outq_stop and outq_batch(0)), so that a batch of lines costs one wake-up and one write rather than one
 * each. For output nobody watches line by line (a replay's, into files or pipes): a line may wait for the next. */
void outq_batch(int on);

/* Waits until everything queued has been written, at most timeout_ms. Returns 0 when it has; else what is still
 * queued is dropped and counted, and so is everything written to that fd later (its reader stopped reading). */
int outq_flush(int timeout_ms);

/* Writes of fd that were dropped (queue full, or the fd gone), counted in outq_write calls. */
long outq_dropped(int fd);

/* Flushes (at most timeout_ms), then stops the writer. A writer stuck in a write to a stalled reader is left to
 * the process's exit. */
void outq_stop(int timeout_ms);

#endif
