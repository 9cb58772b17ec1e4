/*
 * watchdog.c: the step watchdog (watchdog.h). seq is odd while a step runs; the watchdog thread waits on it with a
 * futex while it is even, and otherwise waits on it, with the end of the running step's slice as the timeout, and
 * checks seq again. Both waits are futex waits so that watchdog_stop wakes the thread at once: a process's exit does
 * not wait for the rest of a slice.
 */
#include "core/watchdog.h"
#include "core/thread.h"
#include "core/clock.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static _Atomic uint32_t seq;            /* odd while a step runs */
static _Atomic int64_t step_start;      /* CLOCK_MONOTONIC ns when the running step began */
static _Atomic int parked;              /* the watchdog waits on seq */
static _Atomic int quit;
static int64_t slice;
static int signo;
static pthread_t target, thread;
static int started;

static void futex_wait(_Atomic uint32_t *addr, uint32_t val)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *addr)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Waits until CLOCK_MONOTONIC reaches ns, or *addr is no longer val, or quit is set (watchdog_stop wakes it). */
static void wait_until(_Atomic uint32_t *addr, uint32_t val, int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (clock_mono_ns() < ns && atomic_load(addr) == val && !atomic_load(&quit))
        syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_BITSET_PRIVATE, val, &ts, NULL, FUTEX_BITSET_MATCH_ANY);
}

static void *watch(void *arg)
{
    (void)arg;
    while (!atomic_load(&quit)) {
        uint32_t s = atomic_load(&seq);
        if (!(s & 1)) {
            atomic_store(&parked, 1);
            if (atomic_load(&seq) == s && !atomic_load(&quit))
                futex_wait(&seq, s);
            atomic_store(&parked, 0);
            continue;
        }
        int64_t due = atomic_load(&step_start) + slice;
        while (!atomic_load(&quit)) {
            wait_until(&seq, s, due);
            if (atomic_load(&seq) != s || atomic_load(&quit))
                break;
            pthread_kill(target, signo);
            due += slice;
        }
    }
    return NULL;
}

int watchdog_start(int sig, int64_t slice_ns)
{
    if (started)
        return 0;
    signo = sig;
    slice = slice_ns;
    target = pthread_self();
    atomic_store(&quit, 0);
    int rc = thread_start(&thread, watch, NULL);   /* the process's signals are the scheduler's */
    if (rc != 0)
        return -1;
    started = 1;
    return 0;
}

void watchdog_stop(void)
{
    if (!started)
        return;
    atomic_store(&quit, 1);
    atomic_fetch_add(&seq, 2);      /* parity unchanged; wakes a parked watchdog */
    futex_wake(&seq);
    pthread_join(thread, NULL);
    started = 0;
}

void watchdog_begin(void)
{
    atomic_store(&step_start, clock_mono_ns());
    atomic_fetch_add(&seq, 1);
    if (atomic_load(&parked))
        futex_wake(&seq);
}

void watchdog_end(void)
{
    atomic_fetch_add(&seq, 1);
}
