/*
 * redact.h: keeping a URL's password out of everything stratrun prints or shows a strategy. A channel URL
 * (redis://user:password@host:port) may hold a secret; every message that quotes a URL quotes it through here.
 */
#ifndef STRATRUN_REDACT_H
#define STRATRUN_REDACT_H

#include <stddef.h>

/* Finds the password of a URL-like string: SCHEME ":" ["/"...] [USER] ":" PASSWORD "@" ..., where the part before
 * the '@' holds no '/'. Returns 1 with its offset and length (possibly 0), or 0 when there is none. Malformed URLs
 * ("redis:/:pw@host") are covered too: error messages quote exactly those. */
int redact_span(const char *url, size_t *off, size_t *len);

/* Copies url into out (truncated to outlen) with its password, if any, replaced by "***". Returns out. */
char *redact_url(const char *url, char *out, size_t outlen);

/* Overwrites the password of url in place with '*' (the process's own argv, so that /proc/PID/cmdline and ps show
 * no secret). */
void redact_in_place(char *url);

#endif
