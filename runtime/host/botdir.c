/*
 * botdir.c: the bots of a data dir as their folders show them (botdir.h).
 */
#include "host/botdir.h"
#include "core/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int botdir_look(const char *data_dir, const char *id, struct botinfo *s)
{
    char path[PATH_MAX + 128];
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", id);
    snprintf(path, sizeof path, "%s/bots/%s/lock", data_dir, id);
    int held = fs_lock_holder(path, &s->pid, s->script, sizeof s->script);
    if (held < 0)
        return -1;
    s->held = held;
    struct stat st;
    if (stat(path, &st) == 0)
        s->since = st.st_mtime;
    return 0;
}

static int by_id(const void *a, const void *b)
{
    return strcmp(((const struct botinfo *)a)->id, ((const struct botinfo *)b)->id);
}

struct botinfo *botdir_list(const char *data_dir, int *n)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/bots", data_dir);
    *n = 0;
    DIR *d = opendir(path);
    if (!d)
        return NULL;
    struct botinfo *list = NULL;
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (id_check(e->d_name, strlen(e->d_name)))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            struct botinfo *nl = realloc(list, (size_t)cap * sizeof *nl);
            if (!nl)
                break;
            list = nl;
        }
        if (botdir_look(data_dir, e->d_name, &list[*n]) == 0)
            (*n)++;
    }
    closedir(d);
    errno = 0;      /* a bots folder with no bot in it */
    if (list)
        qsort(list, (size_t)*n, sizeof *list, by_id);
    return list;
}

void botdir_last_line(const char *data_dir, const char *id, char *buf, size_t size)
{
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/bots/%s/log.txt", data_dir, id);
    buf[0] = '\0';
    int fd = fs_open_regular(path);    /* a FIFO would block the open */
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        /* Only the file's last size - 1 bytes are read, however long its last line: that line's end. */
        size_t n = (size_t)st.st_size < size - 1 ? (size_t)st.st_size : size - 1;
        ssize_t r = pread(fd, buf, n, st.st_size - (off_t)n);
        n = r > 0 ? (size_t)r : 0;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        buf[n] = '\0';
        char *nl = strrchr(buf, '\n');
        if (nl)
            memmove(buf, nl + 1, strlen(nl + 1) + 1);
    }
    close(fd);
}

void botdir_stamp(time_t t, char *buf, size_t size)
{
    struct tm tm;
    if (!t || !localtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(buf, size, "-");
}

static long long end_of(int fd)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 ? (long long)st.st_size : 0;
}

void logtail_open(struct logtail *t, const char *path, long long from)
{
    snprintf(t->path, sizeof t->path, "%s", path);
    t->fd = fs_open_regular(path);  /* a FIFO would block the open */
    long long end = end_of(t->fd);
    t->pos = from >= 0 && from <= end ? from : end;
    t->replaced = 0;
}

size_t logtail_read(struct logtail *t, char *buf, size_t size)
{
    struct stat now, held;
    if (stat(t->path, &now) != 0)
        return 0;
    int held_ok = t->fd >= 0 && fstat(t->fd, &held) == 0;
    if (!held_ok || now.st_ino != held.st_ino || now.st_dev != held.st_dev || (long long)now.st_size < t->pos) {
        /* Rotated (logsink.h): the file held was renamed to log.txt.1 and is still linked. What it got after the
         * last read is read first; then the new file, from its start. */
        int rotated = held_ok && held.st_nlink > 0 && (now.st_ino != held.st_ino || now.st_dev != held.st_dev);
        if (rotated && (long long)held.st_size > t->pos) {
            ssize_t r = pread(t->fd, buf, size, (off_t)t->pos);
            if (r > 0) {
                t->pos += r;
                return (size_t)r;
            }
        }
        int had = t->fd >= 0;   /* a log that appears where there was none is read from its start */
        if (had)
            close(t->fd);
        t->fd = fs_open_regular(t->path);
        t->pos = had && !rotated ? end_of(t->fd) : 0;
        t->replaced = had && !rotated;
        if (!had || rotated)
            return logtail_read(t, buf, size);
        return 0;
    }
    ssize_t r = pread(t->fd, buf, size, (off_t)t->pos);
    if (r <= 0)
        return 0;
    t->pos += r;
    return (size_t)r;
}

void logtail_close(struct logtail *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}
