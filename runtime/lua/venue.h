/*
 * venue.h: what the config loader hands to a live exchange's venue (venue.c; docs/live.md).
 */
#ifndef STRATRUN_VENUE_H
#define STRATRUN_VENUE_H

#include <lua.h>

/* When the exchange table at idx has a `venue`, checks its live settings and takes them and its keys (from the
 * table, else from the environment) out of the table into a slot of venue.c: the table keeps `venue` and gets
 * `venue_slot`. Without a `venue`, a live setting in the table is refused. Raises "WHAT.key ..." on a bad value. */
int venue_config(lua_State *L, int idx, const char *what);

/* How many venues took their keys from a config file (which must then be readable by its owner only). */
int venue_keys_in_config(void);

/* The user-data stream of live exchange slot (runtime/lua/venue_stream.c): its WebSocket address in url, and 0, or 1
 * on binance-futures, whose address has the listen key venue.listen_key got in its path (url is then a secret); -1 when the exchange
 * has stream = false (or there is no such slot), -2 on binance-futures before a listen key was got. */
int venue_stream_url(int slot, char *url, size_t n);

/* The venue's signed subscription to the account's user-data stream (Binance's userDataStream.subscribe.signature:
 * apiKey, recvWindow and timestamp at the venue's clock, signed in name order) as JSON text in *out (malloc'd, *len
 * bytes). It holds the API key: the caller hands it to the connection only, then wipes and frees it. On
 * binance-futures there is none (the listen key in the address subscribes): *out NULL, *len 0. 0, or -1 with one
 * line in err. */
int venue_stream_subscription(int slot, char **out, size_t *len, char *err, size_t errlen);

struct bot;

/* Live, from the scheduler between the bot's turns: 1 with the line in why when the kill switch of a live exchange
 * b trades on (venue.attach) is pulled, its file looked at at most once a second (and before every order): the
 * host then stops b as a stop signal would (its onexit runs, then cancel_on_stop). */
int venue_kill_due(const struct bot *b, char *why, size_t len);

#endif
