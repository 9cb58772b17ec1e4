/*
 * lazylib.c: opening a shared library on first use and filling its table of functions (lazylib.h).
 */
#include "core/lazylib.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

/* One lock for every library: loads are rare (once each) and short next to a transfer. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

void *lazylib_sym(void *handle, const char *name)
{
    return dlsym(handle, name);
}

/* Opens lib and fills its table; lib->why on failure. Under mu. */
static int load(struct lazylib *lib)
{
    /* RTLD_LOCAL: its symbols are for its table only (a strategy's C module sees none of them). */
    void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
    lib->why_errno = 0;
    if (!h) {
        const char *e = dlerror();
        snprintf(lib->why, sizeof lib->why, "%s", e ? e : "dlopen failed");
        /* dlopen leaves no errno to trust: whether the process is out of descriptors, asked directly */
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
            close(fd);
        else
            lib->why_errno = errno;
        return -1;
    }
    const char *missing = "";
    if (lib->resolve(h, &missing) != 0) {
        snprintf(lib->why, sizeof lib->why, "it has no function %s", missing);
        dlclose(h);     /* the table is never used while state is 0; a later call opens it again */
        return -1;
    }
    if (lib->init && lib->init(lib->why, sizeof lib->why) != 0) {
        dlclose(h);
        return -1;
    }
    return 0;
}

int lazylib_need(struct lazylib *lib, const char *caller, char *err, size_t errlen)
{
    int state = atomic_load_explicit(&lib->state, memory_order_acquire);
    if (state == 0) {
        pthread_mutex_lock(&mu);
        state = atomic_load_explicit(&lib->state, memory_order_relaxed);
        if (state == 0 && load(lib) == 0) {
            state = 1;
            atomic_store_explicit(&lib->state, state, memory_order_release);
        }
        if (state == 0)
            snprintf(err, errlen, "%s needs %s, which could not be opened: %s", caller, lib->soname, lib->why);
        int e = lib->why_errno;
        pthread_mutex_unlock(&mu);
        errno = e;
    }
    return state > 0 ? 0 : -1;
}

int lazylib_loaded(struct lazylib *lib)
{
    return atomic_load_explicit(&lib->state, memory_order_acquire) > 0;
}

void lazylib_fini(struct lazylib *lib)
{
    if (lazylib_loaded(lib) && lib->fini)
        lib->fini();
}
