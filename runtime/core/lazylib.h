/*
 * lazylib.h: a shared library opened on first use (dlopen of its soname) instead of at the process's start, so
 * that a bot that never calls it never pays for mapping and relocating it and the libraries it brings
 * (docs/dependencies.md, "Loaded on first use"). Knows neither bots nor Lua.
 *
 * A library is a table of function pointers, one per function the runtime calls, named by an X-macro list in its
 * header (core/lib_curl.h is the model):
 *
 *     #define LIB_CURL_FUNCTIONS(X) X(curl_easy_init) X(curl_easy_cleanup) ...
 *     LAZYLIB_DECLARE(curl, LIB_CURL_FUNCTIONS)      struct lib_curl lib_curl, struct lazylib lazy_curl
 *     #define curl_easy_init (*lib_curl.fn_curl_easy_init)   one line per function: the call sites stay as written
 *
 * and one line in its .c file: LAZYLIB_DEFINE(curl, LIB_CURL_FUNCTIONS, "libcurl.so.4", init, fini). The headers
 * and types still come from the library's -dev package (pkg-config at build time); only the link is gone.
 *
 * Every entry point that leads to the library calls lazylib_need first; the calls after it may use the table.
 */
#ifndef STRATRUN_LAZYLIB_H
#define STRATRUN_LAZYLIB_H

#include <stdatomic.h>
#include <stddef.h>

struct lazylib {
    const char *soname;                             /* what dlopen is given, e.g. "libcurl.so.4" */
    int (*resolve)(void *handle, const char **missing);    /* fills the table: 0, or -1 naming the function */
    int (*init)(char *err, size_t errlen);          /* NULL, or the library's global set-up after resolve: 0 or -1 */
    void (*fini)(void);                             /* NULL, or its global clean-up (lazylib_fini) */
    atomic_int state;                               /* 0 not loaded, 1 loaded */
    char why[256];                                  /* why the last try failed */
    int why_errno;                                  /* EMFILE or ENFILE: the process was out of descriptors */
};

/* Loads lib unless it is loaded: once per process, whichever thread comes first (the others wait). Returns 0 (its
 * table filled), or -1 with one line in err: "<caller> needs <soname>, which could not be opened: <why>", and errno
 * EMFILE or ENFILE when the process was out of descriptors then (0 otherwise). A failure is tried again at the next call (a process out of descriptors may have some
 * again); a missing library gives the same line each time. */
int lazylib_need(struct lazylib *lib, const char *caller, char *err, size_t errlen);

/* Whether lib is loaded (without trying to load it). */
int lazylib_loaded(struct lazylib *lib);

/* Runs lib's fini if it was loaded (at the process's end, after the threads that use it). Never unloads it. */
void lazylib_fini(struct lazylib *lib);

/* The table of a library's functions (the member fn_f has the type of f, a pointer to it) and its loader. */
#define LAZYLIB_MEMBER(f) __typeof__(f) *fn_##f;
#define LAZYLIB_DECLARE(name, LIST)                                                                               \
    struct lib_##name { LIST(LAZYLIB_MEMBER) };                                                                  \
    extern struct lib_##name lib_##name;                                                                          \
    extern struct lazylib lazy_##name;

/* The table's definition and its resolver, in the library's .c file. */
#define LAZYLIB_SET(f)                                                                                            \
    if (!(t->fn_##f = (__typeof__(t->fn_##f))lazylib_sym(handle, #f))) {                                          \
        *missing = #f;                                                                                            \
        return -1;                                                                                                \
    }
#define LAZYLIB_DEFINE(name, LIST, soname, init, fini)                                                           \
    struct lib_##name lib_##name;                                                                                 \
    static int resolve_##name(void *handle, const char **missing)                                                 \
    {                                                                                                             \
        struct lib_##name *t = &lib_##name;                                                                       \
        LIST(LAZYLIB_SET)                                                                                         \
        return 0;                                                                                                 \
    }                                                                                                             \
    struct lazylib lazy_##name = {soname, resolve_##name, init, fini, 0, "", 0};

/* dlsym, for LAZYLIB_SET. */
void *lazylib_sym(void *handle, const char *name);

#endif
