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
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
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

static _Atomic long shared_gid = -1;

void fs_set_shared_group(long gid)
{
    shared_gid = gid;
}

long fs_shared_group(void)
{
    return shared_gid;
}

int fs_safe_dir(const char *path, const char *what, long gid, char *err, size_t errlen)
{
    if (fs_mkdirs(path, err, errlen) != 0)
        return -1;
    unsigned me = (unsigned)geteuid();
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && st.st_uid != me && st.st_uid != 0) {
        snprintf(err, errlen, "%s %s is a symlink owned by uid %u, not you (uid %u): remove it", what, path,
                 (unsigned)st.st_uid, me);
        errno = EPERM;
        return -1;
    }
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "cannot read %s %s: %s", what, path, strerror(errno));
        return -1;
    }
    /* A shared folder: 02770 with the group, set by whichever member owns it (only a member can give a folder
     * that group, so a folder of that group is a member's). */
    int shared = gid >= 0 && st.st_gid == (gid_t)gid;
    int only_ours = !(st.st_mode & (S_IWGRP | S_IWOTH));   /* nobody else could have put anything in it */
    if (gid >= 0 && st.st_uid == me && (only_ours || (shared && !(st.st_mode & S_IWOTH))) &&
        (st.st_mode & 07777) != 02770) {
        if ((!shared && chown(path, (uid_t)-1, (gid_t)gid) != 0) || chmod(path, 02770) != 0) {
            snprintf(err, errlen, "cannot give %s %s to group %ld: %s", what, path, gid, strerror(errno));
            return -1;
        }
        shared = 1;
        st.st_mode = S_IFDIR | 02770;
    }
    if (st.st_uid != me && st.st_uid != 0 && !shared) {
        snprintf(err, errlen, "%s %s is owned by uid %u, not you (uid %u): remove it or chown it", what, path,
                 (unsigned)st.st_uid, me);
        errno = EPERM;
        return -1;
    }
    mode_t unsafe = shared ? S_IWOTH : S_IWGRP | S_IWOTH;
    if ((st.st_mode & unsafe) && !(st.st_mode & S_ISVTX)) {
        snprintf(err, errlen, "%s %s is writable by %s (mode %04o): chmod %s %s", what, path,
                 st.st_mode & S_IWOTH ? "others" : "its group", (unsigned)(st.st_mode & 07777),
                 shared ? "o-w" : "go-w", path);
        errno = EPERM;
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

int fs_append_whole(int fd, const void *data, size_t len)
{
    ssize_t w = write(fd, data, len);
    if (w == (ssize_t)len)
        return 0;
    int e = w < 0 ? errno : ENOSPC;
    if (w > 0) {
        off_t end = lseek(fd, 0, SEEK_CUR);     /* O_APPEND: just after the part written */
        if (end >= w && ftruncate(fd, end - w) != 0) { /* nothing more to try: the next start trims it */ }
    }
    errno = e;
    return -1;
}

int fs_append_file(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    int rc = fs_append_whole(fd, data, len), e = errno;
    if (rc != 0)
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
    close(fd);
    errno = e;
    return rc;
}

static _Atomic int durable = 1;

void fs_set_fsync(int on)
{
    durable = on;
}

/* Creates a new temp file beside path, named .NAME.RANDOM.PID.tmp: O_EXCL and O_NOFOLLOW, so a file or symlink
 * planted under that name is never opened, and a random part nobody can guess in advance. */
static int create_temp(const char *path, int mode, char *tmp, size_t tmplen, char *err, size_t errlen)
{
    static const char digits[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    for (int tries = 0; tries < 16; tries++) {
        unsigned char r[12];
        char rnd[sizeof r + 1];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
            snprintf(err, errlen, "cannot write %s: no random bytes: %s", path, strerror(errno));
            return -1;
        }
        for (size_t i = 0; i < sizeof r; i++)
            rnd[i] = digits[r[i] % (sizeof digits - 1)];
        rnd[sizeof r] = '\0';
        if (snprintf(tmp, tmplen, "%.*s.%s.%s.%ld.tmp", dirlen, path, slash ? slash + 1 : path, rnd, (long)getpid())
            >= (int)tmplen) {
            snprintf(err, errlen, "path too long: %.80s", path);
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 && mode != 0600 && fchmod(fd, (mode_t)mode) != 0) {     /* whatever the umask */
            snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            return -1;
        }
        if (fd >= 0)
            return fd;
        if (errno != EEXIST) {
            snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
            return -1;
        }
    }
    snprintf(err, errlen, "cannot write %s: 16 random temp names were all taken", path);
    errno = EEXIST;
    return -1;
}

/* fsync of the folder holding path, so that a rename or link into it survives a power loss. */
static int sync_parent(const char *path)
{
    char dir[4200];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd) != 0 && errno != EINVAL ? -1 : 0;     /* EINVAL: a filesystem that syncs no folders */
    close(fd);
    return rc;
}

