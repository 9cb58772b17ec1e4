/* editor_embed.h: the editor files under editor/ (stratrun.lua, .luarc.json, .luacheckrc: docs/editor.md), compiled
 * into the binary by scripts/embed.cmake for stratrun new (scaffold.c). */
#ifndef STRATRUN_EDITOR_EMBED_H
#define STRATRUN_EDITOR_EMBED_H
#include <stddef.h>

struct editor_file {
    const char *name;   /* the file name, as in editor/ */
    const char *data;
    size_t size;
};

/* Terminated by an entry whose name is NULL. */
extern const struct editor_file stratrun_editor[];

#endif
