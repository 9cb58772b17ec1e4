/* redact.c: a URL's password, found and hidden (redact.h). */
#include "core/redact.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

int redact_span(const char *url, size_t *off, size_t *len)
{
    const char *p = url;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    if (p == url || *p != ':')
        return 0;
    p++;
    while (*p == '/')
        p++;
    size_t auth = strcspn(p, "@/");
    if (p[auth] != '@')
        return 0;
    const char *colon = memchr(p, ':', auth);
    if (!colon)
        return 0;
    *off = (size_t)(colon + 1 - url);
    *len = (size_t)(p + auth - (colon + 1));
    return 1;
}

char *redact_url(const char *url, char *out, size_t outlen)
{
    size_t off, len;
    if (!redact_span(url, &off, &len))
        snprintf(out, outlen, "%s", url);
    else
        snprintf(out, outlen, "%.*s***%s", (int)off, url, url + off + len);
    return out;
}

void redact_in_place(char *url)
{
    size_t off, len;
    if (redact_span(url, &off, &len))
        memset(url + off, '*', len);
}
