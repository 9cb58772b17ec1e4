/*
 * numfmt.h: numbers written as the shortest text that reads back exactly: the JSON codec's numbers and the
 * market recorder's prices. No Lua.
 */
#ifndef STRATRUN_NUMFMT_H
#define STRATRUN_NUMFMT_H

#include <stddef.h>
#include <stdint.h>

/* Writes the shortest decimal form of d that reads back as d ("0.1", "5.0", "1e+300"). d must be finite.
 * buf must hold 32 bytes; returns the length (buf is NUL-terminated). */
size_t fmt_double(double d, char *buf);

/* Writes v in decimal to buf (20 bytes suffice, no NUL); returns the length. */
size_t fmt_u64(uint64_t v, char *buf);

#endif