/* Writes data to a new temp file beside path and syncs it when sync; returns 0 with its name in tmp. */
static int write_temp(const char *path, const void *data, size_t len, int mode, int sync, char *tmp,
                      size_t tmplen, char *err, size_t errlen)
{
    int fd = create_temp(path, mode, tmp, tmplen, err, errlen);
    if (fd < 0)
        return -1;
    int rc = write_full(fd, data, len) != 0 || (sync && fsync(fd) != 0) ? -1 : 0, e = errno;
    if (close(fd) != 0 && rc == 0)
        rc = -1, e = errno;
    if (rc != 0) {
        unlink(tmp);
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(e));
        errno = e;
        return -1;
    }
    return 0;
}

int fs_temp_open(const char *path, int mode, char *tmp, size_t tmplen, char *err, size_t errlen)
{
    return create_temp(path, mode, tmp, tmplen, err, errlen);
}

void fs_temp_abandon(int fd, const char *tmp)
{
    close(fd);
    unlink(tmp);
}

/* Puts the temp file tmp (closed) at path: rename(2) over what is there when replace, else link(2), which never
 * replaces (of two writers, exactly one creates path); then syncs the folder when sync. The temp name is gone
 * either way. */
static int place(const char *tmp, const char *path, int replace, int sync, char *err, size_t errlen)
{
    int rc = replace ? rename(tmp, path) : link(tmp, path), e = errno;
    if (rc != 0 || !replace)
        unlink(tmp);
    if (rc != 0) {
        if (e == EEXIST && !replace)
            snprintf(err, errlen, "%s exists already", path);
        else
            snprintf(err, errlen, "cannot %s %s: %s", replace ? "replace" : "create", path, strerror(e));
        errno = e;
        return -1;
    }
    if (sync && sync_parent(path) != 0) {
        e = errno;
        snprintf(err, errlen, "wrote %s, but cannot sync its folder: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    return 0;
}

int fs_temp_commit(int fd, const char *tmp, const char *path, int replace, char *err, size_t errlen)
{
    int rc = durable && fsync(fd) != 0 ? -1 : 0, e = errno;
    if (close(fd) != 0 && rc == 0)
        rc = -1, e = errno;
    if (rc != 0) {
        unlink(tmp);
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(e));
        errno = e;
        return -1;
    }
    return place(tmp, path, replace, durable, err, errlen);
}

int fs_write_all(int fd, const void *data, size_t len)
{
    return write_full(fd, data, len);
}

int fs_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    return fs_write_atomic_mode(path, data, len, 0600, 0, err, errlen);
}

int fs_write_atomic_mode(const char *path, const void *data, size_t len, int mode, int flags, char *err,
                         size_t errlen)
{
    char tmp[4200];
    int sync = durable && !(flags & FS_VOLATILE);
    if (write_temp(path, data, len, mode, sync, tmp, sizeof tmp, err, errlen) != 0)
        return -1;
    return place(tmp, path, 1, sync, err, errlen);
}

int fs_write_new(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    return fs_write_new_mode(path, data, len, 0600, 0, err, errlen);
}

int fs_write_new_mode(const char *path, const void *data, size_t len, int mode, int flags, char *err,
                      size_t errlen)
{
    char tmp[4200];
    int sync = durable && !(flags & FS_VOLATILE);
    if (write_temp(path, data, len, mode, sync, tmp, sizeof tmp, err, errlen) != 0)
        return -1;
    return place(tmp, path, 0, sync, err, errlen);
}

