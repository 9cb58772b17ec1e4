/*
 * termtext.h: how many terminal columns UTF-8 text takes, and cutting it to a number of columns. East Asian wide
 * and fullwidth characters take two columns, combining marks and zero-width characters none, everything else one
 * (an invalid byte too: terminals show it as one replacement character). The table is our own (Unicode's
 * EastAsianWidth W and F, the Mn/Me/Cf ranges in common use), so a panel looks the same whatever the machine's
 * locale. No Lua.
 */
#ifndef STRATRUN_TERMTEXT_H
#define STRATRUN_TERMTEXT_H

#include <stddef.h>

/* Columns of code point c: 0, 1 or 2. */
int tt_cp_width(unsigned c);

/* Decodes one UTF-8 character at p (n > 0 bytes): its code point in *cp and its length; an invalid or truncated
 * sequence is one byte with *cp = 0xFFFD. */
size_t tt_decode(const char *p, size_t n, unsigned *cp);

/* Columns of the n bytes at s. */
size_t tt_width(const char *s, size_t n);

/* Copies the n bytes at s into out (cap > 0 bytes, NUL-terminated, cut at a character) as text safe to print on a
 * terminal: tab, CR and LF become a space; other C0 and C1 control characters, DEL and invalid UTF-8 become '?'
 * (nothing another process wrote can move the cursor or recolour the screen). Never longer than n. Returns the
 * length. */
size_t tt_sanitize(const char *s, size_t n, char *out, size_t cap);

#endif
