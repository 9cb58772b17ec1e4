/*
 * lib_mhd.c: libmicrohttpd's table (core/lib_mhd.h); its soname comes from the build (CMakeLists.txt).
 */
#include "core/lib_mhd.h"

LAZYLIB_DEFINE(mhd, LIB_MHD_FUNCTIONS, STRATRUN_SONAME, NULL, NULL)
