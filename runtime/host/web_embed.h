/* web_embed.h: the dashboard's page under web/, compiled into the binary by scripts/embed.cmake (serve.c). */
#ifndef STRATRUN_WEB_EMBED_H
#define STRATRUN_WEB_EMBED_H
#include <stddef.h>

struct web_asset {
    const char *name;   /* the file name, as served: /NAME */
    const char *data;
    size_t size;
};

/* Terminated by an entry whose name is NULL. */
extern const struct web_asset stratrun_web[];

#endif
