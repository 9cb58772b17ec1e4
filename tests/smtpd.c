/*
 * smtpd.c: the local SMTP server of the mail spec (spec/mail_spec.lua). It takes mail on a port the kernel picks,
 * one connection at a time, and writes down what it was told, so that Mail's every path plays without reaching
 * outside the machine. No TLS: it offers AUTH PLAIN and no STARTTLS.
 *
 *   smtpd ROOT [--lifetime S] [--any]
 *
 * It listens on 127.0.0.1 (with --any, on every address) and writes ROOT/.port atomically, then serves until
 * --lifetime seconds have passed (default 300) or ROOT/.stop exists. Each mail it accepts is written to
 * ROOT/mail-N.txt (N from 1): "AUTH <user>\0<password>" when the client authenticated, "FROM <addr>", a
 * "TO <addr>" line per recipient, an empty line, then the message as received with the dot-stuffing undone.
 * Behaviour the test controls, read at each command:
 *   ROOT/.deny      AUTH is answered 535 (wrong user name or password)
 *   ROOT/.delay     holds a number of ms to wait before answering DATA's end
 *   a recipient starting with "reject" is answered 550
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE 4096
#define MAX_MAIL (4 << 20)

static const char *root;

static int exists(const char *name)
{
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", root, name);
    return stat(p, &st) == 0;
}

static long read_number(const char *name)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", root, name);
    FILE *f = fopen(p, "r");
    long v = 0;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

static void say(int fd, const char *text)
{
    size_t n = strlen(text);
    while (n) {
        ssize_t w = write(fd, text, n);
        if (w <= 0)
            return;
        text += w;
        n -= (size_t)w;
    }
}

/* A connection's input, read a line at a time (CRLF or LF ends it; the end is cut off). */
struct conn {
    int fd;
    char buf[MAX_LINE * 2];
    size_t len;
};

/* Returns the line's length, or -1 when the peer is gone or says nothing for 10 s. */
static long read_line(struct conn *c, char *line)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            size_t n = (size_t)(nl - c->buf);
            size_t keep = n;
            if (keep && c->buf[keep - 1] == '\r')
                keep--;
            if (keep >= MAX_LINE)
                keep = MAX_LINE - 1;
            memcpy(line, c->buf, keep);
            line[keep] = '\0';
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
            return (long)keep;
        }
        if (c->len == sizeof c->buf)
            c->len = 0;     /* a line past the limit: dropped */
        struct pollfd p = {c->fd, POLLIN, 0};
        if (poll(&p, 1, 10000) <= 0)
            return -1;
        ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        if (r <= 0)
            return -1;
        c->len += (size_t)r;
    }
}

static int b64val(int ch)
{
    const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = ch ? strchr(t, ch) : NULL;
    return p ? (int)(p - t) : -1;
}

