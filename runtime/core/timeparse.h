/*
 * timeparse.h: the one reader of moments the runtime is given as text: the time column of market CSV files,
 * --from/--to, and sim's start=; and the one writer of moments in UTC as text (messages, summaries, mail dates).
 */
#ifndef STRATRUN_TIMEPARSE_H
#define STRATRUN_TIMEPARSE_H

#include <stddef.h>
#include <stdint.h>

/* The last millisecond the runtime's clock (int64 nanoseconds since 1970) holds: 2262-04-11T23:47:16.854Z. Every
 * moment the runtime is given lies in [-TIME_MAX_MS, TIME_MAX_MS]. */
#define TIME_MAX_MS INT64_C(9223372036854)
#define TIME_RANGE "1677-09-21T00:12:43.146Z to 2262-04-11T23:47:16.854Z"
/* What a number means: always milliseconds (--from, --to, start=), or a unit told by its magnitude (CSV times;
 * of a negative number, its absolute value): below 1e9 ms, from 1e9 seconds (2001 on), from 1e10 ms, from 1e13 µs,
 * from 1e16 ns (each from 1970-04-26 on). So ms from 1970-01-12 to 1970-04-26 (and as long before 1970) read as
 * seconds, and are out of range. */
enum time_unit { TIME_MS, TIME_BY_MAGNITUDE };
#define TIME_UNITS "ms below 1e9, seconds 1e9 to 9223372036, ms 1e10 to 9223372036854, " \
    "µs 1e13 to 9223372036854775, ns 1e16 to 9223372036854775807 (and as much below zero)"

/* Parses "2024-01-01", "2024-01-01T00:00:00Z", "2024-01-01 00:00:00.250+02:00" or a number (unit). UTC unless an
 * offset is given. Refused: a day the calendar does not have (2023-02-29, 2024-04-31), an hour past 23, a minute
 * past 59, a second past 60 (60 itself, a leap second, is taken) and an offset past 23:59. Returns 0 and sets
 * *ms (truncated to the millisecond), -1 for text that is not a time, -2 for a time outside TIME_RANGE. */
int time_parse(const char *s, size_t len, enum time_unit unit, int64_t *ms);

/* Writes the second that ms (since 1970) falls in, in UTC, into buf (size bytes) with strftime's fmt, e.g. TIME_ISO
 * ("2024-01-01T00:00:00Z") or TIME_MINUTE ("2024-01-01 00:00"). Returns the length; 0 (buf "") when it does not
 * fit. */
#define TIME_ISO "%Y-%m-%dT%H:%M:%SZ"
#define TIME_MINUTE "%Y-%m-%d %H:%M"
size_t time_format_utc(int64_t ms, const char *fmt, char *buf, size_t size);

#endif
