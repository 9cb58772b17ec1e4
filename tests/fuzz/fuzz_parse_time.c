/*
 * fuzz_parse_time.c: time_parse (runtime/core/timeparse.c), which reads the time column of market CSV files,
 * --from/--to and sim's start=: ISO 8601 dates and times with an optional fraction and offset, or milliseconds.
 *
 * Checked: no crash or UB (integer overflow included) on any bytes; surrounding whitespace changes nothing; a
 * number of milliseconds reads as itself; an ISO date it accepts names a day its month has (29 February in leap
 * years only) and lands within two days of the year it names; whatever parses, written back as
 * "YYYY-MM-DDTHH:MM:SS.mmmZ" and as a number of milliseconds, parses to the same instant.
 */
#include "fuzz.h"
#include "core/timeparse.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS INT64_C(86400000)

static int year_days(int y)
{
    return (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365;
}

/* Days from 1970-01-01 to y-01-01, counted year by year: slow, and apart from the parser's own algorithm. */
static int64_t year_start_days(int y)
{
    int64_t days = 0;
    for (int k = 1970; k < y; k++)
        days += year_days(k);
    for (int k = y; k < 1970; k++)
        days -= year_days(k);
    return days;
}

/* ms as "YYYY-MM-DDTHH:MM:SS.mmmZ", for 0000-01-01 .. 9999-12-31; -1 outside. */
static int format_iso(int64_t ms, char *buf, size_t cap)
{
    int64_t days = ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS), rest = ms - days * DAY_MS;
    int y = 1970;
    while (days >= year_days(y) && y <= 9999)
        days -= year_days(y++);
    while (days < 0 && y >= 0)
        days += year_days(--y);
    if (y < 0 || y > 9999)
        return -1;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = year_days(y) == 366, mo = 0;
    while (days >= mdays[mo] + (mo == 1 && leap)) {
        days -= mdays[mo] + (mo == 1 && leap);
        mo++;
    }
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, mo + 1, (int)days + 1, (int)(rest / 3600000),
             (int)(rest / 60000 % 60), (int)(rest / 1000 % 60), (int)(rest % 1000));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    int64_t ms = INT64_MIN;
    int rc = time_parse(s, size, TIME_MS, &ms);
    FUZZ_CHECK(rc == 0 || rc == -1 || rc == -2, "returned %d", rc);
    FUZZ_CHECK(rc != 0 || (ms >= -TIME_MAX_MS && ms <= TIME_MAX_MS), "%" PRId64 " is outside the clock", ms);
    /* By magnitude: the same verdict on text that is not a number, and every time within the clock. */
    int64_t mm = INT64_MIN;
    int rcm = time_parse(s, size, TIME_BY_MAGNITUDE, &mm);
    FUZZ_CHECK((rcm == -1) == (rc == -1), "by magnitude %d, as ms %d", rcm, rc);
    FUZZ_CHECK(rcm != 0 || (mm >= -TIME_MAX_MS && mm <= TIME_MAX_MS), "%" PRId64 " (by magnitude) is outside the clock",
               mm);

    /* Whitespace around it changes nothing. */
    char *padded = malloc(size + 4);
    FUZZ_CHECK(padded != NULL, "out of memory");
    memcpy(padded, " \t", 2);
    memcpy(padded + 2, s, size);
    memcpy(padded + 2 + size, "\r\n", 2);
    int64_t ms2 = INT64_MIN;
    int rc2 = time_parse(padded, size + 4, TIME_MS, &ms2);
    free(padded);
    FUZZ_CHECK(rc2 == rc && (rc != 0 || ms2 == ms), "whitespace changed the result: %d %" PRId64 " vs %d %" PRId64,
               rc, ms, rc2, ms2);
    if (rc != 0)
        return 0;

    /* Trimmed, all digits: the number itself. */
    size_t a = 0, b = size;
    while (a < b && strchr(" \t\n\v\f\r", s[a]) && s[a])
        a++;
    while (b > a && strchr(" \t\n\v\f\r", s[b - 1]) && s[b - 1])
        b--;
    int digits = b > a && b - a <= 15;
    for (size_t i = a; i < b && digits; i++)
        digits = s[i] >= '0' && s[i] <= '9';
    if (digits) {
        int64_t v = 0;
        for (size_t i = a; i < b; i++)
            v = v * 10 + (s[i] - '0');
        FUZZ_CHECK(ms == v, "%.*s read as %" PRId64, (int)(b - a), s + a, ms);
    }

    /* An ISO date: a day that exists in its month (29 February in leap years only), and an instant within its
     * year, give or take a leap second and an offset of up to 23:59. */
    if (b - a >= 10 && s[a + 4] == '-') {
        int y = (s[a] - '0') * 1000 + (s[a + 1] - '0') * 100 + (s[a + 2] - '0') * 10 + (s[a + 3] - '0');
        int mo = (s[a + 5] - '0') * 10 + (s[a + 6] - '0'), d = (s[a + 8] - '0') * 10 + (s[a + 9] - '0');
        int leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        FUZZ_CHECK(mo >= 1 && mo <= 12 && d >= 1 && d <= mdays[mo - 1] + (mo == 2 && leap), "%.*s: no such day",
                   (int)(b - a), s + a);
        int64_t lo = (year_start_days(y) - 2) * DAY_MS, hi = (year_start_days(y + 1) + 2) * DAY_MS;
        FUZZ_CHECK(ms >= lo && ms < hi, "%.*s read as %" PRId64 ", outside year %d", (int)(b - a), s + a, ms, y);
    }

    /* Written back, it reads the same. */
    char buf[64];
    if (format_iso(ms, buf, sizeof buf) == 0) {
        int64_t back = INT64_MIN;
        FUZZ_CHECK(time_parse(buf, strlen(buf), TIME_MS, &back) == 0 && back == ms,
                   "%" PRId64 " written as %s reads as %" PRId64, ms, buf, back);
    }
    if (ms >= 0) {
        snprintf(buf, sizeof buf, "%" PRId64, ms);
        int64_t back = INT64_MIN;
        FUZZ_CHECK(time_parse(buf, strlen(buf), TIME_MS, &back) == 0 && back == ms, "%s reads as %" PRId64, buf,
                   back);
    }
    return 0;
}
