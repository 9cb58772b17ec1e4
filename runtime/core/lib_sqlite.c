/*
 * lib_sqlite.c: SQLite's table (core/lib_sqlite.h); its soname comes from the build (CMakeLists.txt).
 */
#include "core/lib_sqlite.h"

LAZYLIB_DEFINE(sqlite, LIB_SQLITE_FUNCTIONS, STRATRUN_SONAME, NULL, NULL)
