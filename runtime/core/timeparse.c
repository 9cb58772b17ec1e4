/* timeparse.c: reading a moment given as ISO 8601 or as a number, and writing one in UTC (timeparse.h). */
#include "core/timeparse.h"
#include "core/clock.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t days_from_civil(int64_t y, int m, int d)
{
    /* Howard Hinnant's algorithm: days since 1970-01-01 in the proleptic Gregorian calendar. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char **p, const char *end, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (*p >= end || !isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
    }
    *out = v;
    return 0;
}

/* A number of unit (TIME_MS or told by magnitude, timeparse.h) in [p, end). Returns as time_parse. */
static int number(const char *p, const char *end, enum time_unit unit, int64_t *ms)
{
    char buf[32], *e;
    if (end - p >= (long)sizeof buf)
        return -1;
    memcpy(buf, p, (size_t)(end - p));
    buf[end - p] = '\0';
    /* Integers are read exactly (a time in ns needs all 19 digits); anything else as a double. */
    errno = 0;
    long long i = strtoll(buf, &e, 10);
    int integer = !*e && !errno;
    errno = 0;
    double v = integer ? (double)i : strtod(buf, &e);
    if (*e || isnan(v))
        return -1;
    if (errno || !isfinite(v))
        return -2;
    /* per: units per ms (0: seconds); max: the largest magnitude the clock holds in that unit */
    double mag = fabs(v);
    int64_t per = 1, max = TIME_MAX_MS;
    if (unit == TIME_BY_MAGNITUDE && mag >= 1e16)
        per = 1000000, max = INT64_MAX;
    else if (unit == TIME_BY_MAGNITUDE && mag >= 1e13)
        per = 1000, max = INT64_MAX / 1000;
    else if (unit == TIME_BY_MAGNITUDE && mag >= 1e9 && mag < 1e10)
        per = 0, max = TIME_MAX_MS / 1000;
    if (mag > (double)max || (integer && (i > max || i < -max)))
        return -2;
    if (per == 0)
        *ms = integer ? i * 1000 : (int64_t)floor(v * 1000);
    else
        *ms = integer ? (i >= 0 ? i / per : -((-i + per - 1) / per)) : (int64_t)floor(v / (double)per);
    return 0;
}

int time_parse(const char *s, size_t len, enum time_unit unit, int64_t *ms)
{
    const char *p = s, *end = s + len;
    while (p < end && isspace((unsigned char)*p))
        p++;
    while (end > p && isspace((unsigned char)end[-1]))
        end--;
    if (p == end)
        return -1;
    if (end - p < 10 || p[4] != '-')
        return number(p, end, unit, ms);
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, fracdigits = 0;
    if (digits(&p, end, 4, &y) || *p++ != '-' || digits(&p, end, 2, &mo) || *p++ != '-' || digits(&p, end, 2, &d))
        return -1;
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
        return -1;
    if (p < end && (*p == 'T' || *p == ' ')) {
        p++;
        if (digits(&p, end, 2, &h) || p >= end || *p++ != ':' || digits(&p, end, 2, &mi))
            return -1;
        if (p < end && *p == ':') {
            p++;
            if (digits(&p, end, 2, &sec))
                return -1;
            if (p < end && *p == '.') {
                p++;
                while (p < end && isdigit((unsigned char)*p)) {
                    if (fracdigits < 3) {
                        frac = frac * 10 + (*p - '0');
                        fracdigits++;
                    }
                    p++;
                }
                while (fracdigits > 0 && fracdigits < 3) {
                    frac *= 10;
                    fracdigits++;
                }
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return -1;
    }
    int64_t offset = 0;
    if (p < end && (*p == 'Z' || *p == 'z')) {
        p++;
    } else if (p < end && (*p == '+' || *p == '-')) {
        int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
        if (digits(&p, end, 2, &oh))
            return -1;
        if (p < end && *p == ':')
            p++;
        if (p < end && digits(&p, end, 2, &om))
            return -1;
        if (oh > 23 || om > 59)
            return -1;
        offset = sign * (oh * 3600 + om * 60);
    }
    if (p != end)
        return -1;
    int64_t t = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) - offset) * 1000 + frac;
    if (t < -TIME_MAX_MS || t > TIME_MAX_MS)
        return -2;
    *ms = t;
    return 0;
}

size_t time_format_utc(int64_t ms, const char *fmt, char *buf, size_t size)
{
    time_t t = (time_t)clock_floor_s(ms);
    struct tm tm;
    size_t n = size > 0 && gmtime_r(&t, &tm) ? strftime(buf, size, fmt, &tm) : 0;
    if (n == 0 && size > 0)
        buf[0] = '\0';
    return n;
}
