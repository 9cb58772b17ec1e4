/*
 * bench.h: what the benchmark programs share: the clock, the state they publish, and median/p99 figures.
 * Each bench is its own program; these are static inline so each takes what it uses.
 */
#ifndef STRATRUN_BENCH_H
#define STRATRUN_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* A 255-byte channel state of 12 fields (strings, integers, floats), as Lua source. */
static const char *const state_lua =
    "return {robotId='632799', updateId=123456, timestamp=1764151522123, symbol='BTC_USDT',"
    " lastPrice=43125.37, volume=1523.884, high=43410.5, low=42877.25,"
    " signal='HOLD', ma5=43101.214, ma20=43088.9675, note='steady as she goes, nothing to report here'}";

static inline int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

struct figures {
    double median, p99;
};

/* Sorts v in place and returns its median and 99th percentile. */
static inline struct figures summarize(int64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_i64);
    return (struct figures){(double)v[n / 2], (double)v[n * 99 / 100]};
}

/* One line of figures: what, median and p99 divided by div, in unit. */
static inline void row(const char *what, struct figures f, const char *unit, double div)
{
    printf("  %-62s median %8.3f %s   p99 %8.3f %s\n", what, f.median / div, unit, f.p99 / div, unit);
}

#endif
