/* chanframe.c: writes and checks the framed form of a channel state (chanframe.h). */
#include "core/chanframe.h"
#include "core/fsutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

size_t chanframe_format(char *buf, const char *json, size_t len, int64_t seq, int64_t published)
{
    int h = snprintf(buf, CHANFRAME_HEADER_MAX, "SRCH1 %" PRId64 " %" PRId64 " %zu %08" PRIx32 "\n", seq, published,
                     len, fs_crc32(json, len));
    memcpy(buf + h, json, len);
    return (size_t)h + len;
}

int64_t chanframe_seq_limit(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 + CHANFRAME_AHEAD_US;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                                                                    : -1;
}

/* Parses a decimal int64 ending at a space or newline; advances *p past it. */
static int parse_i64(const char **p, const char *end, int64_t *out)
{
    const char *s = *p;
    int64_t v = 0;
    if (s >= end || *s < '0' || *s > '9')
        return -1;
    while (s < end && *s >= '0' && *s <= '9') {
        int d = *s++ - '0';
        if (v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (s >= end || (*s != ' ' && *s != '\n'))
        return -1;
    *p = s + 1;
    *out = v;
    return 0;
}

const char *chanframe_parse(const char *buf, size_t n, struct chanframe *f)
{
    if (n > CHANFRAME_MAX)
        return "larger than a channel state can be (1024 bytes of JSON)";
    const char *end = buf + n;
    int64_t flen;
    if (n < 6 || memcmp(buf, "SRCH1 ", 6) != 0)
        return "not a stratrun channel state";
    const char *p = buf + 6;
    if (parse_i64(&p, end, &f->seq) || parse_i64(&p, end, &f->published) || parse_i64(&p, end, &flen))
        return "malformed header";
    if (f->seq > chanframe_seq_limit())
        return "its seq is more than a year ahead of this machine's clock";
    /* Eight hex digits and a newline, read within the n bytes. */
    uint32_t crc = 0;
    int k = 0;
    for (; k < 8 && p + k < end; k++) {
        int d = hexval(p[k]);
        if (d < 0)
            break;
        crc = crc << 4 | (uint32_t)d;
    }
    if (k != 8 || p + 8 >= end || p[8] != '\n')
        return "malformed header";
    p += 9;
    if (flen > CHAN_MAX)
        return "larger than a channel state can be (1024 bytes of JSON)";
    if (end - p != flen)
        return "truncated or padded: its length does not match its header";
    if (fs_crc32(p, (size_t)flen) != crc)
        return "checksum mismatch";
    f->json = p;
    f->len = (size_t)flen;
    return NULL;
}
