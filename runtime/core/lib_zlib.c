/*
 * lib_zlib.c: the table of core/lib_zlib.h; its soname comes from the build (CMakeLists.txt).
 */
#include "core/lib_zlib.h"

LAZYLIB_DEFINE(zlib, LIB_ZLIB_FUNCTIONS, STRATRUN_SONAME, NULL, NULL)