int fs_lock_pid(const char *path, int mode, long *holder, char *err, size_t errlen)
{
    *holder = 0;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == geteuid() && (int)(st.st_mode & 0777) != mode &&
        fchmod(fd, (mode_t)mode) != 0) { /* the umask's bits, or a folder not shared before: best effort */ }
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    /* A tool asking whether the lock is held (fs_lock_holder) holds it shared for a moment: waited out, up to 50
     * ms, where a running holder holds it for good. */
    int taken = 0;
    for (int i = 0; i < 10 && !(taken = flock(fd, LOCK_EX | LOCK_NB) == 0) && errno == EWOULDBLOCK; i++) {
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
    }
    if (!taken) {
        int e = errno;
        char text[32] = "";
        ssize_t n = pread(fd, text, sizeof text - 1, 0);
        close(fd);
        *holder = n > 0 ? strtol(text, NULL, 10) : 0;
        snprintf(err, errlen, "another process holds %s", path);
        errno = e;
        return -1;
    }
    char text[32];
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    /* Written over, then cut to its length: a file cut to nothing first is flushed to disk when it is closed (ext4's
     * auto_da_alloc), which cost every process's exit a write-back. Its first line is whole at every moment. */
    if (pwrite(fd, text, (size_t)n, 0) != n || ftruncate(fd, n) != 0) {
        int e = errno;
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

off_t fs_tail_start(int fd, off_t size, long long keep, off_t floor)
{
    char chunk[64 * 1024];
    long long lines = 0;
    if (floor < 0)
        floor = 0;
    for (off_t pos = size; pos > floor;) {
        size_t n = pos - floor > (off_t)sizeof chunk ? sizeof chunk : (size_t)(pos - floor);
        pos -= (off_t)n;
        if (pread(fd, chunk, n, pos) != (ssize_t)n)
            return -1;
        for (size_t i = n; i-- > 0;)
            if (chunk[i] == '\n' && pos + (off_t)i != size - 1 && ++lines == keep)
                return pos + (off_t)i + 1;
    }
    return floor;
}

int fs_keep_last_lines(const char *path, long long keep, int flags, off_t *kept, char *err, size_t errlen)
{
    char *text = NULL;
    off_t size = 0, from = 0;
    int fd = keep > 0 ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
    if (fd < 0 && keep > 0 && errno != ENOENT) {
        int e = errno;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    if (fd >= 0) {
        struct stat st;
        int ok = fstat(fd, &st) == 0 && (size = st.st_size, from = fs_tail_start(fd, size, keep, 0)) >= 0 &&
                 (text = malloc((size_t)(size - from) + 1)) != NULL &&
                 pread(fd, text, (size_t)(size - from), from) == (ssize_t)(size - from);
        int e = errno;
        close(fd);
        if (!ok) {
            free(text);
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
            errno = e;
            return -1;
        }
    }
    int rc = fs_write_atomic_mode(path, text ? text : "", (size_t)(size - from), 0600, flags, err, errlen);
    free(text);
    if (rc == 0 && kept)
        *kept = size - from;
    return rc;
}

int fs_open_regular(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        int e = fstat(fd, &st) != 0 ? errno : EINVAL;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int fs_lock_holder(const char *path, long *holder, char *note, size_t notelen)
{
    *holder = 0;
    if (note && notelen)
        note[0] = '\0';
    int fd = fs_open_regular(path);
    if (fd < 0)
        return -1;
    /* The holder has an exclusive flock: a shared one is refused while it holds it. A shared one taken for this
     * instant makes a holder starting at the same instant fail, so it is let go at once. */
    int held = flock(fd, LOCK_SH | LOCK_NB) != 0;
    if (!held)
        flock(fd, LOCK_UN);
    char text[4200];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    close(fd);
    if (n > 0) {
        text[n] = '\0';
        if (held)
            *holder = strtol(text, NULL, 10);
        char *nl = strchr(text, '\n');
        if (note && notelen && nl) {
            size_t len = strcspn(nl + 1, "\n");
            snprintf(note, notelen, "%.*s", (int)len, nl + 1);
        }
    }
    return held;
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
