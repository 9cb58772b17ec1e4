/*
 * utf8.h: the one check of well-formed UTF-8, shared by the JSON codec (data/json.c) and the terminal's text
 * (core/termtext.c). Header only: the codec's string loop calls it per multi-byte character. No Lua.
 */
#ifndef STRATRUN_UTF8_H
#define STRATRUN_UTF8_H

#include <stddef.h>

/* Length of the well-formed UTF-8 sequence at p (p[0] >= 0x80), or 0. Overlong forms, UTF-16 surrogates and
 * code points above U+10FFFF are not well-formed. */
static inline size_t utf8_len(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    if (c < 0xC2)
        return 0;
    if (c < 0xE0)
        return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (avail < 3 || (p[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0)
            return p[1] >= 0xA0 && p[1] <= 0xBF ? 3 : 0;
        if (c == 0xED)
            return p[1] >= 0x80 && p[1] <= 0x9F ? 3 : 0;
        return (p[1] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c < 0xF5) {
        if (avail < 4 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0)
            return p[1] >= 0x90 && p[1] <= 0xBF ? 4 : 0;
        if (c == 0xF4)
            return p[1] >= 0x80 && p[1] <= 0x8F ? 4 : 0;
        return (p[1] & 0xC0) == 0x80 ? 4 : 0;
    }
    return 0;
}

#endif
