/*
 * backend_local.c: serverless channels for bots in any number of processes on one host.
 *
 * One file per channel in the channel folder, named by the channel ID (IDs are [A-Za-z0-9_-] only, so a name
 * never leaves the folder). A publisher writes a temp file and rename(2)s it over the channel file, so a reader
 * sees the old state or the new one, never a torn one, even if the publisher is killed mid-write. Followers
 * learn of a rename through inotify on the folder: no polling. docs/channels.md has the measurements behind
 * this choice.
 *
 * A file holds one framed state (chanframe.h). Anything else (a foreign file, a truncated one, one over the size
 * limit) is skipped with one warning.
 *
 * In front of the files, the slot table of the folder (chanslots.h): a publisher writes the slot and rings the
 * doorbells of the processes following the channel, then the file, at most once every FILE_EVERY_MS (the newest
 * state always ends up in it: at the next write, at a timer, at close). A follower registered on a slot reads it
 * when its doorbell rings. While every channel it follows has its doorbell, its watch leaves out the renames
 * (WATCH_SELF): they would wake it for every publisher's file; once a second it looks at the files of its channels
 * instead, when the folder changed (a publisher without the table, a file put there by hand). A channel followed
 * without a slot puts the renames back in the watch.
 */
#include "core/backend.h"
#include "core/chanframe.h"
#include "core/chanid.h"
#include "core/chanslots.h"
#include "core/clock.h"
#include "core/fsutil.h"
#include "core/logsink.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Renames into the folder (every publish), and the folder itself going away; IN_ONLYDIR: a file put in the
 * folder's place is not taken for the folder come back. */
#define WATCH_MASK (IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
/* The folder alone: while every channel followed has a slot with this process's doorbell. */
#define WATCH_SELF (IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
/* A file or folder modified this close (ns) to when it was looked at may change again within the same tick of the
 * file system's clock, unseen in its time: it is looked at again at the next check. The tick is a jiffy on tmpfs
 * and ext4 with large inodes, but 1 s on ext3, ext4 with 128-byte inodes and HFS+, 2 s on FAT: two renames in one
 * second there leave the folder's time as it was, and a window of 50 ms lost the second state for good. */
#define RACY_NS 2000000000
#define FILE_MAX CHANFRAME_MAX
/* A channel with a slot has its file rewritten at most this often: each rename wakes every process watching the
 * folder (inotify), which is what the slots spare them. */
#define FILE_EVERY_MS 5000

struct sub {
    char id[ID_MAX + 1];
    int warned;     /* a warning was given for its file; reset by the next valid state read from the file (not
                     * from the slot: a file still bad while the slot carries states is the same episode, and the
                     * check of the folder each second reads it again while it is recent) */
    int slot;       /* its slot with this process's doorbell on it, or -1: followed by its file alone */
    uint32_t version;   /* the slot's seqlock counter last read */
    ino_t file_ino;     /* its file when last looked at (check_files): inode, size, mtime in ns, 0: look again */
    off_t file_size;
    int64_t file_mtime;
};

struct out {                    /* a channel this process published */
    char id[ID_MAX + 1];
    int slot;                   /* -1: none (no table, or the table is full): the file is written every time */
    int pending;                /* frame waits to be written to the file, at file_at */
    int64_t file_at;            /* CLOCK_MONOTONIC ms: the file may be written again from then */
    size_t n;
    char frame[FILE_MAX];
};

