/*
 * chanframe.h: how a channel state travels outside the process (a file of the local backend, a Redis value):
 *     SRCH1 <seq> <published ms> <length of JSON> <crc32 of JSON, 8 hex digits>\n<JSON>
 * Text, so `cat` or `redis-cli GET` shows it; checked whole before anything in it is trusted.
 */
#ifndef STRATRUN_CHANFRAME_H
#define STRATRUN_CHANFRAME_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"

#define CHANFRAME_HEADER_MAX 80
#define CHANFRAME_MAX (CHANFRAME_HEADER_MAX + CHAN_MAX)     /* no valid frame is longer */
/* Publishers count seqs in microseconds of wall time, so a seq more than a year ahead of the reader's clock comes
 * from a planted frame (or a clock a year wrong). Such a frame is refused: taken, it would leave every reader
 * refusing the real publisher's next states, and a publisher continuing above it could overflow int64. A clock
 * wrong by days still works: its publisher's states are taken. */
#define CHANFRAME_AHEAD_US (INT64_C(366) * 86400 * 1000000)

/* The largest seq a frame read now may carry: this machine's wall clock in microseconds + CHANFRAME_AHEAD_US. */
int64_t chanframe_seq_limit(void);

struct chanframe {
    int64_t seq, published;
    const char *json;       /* points into the buffer parsed */
    size_t len;
};

/* Writes the frame of json into buf (CHANFRAME_MAX bytes); returns its length. */
size_t chanframe_format(char *buf, const char *json, size_t len, int64_t seq, int64_t published);

/* Checks the n bytes at buf. Returns NULL and fills f, or what is wrong ("checksum mismatch", ...). */
const char *chanframe_parse(const char *buf, size_t n, struct chanframe *f);

#endif
