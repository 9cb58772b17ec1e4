/*
 * mailaddr.h: the checks of what Mail sends to (lua/http.c) and of the config's mail table (host/options.c): an
 * address, a list of recipients, and the SMTP server in the platform's forms. Plain C on strings.
 */
#ifndef STRATRUN_MAILADDR_H
#define STRATRUN_MAILADDR_H

#include <stddef.h>

#define MAIL_MAX_RCPT 20

/* Whether a (len bytes) is an address as SMTP and a To: header take it: name@domain, no space, angle bracket,
 * comma, quote or control character. */
int mail_address_ok(const char *a, size_t len);

/* Calls each(address, len, ud) for each address of to, a list separated by commas (spaces around them allowed).
 * Returns how many there are, or -1 when one is not an address, one is empty, or there are more than
 * MAIL_MAX_RCPT. each may be NULL (a check only). */
int mail_recipients(const char *to, void (*each)(const char *a, size_t len, void *ud), void *ud);

/* The server argument as a URL into out, in the forms the platform documents: "ssl://HOST:PORT" is SMTP over TLS
 * (smtps); "smtp://HOST[:PORT]" SMTP, upgraded with STARTTLS; a bare "HOST:PORT" smtps on port 465 and SMTP with
 * STARTTLS on any other; a bare "HOST" smtps on port 465; smtps://HOST[:PORT] as given. Returns 0, or -1 when
 * server is in none of these forms (or out is too small). */
int mail_url(const char *server, char *out, size_t outlen);

/* Whether url (mail_url's) names this machine: 127.0.0.0/8 as an address, [::1] or localhost. */
int mail_url_loopback(const char *url);

#endif
