/*
 * fuzz_chanframe.c: chanframe_parse (runtime/core/chanframe.c), the reader of what another process left behind: a
 * channel file of the local backend, a value found in Redis. A frame it accepts is then decoded with json_decode,
 * as GetChannelData does.
 *
 * The input is read three ways:
 *  1. as a whole frame: parsed as found. Accepted only if it is one: the header's fields read back, the CRC of
 *     the JSON matches, the JSON is exactly the rest of the input and at most CHAN_MAX bytes; every shorter
 *     prefix of it, and it with one byte more, is refused (truncated or padded files);
 *  2. as "seq published JSON": framed by chanframe_format, so the CRC is right and the JSON reaches the decoder
 *     (a fuzzer cannot guess CRCs); the frame must parse back to exactly what went in;
 *  3. that frame with one byte changed: a changed byte of the JSON must be refused (a CRC-32 catches every
 *     single-byte error), a changed header byte must be refused or read as a consistent header.
 */
#include "core/chanframe.h"
#include "core/fsutil.h"
#include "fuzz.h"
#include "data/json.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

static lua_State *L;

/* What a subscriber does with an accepted frame. */
static void decode_json(const struct chanframe *f)
{
    char err[JSON_ERRLEN];
    int top = lua_gettop(L);
    if (json_decode(L, f->json, f->len, err, sizeof err) == 0)
        FUZZ_CHECK(lua_gettop(L) == top + 1, "json_decode pushed %d values", lua_gettop(L) - top);
    else
        FUZZ_CHECK(lua_gettop(L) == top && err[0], "json_decode failed without a message");
    lua_settop(L, top);
}

/* Parses a heap copy of exactly n bytes, so that ASan sees any read past them. */
static const char *parse_exact(const char *buf, size_t n, struct chanframe *f, char **copy)
{
    *copy = malloc(n ? n : 1);
    FUZZ_CHECK(*copy != NULL, "out of memory");
    memcpy(*copy, buf, n);
    return chanframe_parse(*copy, n, f);
}

static void check_accepted(const char *buf, size_t n, const struct chanframe *f)
{
    FUZZ_CHECK(n >= 6 && memcmp(buf, "SRCH1 ", 6) == 0, "accepted a frame without the SRCH1 magic");
    FUZZ_CHECK(n <= CHANFRAME_MAX, "accepted %zu bytes, more than CHANFRAME_MAX", n);
    FUZZ_CHECK(f->json >= buf && f->json + f->len == buf + n, "the JSON is not exactly the end of the frame");
    FUZZ_CHECK(f->len <= CHAN_MAX, "accepted %zu bytes of JSON", f->len);
    FUZZ_CHECK(f->seq >= 0 && f->published >= 0, "negative seq %" PRId64 " or time %" PRId64, f->seq, f->published);
    /* The header: SRCH1 seq published length crc\n (the reader also takes a newline between the numbers) */
    const char *h = buf, *nl = f->json - 1;
    FUZZ_CHECK(*nl == '\n' && nl > h + 6, "no newline before the JSON");
    char header[CHANFRAME_MAX + 1];
    memcpy(header, h, (size_t)(nl - h));
    header[nl - h] = '\0';
    char *p = header + 6, *e;
    int64_t seq = strtoll(p, &e, 10);
    FUZZ_CHECK((*e == ' ' || *e == '\n') && seq == f->seq, "seq read as %" PRId64 ", the header says %s", f->seq,
               header);
    int64_t published = strtoll(e + 1, &e, 10);
    FUZZ_CHECK((*e == ' ' || *e == '\n') && published == f->published, "time read as %" PRId64 ", the header says %s",
               f->published, header);
    unsigned long long len = strtoull(e + 1, &e, 10);
    FUZZ_CHECK((*e == ' ' || *e == '\n') && len == f->len, "length read as %zu, the header says %s", f->len, header);
    unsigned long crc = strtoul(e + 1, &e, 16);
    FUZZ_CHECK(*e == '\0' && strlen(e - 8) == 8 && crc == fs_crc32(f->json, f->len),
               "CRC in header %s does not match the JSON (%08" PRIx32 ")", header, fs_crc32(f->json, f->len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!L) {
        L = fuzz_lua_new(SIZE_MAX, 0);
        fuzz_open_json(L);
    }
    const char *in = (const char *)data;
    struct chanframe f;
    char *copy;

    /* 1. The input as a frame. */
    const char *why = parse_exact(in, size, &f, &copy);
    if (why == NULL) {
        check_accepted(copy, size, &f);
        decode_json(&f);
        struct chanframe g;
        char *c2;
        for (size_t k = 0; k < size; k++) {
            FUZZ_CHECK(parse_exact(in, k, &g, &c2) != NULL, "accepted the first %zu of %zu bytes", k, size);
            free(c2);
        }
        char *longer = malloc(size + 1);
        FUZZ_CHECK(longer != NULL, "out of memory");
        memcpy(longer, in, size);
        longer[size] = in[size - 1];
        FUZZ_CHECK(chanframe_parse(longer, size + 1, &g) != NULL, "accepted a frame with a byte appended");
        free(longer);
    } else {
        FUZZ_CHECK(*why != '\0', "empty reason");
    }
    free(copy);

    /* 2. "seq published JSON", framed. The header's reader reads every int64 >= 0; seqs up to a year ahead of the
     *    clock are taken (CHANFRAME_AHEAD_US). */
    if (size < 17)
        return 0;
    uint64_t a = 0, b = 0;
    for (int i = 0; i < 8; i++) {
        a = a << 8 | data[i];
        b = b << 8 | data[8 + i];
    }
    int64_t seq = (int64_t)(a % ((uint64_t)chanframe_seq_limit() + 1));
    int64_t published = (int64_t)(b & (uint64_t)INT64_MAX);
    unsigned char flip = data[16];
    const char *json = in + 17;
    size_t len = size - 17;
    if (len > CHAN_MAX)
        len = CHAN_MAX;
    char frame[CHANFRAME_MAX];
    size_t n = chanframe_format(frame, json, len, seq, published);
    FUZZ_CHECK(n <= CHANFRAME_MAX, "chanframe_format wrote %zu bytes", n);
    why = parse_exact(frame, n, &f, &copy);
    FUZZ_CHECK(why == NULL, "refused its own frame: %s", why);
    FUZZ_CHECK(f.seq == seq && f.published == published && f.len == len && memcmp(f.json, json, len) == 0,
               "the frame of seq %" PRId64 " time %" PRId64 " read back as %" PRId64 " %" PRId64, seq, published,
               f.seq, f.published);
    check_accepted(copy, n, &f);
    decode_json(&f);
    size_t header = (size_t)(f.json - copy);
    free(copy);

    /* 3. One byte changed. */
    size_t at = (size_t)(a ^ b) % n;
    unsigned char was = (unsigned char)frame[at];
    frame[at] = (char)(was ^ (flip ? flip : 1));
    why = parse_exact(frame, n, &f, &copy);
    if (at >= header)
        FUZZ_CHECK(why != NULL, "a changed byte at %zu of the JSON went unnoticed", at - header);
    else if (why == NULL)
        check_accepted(copy, n, &f);
    free(copy);
    return 0;
}
