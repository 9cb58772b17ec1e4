/*
 * dial.h: one client connection (TCP, TLS, WebSocket over either) run by a thread of its own, its received
 * messages kept in a bounded queue for the owner to take; what Dial (lua/dial.c, docs/dial.md) stands on.
 *
 * The thread connects (name lookup, connect, TLS handshake with the certificate verified against the system's
 * store or $SSL_CERT_FILE, the WebSocket handshake), then reads messages (WebSocket frames, wslay) or chunks (TCP)
 * into the queue and writes what the owner queued. It never touches a Lua state: it calls opts.notify and makes
 * dial_event_fd readable after every change (a message, a state), and the owner looks with dial_state and dial_pop.
 * With reconnect it connects again after a drop, every interval, and sends the payload after every connect.
 */
#ifndef STRATRUN_DIAL_H
#define STRATRUN_DIAL_H

#include <stddef.h>

#define DIAL_MAX_MSG (8u << 20)         /* a received message (after inflating), and a written one */
#define DIAL_MAX_QUEUE 1024             /* received messages kept; past it (or DIAL_MAX_QUEUE_BYTES) the oldest go */
#define DIAL_MAX_QUEUE_BYTES (32u << 20)
#define DIAL_MAX_OUT_BYTES (8u << 20)   /* bytes written by the owner and not yet sent (beside them, the thread's
                                         * WebSocket queue holds at most 64 KiB and one message) */
#define DIAL_ERRLEN 300

enum dial_scheme { DIAL_TCP, DIAL_TLS, DIAL_WS, DIAL_WSS };
enum dial_compress { DIAL_Z_NONE, DIAL_Z_GZIP, DIAL_Z_RAW, DIAL_Z_ZLIB };
enum dial_state { DIAL_CONNECTING, DIAL_OPEN, DIAL_RECONNECTING, DIAL_CLOSED, DIAL_FAILED };

/* Dial's address, as dial_parse reads it: "SCHEME://HOST:PORT[/PATH]|key=value&key=value...". */
struct dial_spec {
    enum dial_scheme scheme;
    char host[256];             /* without brackets for an IPv6 literal */
    char port[8];
    char *path;                 /* ws, wss: the request target ("/" by default; malloc'd) */
    size_t addr_len;            /* the address without its options: what messages name */
    long connect_timeout_ms;    /* connect, TLS and WebSocket handshakes together */
    int reconnect;              /* reconnect=true */
    long interval_ms;           /* between attempts to reconnect (1000) */
    long retry;                 /* attempts to reconnect after a drop, 0: no end */
    enum dial_compress compress;
    int inflate_recv, deflate_send;     /* mode=recv (the default), send, dual */
    char *payload;              /* sent after every connect (malloc'd), or NULL */
    size_t payload_len;
    void (*notify)(void);       /* called by the thread after each change (any thread may call it) */
};

/* Reads address (len bytes) into s. Returns 0, or -1 with one line in err naming the part at fault (an unknown
 * scheme, no port, an unknown option or value). s must be freed with dial_spec_free either way. */
int dial_parse(const char *address, size_t len, struct dial_spec *s, char *err, size_t errlen);
void dial_spec_free(struct dial_spec *s);

/* Loads what a connection needs (OpenSSL's libcrypto and libssl, wslay, zlib: opened on first use) before the first
 * dial_start. 0, or -1 with one line in err naming the library missing and who needs it. */
int dial_load(const char *who, char *err, size_t errlen);

struct dial_conn;

/* Starts the connection's thread; s is moved into it (s emptied). Returns NULL when out of memory or threads. */
struct dial_conn *dial_start(struct dial_spec *s);

/* The state, and (FAILED, CLOSED, RECONNECTING) why the last attempt or connection ended in err; *drops (when
 * not NULL): how many connections have ended so far (with reconnect, one per drop). */
enum dial_state dial_state(struct dial_conn *c, char *err, size_t errlen, long *drops);

/* Readable after each change; dial_drain empties it. Close-on-exec. */
int dial_event_fd(const struct dial_conn *c);
void dial_drain(struct dial_conn *c);

/* Takes the oldest message (latest: the newest, the older ones dropped) into *msg (malloc'd, *len bytes, NUL
 * after). Returns 1, 2 when a drop (reconnect) comes first: the drops since *seen (the caller's count of drops
 * said, updated) come before the oldest message waiting, or no message waits; the message stays for the next
 * call. 0 when the queue is empty. *dropped: messages the full queue dropped since the last call. latest never
 * skips a drop: it drops the older messages, then says the drop before the newest if there was one. */
int dial_pop(struct dial_conn *c, int latest, long *seen, char **msg, size_t *len, long *dropped);

/* Queues data to be sent (a WebSocket text message when it is UTF-8, else binary, and binary when deflating;
 * TCP bytes as they are). Returns
 * len, or 0 when the connection is not open or the bytes waiting would pass DIAL_MAX_OUT_BYTES. */
size_t dial_write(struct dial_conn *c, const void *data, size_t len);

/* Ends the connection (a WebSocket close frame when it can) and frees c; the thread is joined, or, when it is in
 * a name lookup that cannot be cut short, left to free c itself. */
void dial_close(struct dial_conn *c);

#endif