/* Decodes base64 text into out; returns the length. */
static size_t b64dec(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    int bits = 0;
    unsigned acc = 0;
    for (; *s && n < cap; s++) {
        int v = b64val(*s);
        if (v < 0)
            continue;
        acc = ((acc << 6) | (unsigned)v) & 0xffffffu;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    return n;
}

static void serve(int fd, int *count)
{
    struct conn c = {.fd = fd};
    char line[MAX_LINE], auth[MAX_LINE], from[MAX_LINE];
    size_t auth_len = 0;
    char *to = calloc(1, 64 * MAX_LINE), *mail = malloc(MAX_MAIL);
    size_t to_len = 0;
    from[0] = '\0';
    say(fd, "220 smtpd ESMTP test server\r\n");
    long n;
    while (to && mail && (n = read_line(&c, line)) >= 0) {
        if (strncasecmp(line, "EHLO", 4) == 0) {
            say(fd, "250-smtpd\r\n250-8BITMIME\r\n250 AUTH PLAIN\r\n");
        } else if (strncasecmp(line, "HELO", 4) == 0) {
            say(fd, "250 smtpd\r\n");
        } else if (strncasecmp(line, "AUTH PLAIN", 10) == 0) {
            const char *resp = line + 10;
            while (*resp == ' ')
                resp++;
            char more[MAX_LINE];
            if (!*resp) {
                say(fd, "334 \r\n");
                if (read_line(&c, more) < 0)
                    break;
                resp = more;
            }
            char raw[MAX_LINE];
            size_t rl = b64dec(resp, raw, sizeof raw);
            /* authzid \0 authcid \0 password: keep "authcid\0password" */
            char *z = memchr(raw, '\0', rl);
            if (!z || exists(".deny")) {
                say(fd, "535 5.7.8 authentication failed\r\n");
                continue;
            }
            auth_len = rl - (size_t)(z + 1 - raw);
            memcpy(auth, z + 1, auth_len);
            say(fd, "235 2.7.0 accepted\r\n");
        } else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
            snprintf(from, sizeof from, "%s", line + 10);
            to_len = 0;
            say(fd, "250 ok\r\n");
        } else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
            const char *a = line + 8;
            if (strncasecmp(a, "<reject", 7) == 0) {
                say(fd, "550 5.1.1 no such user\r\n");
                continue;
            }
            if (to_len + strlen(a) + 8 < 64 * MAX_LINE)
                to_len += (size_t)sprintf(to + to_len, "TO %s\n", a);
            say(fd, "250 ok\r\n");
        } else if (strcasecmp(line, "DATA") == 0) {
            say(fd, "354 end with <CRLF>.<CRLF>\r\n");
            size_t ml = 0;
            long l;
            while ((l = read_line(&c, line)) >= 0 && strcmp(line, ".") != 0) {
                const char *p = line[0] == '.' ? line + 1 : line;     /* undo the dot-stuffing */
                size_t pl = strlen(p);
                if (ml + pl + 2 < MAX_MAIL) {
                    memcpy(mail + ml, p, pl);
                    memcpy(mail + ml + pl, "\r\n", 2);
                    ml += pl + 2;
                }
            }
            if (l < 0)
                break;
            long delay = read_number(".delay");
            if (delay > 0 && delay < 60000)
                usleep((useconds_t)delay * 1000);
            char path[4096], tmp[4200];
            snprintf(path, sizeof path, "%s/mail-%d.txt", root, ++*count);
            snprintf(tmp, sizeof tmp, "%s.tmp", path);
            FILE *f = fopen(tmp, "wb");
            if (f) {
                if (auth_len) {
                    fputs("AUTH ", f);
                    fwrite(auth, 1, auth_len, f);
                    fputc('\n', f);
                }
                fprintf(f, "FROM %s\n%.*s\n", from, (int)to_len, to);
                fwrite(mail, 1, ml, f);
                fclose(f);
                rename(tmp, path);
            }
            say(fd, "250 2.0.0 queued\r\n");
        } else if (strcasecmp(line, "QUIT") == 0) {
            say(fd, "221 bye\r\n");
            break;
        } else if (strcasecmp(line, "RSET") == 0 || strcasecmp(line, "NOOP") == 0) {
            say(fd, "250 ok\r\n");
        } else {
            say(fd, "502 5.5.2 not implemented\r\n");
        }
    }
    free(to);
    free(mail);
    close(fd);
}

int main(int argc, char **argv)
{
    long lifetime = 300;
    int any = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: smtpd ROOT [--lifetime S] [--any]\n");
        return 2;
    }
    root = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--lifetime") == 0 && i + 1 < argc)
            lifetime = atol(argv[++i]);
        else if (strcmp(argv[i], "--any") == 0)
            any = 1;
    }
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(any ? INADDR_ANY : INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &al) != 0) {
        perror("smtpd");
        return 1;
    }
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/.port", root);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        perror(tmp);
        return 1;
    }
    fprintf(f, "%d\n", ntohs(a.sin_port));
    fclose(f);
    rename(tmp, path);
    time_t end = time(NULL) + lifetime;
    int count = 0;
    while (time(NULL) < end && !exists(".stop")) {
        struct pollfd p = {s, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0)
            continue;
        int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
        if (c >= 0)
            serve(c, &count);
    }
    close(s);
    return 0;
}