struct local {
    char dir[PATH_MAX];
    int ino;
    int watch;                  /* -1 while the folder is gone: retried every second, from next_try on */
    int64_t next_try;           /* CLOCK_MONOTONIC ms */
    const struct backend_host *host;
    int write_failing;
    int seq_failing;            /* saving a seq floor failed (said once) */
    struct sub *subs;
    size_t nsubs, cap;
    size_t slotless;            /* of the subs, those with slot -1 */
    size_t *index;              /* open addressing over subs by FNV-1a of the ID: 1 + the sub's place, 0 empty */
    size_t icap;                /* a power of two, at least twice nsubs */
    dev_t dev;                  /* the folder watched: a folder removed while a file in it is held open gives */
    ino_t dir_ino;              /* no IN_DELETE_SELF, so its path is also checked once a second (next_check) */
    int64_t dir_mtime;          /* ns, when last checked; 0: look at the files at the next check */
    int64_t next_check;
    int renames;                /* the watch has IN_MOVED_TO (WATCH_MASK), not WATCH_SELF alone */
    pthread_mutex_t locks_mu;   /* local_claim (main thread) against the engine thread's re-take */
    struct chan_lock *locks;    /* the channels this process publishes (local_claim) */
    size_t nlocks;
    struct chanslots *slots;    /* NULL: the channel files alone */
    int slots_warned;
    struct out *outs;
    size_t nouts;
};

struct chan_lock {
    char id[ID_MAX + 1];
    int fd;                     /* an flock on .ID.lock in the folder, or -1 */
};

static void attach_slots(struct local *l, int missing_only);
static void set_watch(struct local *l);
static void reopen_slots(struct local *l);
static void flush_due(struct local *l, int64_t now);

