/*
 * botdir.h: the bots of a data dir as their folders show them (<data dir>/bots/<id>/): whether each runs (its lock,
 * fs_lock_holder), its PID and script, and the last line of its log. Read only: never takes a lock or writes. For
 * the shell tools (tools.c) and the dashboard (serve.c).
 */
#ifndef STRATRUN_BOTDIR_H
#define STRATRUN_BOTDIR_H

#include <limits.h>
#include <stddef.h>
#include <time.h>

#include "core/chanid.h"

struct botinfo {
    char id[ID_MAX + 1];
    int held;               /* its lock is held: it runs */
    long pid;               /* the process holding it (0 when it does not run) */
    char script[PATH_MAX];  /* the script of its last run ("" when unknown) */
    time_t since;           /* the lock's last write: the start of its last run */
};

/* Bot id of data_dir: 0, or -1 when it has never run there (no lock file). */
int botdir_look(const char *data_dir, const char *id, struct botinfo *b);

/* Every bot of data_dir (a folder of bots/ named by a valid ID, with a lock file), sorted by ID, *n of them
 * (malloc'd; NULL with *n 0 when none, errno ENOENT when there is no bots folder). */
struct botinfo *botdir_list(const char *data_dir, int *n);

/* The last line of the bot's log.txt, without its newline, cut to size - 1 bytes ("" when none). */
void botdir_last_line(const char *data_dir, const char *id, char *buf, size_t size);

/* t as local "YYYY-MM-DD HH:MM:SS" (as the log's stamps), or "-" for 0. */
void botdir_stamp(time_t t, char *buf, size_t size);

/* A bot's log.txt followed as it grows (`stratrun logs -f`, the dashboard's live stream). */
struct logtail {
    char path[PATH_MAX + 128];
    int fd;                 /* -1 while there is no such regular file */
    long long pos;          /* the next byte to read */
    int replaced;           /* set when the file was replaced or cut (the caller drops a line it holds half) */
};

/* Starts following path from byte from (-1, or past its end: its end). */
void logtail_open(struct logtail *t, const char *path, long long from);

/* Reads up to size bytes appended since the last read into buf; returns how many (0: nothing new). A file
 * replaced (LogReset keeps its last lines in a new one) or cut shorter is followed from its new end, so no byte is
 * read twice, and t->replaced is set; a file rotated (renamed to log.txt.1, logsink.h) is read to its end, then the
 * new one from its start, so no line is lost; a file that appears where there was none is read from its start. */
size_t logtail_read(struct logtail *t, char *buf, size_t size);

void logtail_close(struct logtail *t);

#endif
