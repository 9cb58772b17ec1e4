/*
 * lib_wslay.c: the table of core/lib_wslay.h; its soname comes from the build (CMakeLists.txt).
 */
#include "core/lib_wslay.h"

LAZYLIB_DEFINE(wslay, LIB_WSLAY_FUNCTIONS, STRATRUN_SONAME, NULL, NULL)