static int64_t ns_of(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* mtime, or 0 when it is so recent that it may change again unseen (RACY_NS). */
static int64_t settled_mtime(const struct stat *st)
{
    int64_t m = ns_of(st->st_mtim);
    return clock_wall_us() * 1000 - m < RACY_NS ? 0 : m;
}

/* Remembers which folder the new watch (WATCH_MASK) is on. */
static void watched(struct local *l)
{
    struct stat st;
    if (stat(l->dir, &st) == 0) {
        l->dev = st.st_dev;
        l->dir_ino = st.st_ino;
    }
    l->dir_mtime = 0;
    l->renames = 1;
    l->next_check = clock_mono_ms() + 1000;
}

/* The lock beside the channel file: .ID.lock, skipped by followers (a leading '.') and by the temp sweep (no .tmp),
 * holding the publisher's PID. Group-writable in a shared folder, so that each member's process can lock it.
 * Returns the locked descriptor, or -1 with one line in err naming the holder. */
static int take_lock(struct local *l, const char *id, char *err, size_t errlen)
{
    char path[PATH_MAX + ID_MAX + 16];
    snprintf(path, sizeof path, "%s/.%s.lock", l->dir, id);
    long holder;
    int fd = fs_lock_pid(path, fs_shared_group() >= 0 ? 0660 : 0600, &holder, err, errlen);
    if (fd < 0 && holder > 0)
        snprintf(err, errlen, "channel %s is already published by process %ld (it holds %s): give this bot "
                 "another ID or another channel folder", id, holder, path);
    return fd;
}

static int local_claim(void *be, const char *id, char *err, size_t errlen)
{
    struct local *l = be;
    pthread_mutex_lock(&l->locks_mu);
    struct chan_lock *nl = realloc(l->locks, (l->nlocks + 1) * sizeof *nl);
    int fd = -1;
    if (!nl)
        snprintf(err, errlen, "out of memory");
    else if ((l->locks = nl, fd = take_lock(l, id, err, errlen)) >= 0) {
        snprintf(nl[l->nlocks].id, sizeof nl->id, "%s", id);
        nl[l->nlocks++].fd = fd;
    }
    pthread_mutex_unlock(&l->locks_mu);
    return fd >= 0 ? 0 : -1;
}

/* The folder is back (made again): the locks went with the old one; take them again in the new one. */
static void retake_locks(struct local *l)
{
    pthread_mutex_lock(&l->locks_mu);
    for (size_t i = 0; i < l->nlocks; i++) {
        char err[PATH_MAX + 512];     /* room for the path: the message is never cut */
        if (l->locks[i].fd >= 0)
            close(l->locks[i].fd);
        if ((l->locks[i].fd = take_lock(l, l->locks[i].id, err, sizeof err)) < 0)
            log_thread_warning("%s", err);
    }
    pthread_mutex_unlock(&l->locks_mu);
}

/* inotify_init1 failed with EMFILE: the process's descriptors (ulimit -n) or the user's inotify instances. A
 * descriptor that can still be opened tells them apart; the latter is said with its sysctl (1: err is set). */
static int inotify_limit(char *err, size_t errlen)
{
    int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    close(fd);
    char limit[32] = "?";
    FILE *f = fopen("/proc/sys/fs/inotify/max_user_instances", "re");
    if (f) {
        if (!fgets(limit, sizeof limit, f))
            snprintf(limit, sizeof limit, "?");
        limit[strcspn(limit, "\n")] = '\0';
        fclose(f);
    }
    snprintf(err, errlen, "cannot watch the channel folder: this user has all the inotify instances the kernel "
             "allows (sysctl fs.inotify.max_user_instances = %s; one per stratrun process on the local backend): "
             "raise it, e.g. sysctl -w fs.inotify.max_user_instances=1024", limit);
    errno = EMFILE;
    return 1;
}

/* Maps the folder's slot table; without one (said once) the channel files alone carry the states. */
static void open_slots(struct local *l)
{
    char err[PATH_MAX + 256] = "";
    l->slots = slots_open(l->dir, err, sizeof err);
    if (!l->slots && !l->slots_warned && err[0])
        log_thread_warning("%s: channels in %s go by their files alone", err, l->dir);
    l->slots_warned = !l->slots;
}

static void *local_open(const char *arg, const char *data_dir, const struct backend_host *host, char *err,
                        size_t errlen)
{
    struct local *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->host = host;
    l->ino = -1;
    pthread_mutex_init(&l->locks_mu, NULL);
    int n = arg[0] ? snprintf(l->dir, sizeof l->dir, "%s", arg)
                   : snprintf(l->dir, sizeof l->dir, "%s/channels", data_dir);
    if (n <= 0 || (size_t)n >= sizeof l->dir - ID_MAX - 32) {
        snprintf(err, errlen, "channel folder path too long: %.80s", arg[0] ? arg : data_dir);
        goto fail;
    }
    if (fs_safe_dir(l->dir, "channel folder", fs_shared_group(), err, errlen) != 0)
        goto fail;
    l->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (l->ino < 0 && errno == EMFILE && inotify_limit(err, errlen))
        goto fail;
    if (l->ino < 0 || (l->watch = inotify_add_watch(l->ino, l->dir, WATCH_MASK)) < 0) {
        snprintf(err, errlen, "cannot watch channel folder %s: %s", l->dir, strerror(errno));
        goto fail;
    }
    watched(l);
    fs_sweep_temp_files(l->dir);
    open_slots(l);
    return l;
fail:
    if (l->ino >= 0)
        close(l->ino);
    free(l);
    return NULL;
}

/* The slot of id in l->index: its entry, or the empty slot where it goes. A hash, not a scan: following N
 * channels costs O(N), not O(N^2) (100k follows took 14 s). */
static size_t *sub_slot(struct local *l, const char *id)
{
    size_t mask = l->icap - 1;
    for (size_t i = (size_t)fs_fnv1a(id, strlen(id)) & mask;; i = (i + 1) & mask)
        if (!l->index[i] || strcmp(l->subs[l->index[i] - 1].id, id) == 0)
            return &l->index[i];
}

static struct sub *find_sub(struct local *l, const char *id)
{
    if (!l->icap)
        return NULL;
    size_t *slot = sub_slot(l, id);
    return *slot ? &l->subs[*slot - 1] : NULL;
}

/* Makes room for one more sub in subs and in the index; -1 when out of memory. */
static int grow_subs(struct local *l)
{
    if (l->nsubs == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct sub *ns = realloc(l->subs, cap * sizeof *ns);
        if (!ns)
            return -1;
        l->subs = ns;
        l->cap = cap;
    }
    if ((l->nsubs + 1) * 2 > l->icap) {
        size_t icap = l->icap ? l->icap * 2 : 64;
        size_t *ni = calloc(icap, sizeof *ni);
        if (!ni)
            return -1;
        free(l->index);
        l->index = ni;
        l->icap = icap;
        for (size_t i = 0; i < l->nsubs; i++)
            *sub_slot(l, l->subs[i].id) = i + 1;
    }
    return 0;
}

static void warn_once(struct local *l, const char *id, const char *why)
{
    struct sub *s = find_sub(l, id);
    if (s && s->warned)
        return;
    if (s)
        s->warned = 1;
    log_thread_warning("channel %s: skipped %s/%s: %s", id, l->dir, id, why);
}

/* Reads and checks the channel file of id. Returns 1 with the state, 0 when there is no file, -1 (warned) when
 * the file is not a valid channel state. */
static int read_state(struct local *l, const char *id, char *buf, const char **json, size_t *len, int64_t *seq,
                      int64_t *published, int warn)
{
    char path[PATH_MAX + ID_MAX + 2];
    snprintf(path, sizeof path, "%s/%s", l->dir, id);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno != ENOENT && warn)
            warn_once(l, id, strerror(errno));
        return errno == ENOENT ? 0 : -1;
    }
    /* One byte more than a valid file can have: a larger file is refused before anything is decoded. */
    ssize_t n = read(fd, buf, FILE_MAX + 1);
    close(fd);
    struct chanframe f;
    const char *why = n < 0 ? strerror(errno) : chanframe_parse(buf, (size_t)n, &f);
    if (why) {
        if (warn)
            warn_once(l, id, why);
        return -1;
    }
    struct sub *s = find_sub(l, id);
    if (s)
        s->warned = 0;
    *json = f.json;
    *len = f.len;
    *seq = f.seq;
    *published = f.published;
    return 1;
}

