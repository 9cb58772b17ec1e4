/*
 * mailaddr.c: see mailaddr.h.
 */
#include "core/mailaddr.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

int mail_address_ok(const char *a, size_t len)
{
    const char *at = memchr(a, '@', len);
    if (!at || at == a || at == a + len - 1 || len > 254)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c <= ' ' || c == 0x7f || strchr("<>,;()[]\\\"", c) || (c == '@' && a + i != at))
            return 0;
    }
    return 1;
}

int mail_recipients(const char *to, void (*each)(const char *a, size_t len, void *ud), void *ud)
{
    int n = 0;
    for (const char *p = to;; p++) {
        size_t len = strcspn(p, ",");
        const char *a = p, *e = p + len;
        while (a < e && (*a == ' ' || *a == '\t'))
            a++;
        while (e > a && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (!mail_address_ok(a, (size_t)(e - a)) || ++n > MAIL_MAX_RCPT)
            return -1;
        if (each)
            each(a, (size_t)(e - a), ud);
        p += len;
        if (*p == '\0')
            return n;
    }
}

int mail_url(const char *server, char *out, size_t outlen)
{
    static const char *const schemes[][2] = {{"ssl://", "smtps://"}, {"smtps://", "smtps://"},
                                             {"smtp://", "smtp://"}};
    const char *host = server, *scheme = NULL;
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0] && !scheme; i++)
        if (strncmp(server, schemes[i][0], strlen(schemes[i][0])) == 0) {
            scheme = schemes[i][1];
            host = server + strlen(schemes[i][0]);
        }
    if (strstr(host, "://") || host[0] == '\0' || host[0] == ':')
        return -1;
    for (const char *c = host; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f || strchr("@/?#", *c))
            return -1;
    const char *port = strrchr(host, ':');
    if (!scheme)
        scheme = !port || strcmp(port, ":465") == 0 ? "smtps://" : "smtp://";
    int n = snprintf(out, outlen, "%s%s%s", scheme, host, port || strcmp(scheme, "smtps://") != 0 ? "" : ":465");
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int mail_url_loopback(const char *url)
{
    const char *h = strstr(url, "://");
    if (!h)
        return 0;
    h += 3;
    size_t n = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":");
    if ((n == 9 && strncmp(h, "localhost", 9) == 0) || (n == 5 && strncmp(h, "[::1]", 5) == 0))
        return 1;
    int numeric = n > 4 && strncmp(h, "127.", 4) == 0;     /* an address, not a name such as 127.0.0.1.example */
    for (size_t i = 0; numeric && i < n; i++)
        numeric = isdigit((unsigned char)h[i]) || h[i] == '.';
    return numeric;
}
