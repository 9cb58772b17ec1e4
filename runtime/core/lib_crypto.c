/*
 * lib_crypto.c: the table of core/lib_crypto.h; its soname comes from the build (CMakeLists.txt).
 */
#include "core/lib_crypto.h"

LAZYLIB_DEFINE(crypto, LIB_CRYPTO_FUNCTIONS, STRATRUN_SONAME, NULL, NULL)