static void deliver_file(struct local *l, const char *id)
{
    char buf[FILE_MAX + 1];
    const char *json;
    size_t len;
    int64_t seq, published;
    if (read_state(l, id, buf, &json, &len, &seq, &published, 1) == 1)
        l->host->deliver(l->host->ctx, id, json, len, seq, published, clock_wall_us());
}

/* Delivers the state in s's slot if it changed since it was last read. A slot a publisher was killed while
 * writing (or one somebody scribbled on) is not trusted: the channel file, written after the slot, has the state
 * before it. */
static void deliver_slot(struct local *l, struct sub *s)
{
    char buf[FILE_MAX + 1];
    uint32_t v;
    long n = slots_read(l->slots, s->slot, buf, &v);
    int fresh = v != s->version;
    s->version = v;
    if (!fresh || n == 0)
        return;
    struct chanframe f;
    const char *why = n < 0 ? "" : chanframe_parse(buf, (size_t)n, &f);
    if (!why) {
        l->host->deliver(l->host->ctx, s->id, f.json, f.len, f.seq, f.published, clock_wall_us());
        return;
    }
    if (*why)
        warn_once(l, s->id, why);
    deliver_file(l, s->id);
}

/* Puts this process's doorbell on the slot of s (taken if the channel has none yet): -1 without a table, or
 * when the table or the slot's doorbells are all taken, and s is followed by its file alone. */
static void follow_slot(struct local *l, struct sub *s)
{
    int i = l->slots ? slots_find(l->slots, s->id, 1) : -1;
    l->slotless -= s->slot < 0;
    s->slot = i >= 0 && slots_follow(l->slots, i) == 0 ? i : -1;
    l->slotless += s->slot < 0;
    s->version = 0;
    if (s->slot >= 0)
        deliver_slot(l, s);
}

static int local_pollfds(void *be, struct pollfd *fds, int max)
{
    struct local *l = be;
    int bell = l->slots ? slots_bell_fd(l->slots) : -1;
    fds[0] = (struct pollfd){l->ino, POLLIN, 0};
    if (bell >= 0 && max > 1)
        fds[1] = (struct pollfd){bell, POLLIN, 0};
    return bell >= 0 && max > 1 ? 2 : 1;
}

static void local_subscribe(void *be, const char *id)
{
    struct local *l = be;
    struct sub *s = find_sub(l, id);
    if (!s) {
        if (grow_subs(l) != 0)
            return;
        s = &l->subs[l->nsubs];
        memset(s, 0, sizeof *s);
        strncpy(s->id, id, ID_MAX);
        *sub_slot(l, id) = ++l->nsubs;
        s->slot = -1;
        l->slotless++;
        follow_slot(l, s);
        set_watch(l);
    }
    deliver_file(l, id);
}

