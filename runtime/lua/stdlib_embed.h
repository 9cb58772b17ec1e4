/* stdlib_embed.h: the Lua files under stdlib/, as bytecode (scripts/luadump.c, which keeps their chunk names
 * "=stdlib/<name>.lua" and lines), compiled into the binary by scripts/embed.cmake. Load them in mode "b". */
#ifndef STRATRUN_STDLIB_EMBED_H
#define STRATRUN_STDLIB_EMBED_H
#include <stddef.h>

struct stdlib_module {
    const char *name;   /* file name without .lua: the name passed to require */
    const char *src;    /* the bytecode */
    size_t size;
};

/* Terminated by an entry whose name is NULL. */
extern const struct stdlib_module stratrun_stdlib[];

#endif
