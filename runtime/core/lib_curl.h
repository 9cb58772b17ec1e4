/*
 * lib_curl.h: libcurl, loaded on first use (core/lazylib.h): HttpQuery, Mail, the rest market's poller, history
 * downloads. Include this instead of <curl/curl.h>; call lazylib_need(&lazy_curl, ...) before the first curl_*
 * call of an entry point. The first load also runs curl_global_init; lazylib_fini(&lazy_curl) its clean-up.
 */
#ifndef STRATRUN_LIB_CURL_H
#define STRATRUN_LIB_CURL_H

#include <curl/curl.h>

#include "core/lazylib.h"

#define LIB_CURL_FUNCTIONS(X)                                                                                     \
    X(curl_easy_cleanup) X(curl_easy_getinfo) X(curl_easy_init) X(curl_easy_perform) X(curl_easy_reset)          \
    X(curl_easy_setopt) X(curl_easy_strerror) X(curl_free) X(curl_global_cleanup) X(curl_global_init)            \
    X(curl_multi_add_handle) X(curl_multi_cleanup) X(curl_multi_info_read) X(curl_multi_init)                    \
    X(curl_multi_perform) X(curl_multi_poll) X(curl_multi_remove_handle) X(curl_multi_wakeup)                    \
    X(curl_slist_append) X(curl_slist_free_all) X(curl_url) X(curl_url_cleanup) X(curl_url_get) X(curl_url_set)

LAZYLIB_DECLARE(curl, LIB_CURL_FUNCTIONS)

/* curl.h makes curl_easy_setopt and curl_easy_getinfo macros (type checks with GCC); the table replaces them. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_easy_cleanup (*lib_curl.fn_curl_easy_cleanup)
#define curl_easy_getinfo (*lib_curl.fn_curl_easy_getinfo)
#define curl_easy_init (*lib_curl.fn_curl_easy_init)
#define curl_easy_perform (*lib_curl.fn_curl_easy_perform)
#define curl_easy_reset (*lib_curl.fn_curl_easy_reset)
#define curl_easy_setopt (*lib_curl.fn_curl_easy_setopt)
#define curl_easy_strerror (*lib_curl.fn_curl_easy_strerror)
#define curl_free (*lib_curl.fn_curl_free)
#define curl_global_cleanup (*lib_curl.fn_curl_global_cleanup)
#define curl_global_init (*lib_curl.fn_curl_global_init)
#define curl_multi_add_handle (*lib_curl.fn_curl_multi_add_handle)
#define curl_multi_cleanup (*lib_curl.fn_curl_multi_cleanup)
#define curl_multi_info_read (*lib_curl.fn_curl_multi_info_read)
#define curl_multi_init (*lib_curl.fn_curl_multi_init)
#define curl_multi_perform (*lib_curl.fn_curl_multi_perform)
#define curl_multi_poll (*lib_curl.fn_curl_multi_poll)
#define curl_multi_remove_handle (*lib_curl.fn_curl_multi_remove_handle)
#define curl_multi_wakeup (*lib_curl.fn_curl_multi_wakeup)
#define curl_slist_append (*lib_curl.fn_curl_slist_append)
#define curl_slist_free_all (*lib_curl.fn_curl_slist_free_all)
#define curl_url (*lib_curl.fn_curl_url)
#define curl_url_cleanup (*lib_curl.fn_curl_url_cleanup)
#define curl_url_get (*lib_curl.fn_curl_url_get)
#define curl_url_set (*lib_curl.fn_curl_url_set)

#endif