/* An absolute deadline: a bot that wakes the engine more often than once a second must not put the retry off. */
static int local_timeout(void *be)
{
    struct local *l = be;
    int64_t at = l->watch >= 0 ? l->next_check : l->next_try;
    for (size_t i = 0; i < l->nouts; i++)
        if (l->outs[i].pending && l->outs[i].file_at < at)
            at = l->outs[i].file_at;
    int64_t left = at - clock_mono_ms();
    return left <= 0 ? 0 : left > 1000 ? 1000 : (int)left;
}

/* The watch takes the renames while a followed channel has no doorbell (or there is no table), else the folder
 * alone; from WATCH_SELF to WATCH_MASK the files of the channels are read, as a rename may have gone unseen. */
static void set_watch(struct local *l)
{
    int want = !l->slots || l->slotless > 0;
    if (l->watch < 0 || want == l->renames)
        return;
    int wd = inotify_add_watch(l->ino, l->dir, want ? WATCH_MASK : WATCH_SELF);
    if (wd != l->watch) {
        /* The path is another folder now (or gone): the check of its path will say so; the watch stays as it was. */
        if (wd >= 0)
            inotify_rm_watch(l->ino, wd);
        return;
    }
    l->renames = want;
    if (want)
        for (size_t i = 0; i < l->nsubs; i++)
            deliver_file(l, l->subs[i].id);
    else
        l->dir_mtime = 0;
}

/* Without the renames in the watch: once a second, if the folder changed, the files of the followed channels that
 * changed are read (a publisher without the table renames each state; the engine keeps a state only if newer). */
static void check_files(struct local *l, const struct stat *dir)
{
    int64_t m = ns_of(dir->st_mtim);
    if (m == l->dir_mtime)
        return;
    l->dir_mtime = settled_mtime(dir);
    char path[PATH_MAX + ID_MAX + 2];
    for (size_t i = 0; i < l->nsubs; i++) {
        struct sub *s = &l->subs[i];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", l->dir, s->id);
        if (lstat(path, &st) != 0 || (st.st_ino == s->file_ino && st.st_size == s->file_size
                                      && ns_of(st.st_mtim) == s->file_mtime))
            continue;
        s->file_ino = st.st_ino;
        s->file_size = st.st_size;
        s->file_mtime = settled_mtime(&st);
        deliver_file(l, s->id);
    }
}

static void folder_gone(struct local *l)
{
    /* The folder was removed or moved: watch its path again once it is back (local_timeout). */
    log_thread_warning("channel folder %s was removed or moved; following resumes when it is back", l->dir);
    inotify_rm_watch(l->ino, l->watch);
    l->watch = -1;
    l->next_try = clock_mono_ms() + 1000;
}

static void local_service(void *be)
{
    struct local *l = be;
    if (l->watch < 0 && clock_mono_ms() >= l->next_try) {
        if ((l->watch = inotify_add_watch(l->ino, l->dir, WATCH_MASK)) >= 0) {
            log_thread_warning("channel folder %s is back; following it again", l->dir);
            watched(l);
            retake_locks(l);
            reopen_slots(l);
            for (size_t i = 0; i < l->nsubs; i++)
                deliver_file(l, l->subs[i].id);
        } else {
            l->next_try = clock_mono_ms() + 1000;
        }
    }
    if (l->watch >= 0 && clock_mono_ms() >= l->next_check) {
        struct stat st;
        l->next_check = clock_mono_ms() + 1000;
        if (stat(l->dir, &st) != 0 || st.st_dev != l->dev || st.st_ino != l->dir_ino) {
            folder_gone(l);
        } else {
            if (!l->slots || slots_replaced(l->slots))
                reopen_slots(l);
            else if (slots_retry(l->slots))
                attach_slots(l, 1);     /* the channels that found the table's lock held elsewhere */
            set_watch(l);
            if (!l->renames)
                check_files(l, &st);
        }
        if (l->slots)
            slots_prune(l->slots);
    }
    if (l->slots) {
        slots_drain_bell(l->slots);
        for (size_t i = 0; i < l->nsubs; i++)
            if (l->subs[i].slot >= 0 && slots_version(l->slots, l->subs[i].slot) != l->subs[i].version)
                deliver_slot(l, &l->subs[i]);
    }
    flush_due(l, clock_mono_ms());
    char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(l->ino, buf, sizeof buf);
        if (n <= 0)
            return;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                /* Events were lost: read every followed channel again. */
                for (size_t i = 0; i < l->nsubs; i++)
                    deliver_file(l, l->subs[i].id);
                continue;
            }
            if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
                if (ev->wd == l->watch)     /* not the late IN_IGNORED of a watch removed before */
                    folder_gone(l);
                continue;
            }
            if (ev->len == 0 || ev->name[0] == '.' || id_check(ev->name, strlen(ev->name)))
                continue;   /* temp files and names that are not channel IDs */
            if (l->host->wanted(l->host->ctx, ev->name))
                deliver_file(l, ev->name);
        }
    }
}

