/*
 * hex.h: bytes as lower-case hex digits, the one encoder of Encode's "hex" (lua/crypto.c), UUID (lua/platform.c),
 * a live venue's signatures (lua/venue.c) and the dashboard's token (host/serve.c). Header only. No Lua.
 */
#ifndef STRATRUN_HEX_H
#define STRATRUN_HEX_H

#include <stddef.h>

/* Writes the 2 * n hex digits of the n bytes at in to out, and no terminator. */
static inline void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
}

#endif
