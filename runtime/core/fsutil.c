/* fsutil.c: atomic file replacement, bounded whole-file reads, mkdir -p, checksums. */
#include "core/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_mkdirs(const char *path, char *err, size_t errlen)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        snprintf(err, errlen, "path too long: %.80s", path);
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create folder %s: %s", buf, strerror(errno));
                return -1;
            }
            if (c == '\0')
                break;
            *p = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a folder", path);
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static int write_full(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int fs_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    char tmp[4200];
    /* The temp name starts with '.' and ends in .tmp so readers of the folder skip it; the pid keeps two writers
     * of the same file from sharing one. */
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    if (snprintf(tmp, sizeof tmp, "%.*s.%s.%ld.tmp", dirlen, path, slash ? slash + 1 : path, (long)getpid())
        >= (int)sizeof tmp) {
        snprintf(err, errlen, "path too long: %.80s", path);
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (write_full(fd, data, len) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(e));
        errno = e;
        return -1;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        snprintf(err, errlen, "cannot replace %s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    return 0;
}

void fs_sweep_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        size_t len = strlen(n);
        if (n[0] != '.' || len < 6 || strcmp(n + len - 4, ".tmp") != 0)
            continue;
        const char *p = n + len - 5;
        while (p > n && *p >= '0' && *p <= '9')
            p--;
        long pid = *p == '.' ? strtol(p + 1, NULL, 10) : 0;
        if (pid > 0 && pid <= INT_MAX && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
            unlinkat(dirfd(d), n, 0);
    }
    closedir(d);
}

int fs_read_all(const char *path, size_t max, char **out, size_t *outlen, char *err, size_t errlen)
{
    /* O_NONBLOCK: a FIFO (or a device) in place of the file must be refused below, not wait for a writer. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        close(fd);
        if (S_ISREG(st.st_mode)) {
            snprintf(err, errlen, "%s is %lld bytes, more than the %zu allowed", path, (long long)st.st_size, max);
            errno = EFBIG;
        } else {
            snprintf(err, errlen, "%s is not a regular file", path);
            errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;     /* never a stale ENOENT: callers read "no file" */
        }
        return -1;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    if (!buf) {
        close(fd);
        snprintf(err, errlen, "out of memory reading %s", path);
        errno = ENOMEM;
        return -1;
    }
    /* Read until EOF even if the file grew, but never past max. */
    for (;;) {
        size_t room = (size_t)st.st_size - got;
        if (room == 0)
            break;
        ssize_t r = read(fd, buf + got, room);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
            errno = e;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    *outlen = got;
    return 0;
}

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t fs_crc32(const void *data, size_t len)
{
    pthread_once(&crc_once, crc_init);
    const uint32_t *table = crc_table;
    const unsigned char *p = data;
    uint32_t c = 0xFFFFFFFFu;
    while (len--)
        c = table[(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

uint64_t fs_fnv1a(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    while (len--) {
        h ^= *p++;
        h *= 1099511628211ull;
    }
    return h;
}