static int write_file(struct local *l, const char *id, const char *buf, size_t n)
{
    char path[PATH_MAX + ID_MAX + 2], err[300];
    snprintf(path, sizeof path, "%s/%s", l->dir, id);
    /* In a folder shared by a group (--group), the other members' processes read it. The latest state only:
     * replaced atomically, not fsynced (FS_VOLATILE). */
    if (fs_write_atomic_mode(path, buf, n, fs_shared_group() >= 0 ? 0640 : 0600, FS_VOLATILE, err,
                             sizeof err) != 0) {
        if (!l->write_failing)
            log_thread_warning("channel %s: %s; will retry", id, err);
        l->write_failing = 1;
        return -1;
    }
    if (l->write_failing)
        log_thread_warning("channel %s: writing works again", id);
    l->write_failing = 0;
    return 0;
}

/* Writes o's newest frame to its file now. */
static int flush_out(struct local *l, struct out *o)
{
    o->pending = 0;
    o->file_at = clock_mono_ms() + FILE_EVERY_MS;
    return write_file(l, o->id, o->frame, o->n);
}

/* The files whose newest state waits and whose time has come (now: CLOCK_MONOTONIC ms; INT64_MAX: all, at close).
 * One that cannot be written is tried again a second later. */
static void flush_due(struct local *l, int64_t now)
{
    for (size_t i = 0; i < l->nouts; i++)
        if (l->outs[i].pending && l->outs[i].file_at <= now && flush_out(l, &l->outs[i]) != 0)
            l->outs[i].pending = 1;
}

/* The channel id this process publishes, added (with its slot) at its first state; NULL when out of memory. */
static struct out *find_out(struct local *l, const char *id)
{
    for (size_t i = 0; i < l->nouts; i++)
        if (strcmp(l->outs[i].id, id) == 0)
            return &l->outs[i];
    struct out *no = realloc(l->outs, (l->nouts + 1) * sizeof *no);
    if (!no)
        return NULL;
    l->outs = no;
    struct out *o = &no[l->nouts++];
    memset(o, 0, offsetof(struct out, frame));
    snprintf(o->id, sizeof o->id, "%s", id);
    o->slot = l->slots ? slots_find(l->slots, id, 1) : -1;
    return o;
}

/* The table was replaced (rebuilt by a process that found it damaged, or the folder was made again): this
 * process's doorbell goes on the new one, and its channels' newest states into it; missing_only: only for the
 * channels without a slot. */
static void attach_slots(struct local *l, int missing_only)
{
    for (size_t i = 0; i < l->nsubs; i++)
        if (!missing_only || l->subs[i].slot < 0)
            follow_slot(l, &l->subs[i]);
    for (size_t i = 0; i < l->nouts; i++) {
        struct out *o = &l->outs[i];
        if (missing_only && o->slot >= 0)
            continue;
        o->slot = l->slots ? slots_find(l->slots, o->id, 1) : -1;
        if (o->slot >= 0 && o->n)
            slots_write(l->slots, o->slot, o->frame, o->n);
    }
}

