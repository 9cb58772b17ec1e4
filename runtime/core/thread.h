/*
 * thread.h: starting the runtime's background threads (channel engine, HTTP, output queue, watchdog, market
 * poller). Every one starts with all signals blocked: SIGINT, SIGTERM, SIGHUP and SIGURG belong to the thread that
 * runs the bots, whose handlers set a hook on the Lua thread it runs; on any other thread they would race with it.
 * The faults a thread raises itself (SIGBUS, SIGSEGV, SIGFPE, SIGILL) stay unblocked: blocked, the kernel kills the
 * process without running a handler, and chanslots.c catches the SIGBUS of a slot table cut short under its mapping.
 */
#ifndef STRATRUN_THREAD_H
#define STRATRUN_THREAD_H

#include <pthread.h>
#include <signal.h>

/* pthread_create with every signal blocked in the new thread. Returns 0 or an error number. */
static inline int thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

#endif
