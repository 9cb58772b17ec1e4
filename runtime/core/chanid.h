/*
 * chanid.h: bot and channel IDs. A bot's ID is also its channel's name, a file name in the local backend's
 * folder and part of a Redis key, so every ID that arrives (command line, config, GetChannelData, a backend)
 * passes id_check before it is used.
 */
#ifndef STRATRUN_CHANID_H
#define STRATRUN_CHANID_H

#include <stddef.h>

#define ID_MAX 64

/* Checks a bot or channel ID: 1 to 64 characters of [A-Za-z0-9_-]. Returns NULL, or what is wrong with it. */
const char *id_check(const char *id, size_t len);

#endif