static void reopen_slots(struct local *l)
{
    slots_close(l->slots);
    open_slots(l);
    attach_slots(l, 0);
}

/* The slot first, and its followers woken; the file after, at most every FILE_EVERY_MS for a channel with a slot.
 * A kill -9 between the two leaves the slot newer than the file: readers and a restarted publisher take the
 * newer of the two. */
static int local_publish(void *be, const char *id, const char *json, size_t len, int64_t seq, int64_t published)
{
    struct local *l = be;
    char buf[FILE_MAX + 1];
    size_t n = chanframe_format(buf, json, len, seq, published);
    struct out *o = find_out(l, id);
    if (!o || o->slot < 0)
        return write_file(l, id, buf, n);
    memcpy(o->frame, buf, n);
    o->n = n;
    slots_write(l->slots, o->slot, buf, n);
    /* While the folder is gone or writes fail, every state goes to the file too, so that the failure is said and
     * the state is written the moment the folder is back. */
    if (clock_mono_ms() < o->file_at && l->watch >= 0 && !l->write_failing) {
        o->pending = 1;
        return 0;
    }
    return flush_out(l, o);
}

/* The seq floor of id lives in the file .ID.seq beside the channel file (a name readers skip), so a restarted
 * publisher continues above it when the channel file was deleted. */
static void seq_path(const struct local *l, const char *id, char *path, size_t size)
{
    snprintf(path, size, "%s/.%s.seq", l->dir, id);
}

static int64_t local_stored_seq(void *be, const char *id)
{
    struct local *l = be;
    char buf[FILE_MAX + 1], path[PATH_MAX + ID_MAX + 8], *text, err[300];
    const char *json;
    size_t len;
    int64_t seq, published;
    if (read_state(l, id, buf, &json, &len, &seq, &published, 0) != 1)
        seq = 0;
    int i = l->slots ? slots_find(l->slots, id, 0) : -1;
    uint32_t v;
    long n = i >= 0 ? slots_read(l->slots, i, buf, &v) : 0;
    struct chanframe f;
    if (n > 0 && !chanframe_parse(buf, (size_t)n, &f) && f.seq > seq)
        seq = f.seq;
    seq_path(l, id, path, sizeof path);
    if (fs_read_all(path, 32, &text, &len, err, sizeof err) == 0) {
        long long floor = strtoll(text, NULL, 10);
        if (floor > seq)
            seq = floor;
        free(text);
    }
    return seq;
}

static int local_save_seq(void *be, const char *id, int64_t floor)
{
    struct local *l = be;
    char path[PATH_MAX + ID_MAX + 8], text[24], err[300];
    seq_path(l, id, path, sizeof path);
    int n = snprintf(text, sizeof text, "%lld\n", (long long)floor);
    if (fs_write_atomic(path, text, (size_t)n, err, sizeof err) != 0) {
        if (!l->seq_failing)
            log_thread_warning("channel %s: %s: a restart of its publisher may not continue its seq", id, err);
        l->seq_failing = 1;
        return -1;
    }
    l->seq_failing = 0;
    return 0;
}

static void local_close(void *be)
{
    struct local *l = be;
    flush_due(l, INT64_MAX);
    slots_close(l->slots);
    free(l->outs);
    for (size_t i = 0; i < l->nlocks; i++)
        if (l->locks[i].fd >= 0)
            close(l->locks[i].fd);
    free(l->locks);
    pthread_mutex_destroy(&l->locks_mu);
    close(l->ino);
    free(l->subs);
    free(l->index);
    free(l);
}

const struct backend_ops backend_local = {
    .scheme = "local",
    .on_caller_thread = 0,
    .open = local_open,
    .pollfds = local_pollfds,
    .timeout_ms = local_timeout,
    .service = local_service,
    .publish = local_publish,
    .subscribe = local_subscribe,
    .stored_seq = local_stored_seq,
    .save_seq = local_save_seq,
    .close = local_close,
    .claim = local_claim,
};
