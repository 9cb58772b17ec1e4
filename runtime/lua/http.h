/*
 * http.h: a request of the runtime's own on the process's HTTP thread (http.c), for modules that build it in C
 * (venue.c's signed requests): what HttpQuery {debug = true, retry_after = true} does, awaited the same way.
 */
#ifndef STRATRUN_LUA_HTTP_H
#define STRATRUN_LUA_HTTP_H

#include <lua.h>

struct fetch;

/* Called on the bot's thread with the finished fetch (done or failed), before its results are made. */
typedef void (*http_seen_fn)(const struct fetch *f, void *arg);

struct http_call {
    const char *who;        /* failures start with it instead of "HttpQuery URL" (the URL is not shown); static */
    const char *url;
    const char *method;     /* NULL: GET */
    char *header;           /* one "Name: value" line, or NULL: copied into the request only (never into Lua),
                             * then zeroed here, before the call may yield (it may carry a key) */
    long timeout_ms;        /* <= 0: HttpQuery's default */
    int once;               /* a connection of its own (fetch.fresh_connection): never resent by curl */
    http_seen_fn seen;      /* may be NULL; arg must outlive the call */
    void *arg;
};

/* Runs c and returns its results to the calling Lua function: {StatusCode, Header, Body}; nil, message when the
 * transfer failed (the request may or may not have reached the host); nil, message, status when the host answered
 * 429 or 418 (status), or did earlier and its wait is not over (0: not sent). Such an answer is noted for every
 * requester of the process, as HttpQuery {retry_after = true} does. Awaits when the bot can yield:
 * call it as `return http_call(L, &c);` from a lua_CFunction. */
int http_call(lua_State *L, const struct http_call *c);

#endif
