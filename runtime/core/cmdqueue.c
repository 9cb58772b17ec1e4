/*
 * cmdqueue.c: the bot's queue of interactive commands (see cmdqueue.h for the layout).
 */
#include "core/cmdqueue.h"
#include "core/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define NAME_LEN 37     /* 20 digits, '-', 16 hex digits */

static int is_command(const char *name)
{
    if (strlen(name) != NAME_LEN || name[20] != '-')
        return 0;
    for (int i = 0; i < NAME_LEN; i++)
        if (i != 20 && !((name[i] >= '0' && name[i] <= '9') || (i > 20 && name[i] >= 'a' && name[i] <= 'f')))
            return 0;
    return 1;
}

/* The oldest command's name into first (when not NULL); returns how many are queued, or -1 (errno) */
static int scan(const char *dir, char first[NAME_LEN + 1])
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (is_command(e->d_name)) {
            if (first && (n == 0 || strcmp(e->d_name, first) < 0))
                memcpy(first, e->d_name, NAME_LEN + 1);
            n++;
        }
    closedir(d);
    return n;
}

int cmdq_send(const char *bot_dir, const char *id, const char *text, size_t len, char *err, size_t errlen)
{
    if (len == 0 || len > CMDQ_MAX_BYTES) {
        snprintf(err, errlen, "a command is 1 to %d bytes, not %zu", CMDQ_MAX_BYTES, len);
        return -1;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/lock", bot_dir);
    long holder;
    int held = fs_lock_holder(path, &holder, NULL, 0);
    if (held < 0) {
        snprintf(err, errlen, "bot '%s' has never run in this data dir (%s: %s); is --data-dir the bot's?", id,
                 path, strerror(errno));
        return -1;
    }
    if (!held) {
        snprintf(err, errlen, "bot '%s' is not running: commands go to a running bot", id);
        return -1;
    }
    snprintf(path, sizeof path, "%s/commands", bot_dir);
    if (fs_safe_dir(path, "commands folder", -1, err, errlen) != 0)
        return -1;
    int queued = scan(path, NULL);
    if (queued >= CMDQ_MAX_QUEUED) {
        snprintf(err, errlen, "bot '%s' has %d commands waiting, the most allowed: it must take some with "
                 "GetCommand first", id, queued);
        return -1;
    }
    uint64_t r;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) {
        snprintf(err, errlen, "getrandom failed: %s", strerror(errno));
        return -1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    size_t n = strlen(path);
    snprintf(path + n, sizeof path - n, "/%020lld-%016llx",
             (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, (unsigned long long)r);
    return fs_write_new(path, text, len, err, errlen);
}

int cmdq_take(const char *bot_dir, char **out, size_t *len, char *err, size_t errlen)
{
    char dir[4200], path[4300], first[NAME_LEN + 1];
    snprintf(dir, sizeof dir, "%s/commands", bot_dir);
    int n = scan(dir, first);
    if (n <= 0) {
        if (n < 0)
            snprintf(err, errlen, "cannot read %s: %s", dir, strerror(errno));
        return n;
    }
    snprintf(path, sizeof path, "%s/%s", dir, first);
    int rc = fs_read_all(path, CMDQ_MAX_BYTES, out, len, err, errlen);
    unlink(path);   /* taken, or unreadable (never retried forever) */
    return rc == 0 ? 1 : -1;
}
