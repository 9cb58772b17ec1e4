/*
 * chanframe.h: how a channel state travels outside the process (a file of the local backend, a Redis value):
 *     SRCH1 <seq> <published ms> <length of JSON> <crc32 of JSON, 8 hex digits>\n<JSON>
 * Text, so `cat` or `redis-cli GET` shows it; checked whole before anything in it is trusted.
 */
#ifndef STRATRUN_CHANFRAME_H
#define STRATRUN_CHANFRAME_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

#define CHANFRAME_HEADER_MAX 80
#define CHANFRAME_MAX (CHANFRAME_HEADER_MAX + CHAN_MAX)     /* no valid frame is longer */

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
