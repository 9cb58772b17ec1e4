/*
 * lib_ssl.c: the table of core/lib_ssl.h; its soname comes from the build (CMakeLists.txt).
 */
#include "core/lib_ssl.h"

LAZYLIB_DEFINE(ssl, LIB_SSL_FUNCTIONS, STRATRUN_SONAME, NULL, NULL)
