/*
 * lib_hiredis.c: the table of core/lib_hiredis.h; its soname comes from the build (CMakeLists.txt).
 */
#include "core/lib_hiredis.h"

LAZYLIB_DEFINE(hiredis, LIB_HIREDIS_FUNCTIONS, STRATRUN_SONAME, NULL, NULL)
