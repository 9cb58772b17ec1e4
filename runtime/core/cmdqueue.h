/*
 * cmdqueue.h: a running bot's queue of interactive commands (GetCommand), fed by `stratrun cmd ID TEXT`.
 *
 * The queue is the folder <bot dir>/commands: one file per command, named NNNNNNNNNNNNNNNNNNNN-RRRRRRRRRRRRRRRR (the
 * wall clock in ns, 20 digits, then 16 random hex digits), created whole with fs_write_new (O_EXCL|O_NOFOLLOW temp
 * file, then link), so a reader never sees half a command and nobody can guess a name in advance. Commands are
 * taken in name order (the order they were sent) and deleted as they are taken.
 */
#ifndef STRATRUN_CMDQUEUE_H
#define STRATRUN_CMDQUEUE_H

#include <stddef.h>

#define CMDQ_MAX_BYTES 1024     /* the longest command */
#define CMDQ_MAX_QUEUED 100     /* commands waiting at most; more are refused until the bot takes some */

/* Queues text for the bot whose folder is bot_dir. Refuses, with one line in err, a bot that does not exist or
 * is not running (nobody holds <bot dir>/lock), an empty or too long text, and a full queue. 0 or -1. */
int cmdq_send(const char *bot_dir, const char *id, const char *text, size_t len, char *err, size_t errlen);

/* Takes the oldest queued command of bot_dir: 1 with *out (malloc'd, NUL-terminated) and *len, 0 when none,
 * -1 with err when the queue cannot be read. */
int cmdq_take(const char *bot_dir, char **out, size_t *len, char *err, size_t errlen);

#endif
