/*
 * timeparse.h: the one reader of moments the runtime is given as text: the time column of market CSV files,
 * --from/--to, and sim's start=.
 */
#ifndef STRATRUN_TIMEPARSE_H
#define STRATRUN_TIMEPARSE_H

#include <stddef.h>
#include <stdint.h>

/* Parses "2024-01-01", "2024-01-01T00:00:00Z", "2024-01-01 00:00:00.250+02:00" or a number of ms. UTC unless an
 * offset is given. Refused: a day the calendar does not have (2023-02-29, 2024-04-31), an hour past 23, a minute
 * past 59, a second past 60 (60 itself, a leap second, is taken) and an offset past 23:59. Returns 0 and sets
 * *ms, or -1. */
int time_parse(const char *s, size_t len, int64_t *ms);

#endif
