/*
 * bench_write.c: times fs_write_atomic (channel files, the _G store, status files) with and without its fsyncs,
 * for a 1 KB and a 1 MB file, on the filesystem of a folder given (the data dir's, to measure what a bot pays).
 * Prints median and p99 per write; asserts nothing about time.
 *
 * Usage: bench_write [DIR] [samples]   (default DIR: $STRATRUN_HOME or ., 200 timed writes per case)
 *
 * Each sample is one fs_write_atomic of the same size over the same file, timed with CLOCK_MONOTONIC. With fsync,
 * the figure is the file's fsync plus the folder's; without, the write and rename alone (--no-fsync).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "core/fsutil.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int run_case(const char *dir, size_t size, int sync, int samples)
{
    char path[4200], err[512];
    snprintf(path, sizeof path, "%s/bench_write.%d.dat", dir, (int)getpid());
    char *data = malloc(size);
    double *t = malloc((size_t)samples * sizeof *t);
    if (!data || !t) {
        fprintf(stderr, "bench_write: out of memory\n");
        return -1;
    }
    memset(data, 'x', size);
    fs_set_fsync(sync);
    for (int i = -5; i < samples; i++) {     /* 5 untimed: the file and the folder's entries exist */
        double t0 = now_us();
        if (fs_write_atomic(path, data, size, err, sizeof err) != 0) {
            fprintf(stderr, "bench_write: %s\n", err);
            return -1;
        }
        if (i >= 0)
            t[i] = now_us() - t0;
    }
    unlink(path);
    qsort(t, (size_t)samples, sizeof *t, cmp_double);
    printf("| %s | %s | %.0f | %.0f |\n", size >= 1 << 20 ? "1 MB" : "1 KB", sync ? "yes" : "no (--no-fsync)",
           t[samples / 2], t[(size_t)((double)samples * 0.99)]);
    free(data);
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    const char *home = getenv("STRATRUN_HOME");
    const char *dir = argc > 1 ? argv[1] : home && *home ? home : ".";
    int samples = argc > 2 ? atoi(argv[2]) : 200;
    if (samples < 10) {
        fprintf(stderr, "usage: bench_write [DIR] [samples >= 10]\n");
        return 2;
    }
    struct statfs sf;
    if (statfs(dir, &sf) != 0) {
        perror(dir);
        return 2;
    }
    printf("folder %s (filesystem type 0x%lx), %d writes per case, microseconds per fs_write_atomic\n\n", dir,
           (unsigned long)sf.f_type, samples);
    printf("| size | fsync | median µs | p99 µs |\n|---|---|---|---|\n");
    for (int sync = 1; sync >= 0; sync--)
        for (int big = 0; big < 2; big++)
            if (run_case(dir, big ? 1u << 20 : 1024, sync, samples) != 0)
                return 1;
    return 0;
}
