/*
 * lib_zlib.h: zlib, loaded on first use (core/lazylib.h): Dial's compress= (core/dial.c). Include this instead of
 * <zlib.h>; call lazylib_need(&lazy_zlib, ...) before the first call. (deflateInit2 and inflateInit2 are zlib's
 * macros over deflateInit2_ and inflateInit2_.)
 */
#ifndef STRATRUN_LIB_ZLIB_H
#define STRATRUN_LIB_ZLIB_H

#include <zlib.h>

#include "core/lazylib.h"

#define LIB_ZLIB_FUNCTIONS(X)                                                                                     \
    X(deflate) X(deflateEnd) X(deflateInit2_) X(inflate) X(inflateEnd) X(inflateInit2_)

LAZYLIB_DECLARE(zlib, LIB_ZLIB_FUNCTIONS)

#define deflate (*lib_zlib.fn_deflate)
#define deflateEnd (*lib_zlib.fn_deflateEnd)
#define deflateInit2_ (*lib_zlib.fn_deflateInit2_)
#define inflate (*lib_zlib.fn_inflate)
#define inflateEnd (*lib_zlib.fn_inflateEnd)
#define inflateInit2_ (*lib_zlib.fn_inflateInit2_)

#endif
