/*
 * lib_curl.c: libcurl's table (core/lib_curl.h). Its soname comes from the build (CMakeLists.txt reads it from the
 * library pkg-config names).
 */
#include "core/lib_curl.h"

#include <stdio.h>

static int init(char *err, size_t errlen)
{
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc == CURLE_OK)
        return 0;
    snprintf(err, errlen, "curl_global_init failed: %s", curl_easy_strerror(rc));
    return -1;
}

static void fini(void)
{
    curl_global_cleanup();
}

LAZYLIB_DEFINE(curl, LIB_CURL_FUNCTIONS, STRATRUN_SONAME, init, fini)
