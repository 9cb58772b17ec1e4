/*
 * chanslots.c: the local backend's shared slot table and doorbells (chanslots.h). The table file is the folder's:
 * the folder's permissions are its access control, as for the channel files.
 */
#include "core/chanslots.h"
#include "core/chanframe.h"
#include "core/chanid.h"
#include "core/fsutil.h"
#include "core/logsink.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "SRSLOTS\n"
#define VERSION 1
#define SLOTS_LIMIT 65536
#define BELL_CACHE 64           /* doorbells a publisher keeps open */

struct header {                 /* at offset 0, 64 bytes */
    char magic[8];
    uint32_t version, nslots, slot_size, bells, frame_max;
    uint32_t crc;               /* of the bytes above */
    char pad[32];
};

struct slot {
    _Atomic uint32_t used;      /* 1: id is set (under the table's flock), for good */
    _Atomic uint32_t lock;      /* the seqlock: odd while the frame is written */
    uint32_t len;
    uint32_t pad;
    char id[72];
    _Atomic uint64_t bells[SLOT_BELLS];     /* a follower's doorbell token, 0: free */
    char frame[CHANFRAME_MAX];
} __attribute__((aligned(64)));

/* The slots start 64-aligned, so that no atomic field straddles a cache line. */
_Static_assert(sizeof(struct header) == 64, "the header is 64 bytes");
_Static_assert(sizeof(struct slot) % 64 == 0, "a slot is a whole number of cache lines");

struct chanslots {
    char dir[PATH_MAX];
    int fd;
    dev_t dev;
    ino_t ino;
    struct slot *slots;
    size_t map_len;
    uint32_t n;
    int full;                   /* no slot was free: slots are never given back, so none will be */
    uint64_t token;             /* this process's doorbell, 0 until it follows a slot */
    int bell;
    struct { uint64_t token; int fd; } cache[BELL_CACHE];
    int next_evict;
    int guard;                  /* its place in guards[], or -1 */
    int lock_missed;            /* a slot was not given for the lock held elsewhere: slots_retry says so */
};

/* A table cut short under the mappings (ftruncate by another process: a co-user of a group folder, a `: > .slots`)
 * makes every access past its new end raise SIGBUS, which would kill the bots. The handler puts zeroed private
 * memory over the whole mapping (the access then completes: empty slots, no frame a reader takes), marks the table,
 * and slots_replaced makes the backend move to a table made anew; any other SIGBUS gets its previous disposition. */
#define GUARDS 8
static struct guard {
    _Atomic(char *) base;
    _Atomic size_t len;
    atomic_int hit;
} guards[GUARDS];
static struct sigaction old_bus;
static pthread_once_t bus_once = PTHREAD_ONCE_INIT;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    char *a = si->si_addr;
    for (int k = 0; k < GUARDS; k++) {
        char *b = atomic_load(&guards[k].base);
        size_t len = atomic_load(&guards[k].len);
        if (b && a >= b && a < b + len &&
            mmap(b, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
            atomic_store(&guards[k].hit, 1);
            return;
        }
    }
    if ((old_bus.sa_flags & SA_SIGINFO) && old_bus.sa_sigaction) {
        old_bus.sa_sigaction(sig, si, uc);
        return;
    }
    if (old_bus.sa_handler != SIG_DFL && old_bus.sa_handler != SIG_IGN) {
        old_bus.sa_handler(sig);
        return;
    }
    /* Not ours: the default action, at once (blocked until the handler returns, then fatal). */
    signal(SIGBUS, SIG_DFL);
    raise(SIGBUS);
}

static void install_sigbus(void)
{
    struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO | SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &old_bus);
}

/* Puts the mapping [base, base + len) under the handler: its place, or -1 (all taken: unguarded). */
static int guard_map(char *base, size_t len)
{
    pthread_once(&bus_once, install_sigbus);
    for (int k = 0; k < GUARDS; k++) {
        size_t none = 0;
        if (atomic_compare_exchange_strong(&guards[k].len, &none, len)) {
            atomic_store(&guards[k].hit, 0);
            atomic_store(&guards[k].base, base);
            return k;
        }
    }
    return -1;
}

static void unguard_map(int k)
{
    if (k < 0)
        return;
    atomic_store(&guards[k].base, NULL);
    atomic_store(&guards[k].len, 0);
}

static uint32_t header_crc(const struct header *h)
{
    return fs_crc32(h, offsetof(struct header, crc));
}

static size_t table_size(uint32_t n)
{
    return sizeof(struct header) + (size_t)n * sizeof(struct slot);
}

/* What is wrong with the table open at fd, NULL when it is one of ours; *n gets its slot count. */
static const char *check(int fd, uint32_t *n)
{
    struct stat st;
    struct header h;
    long gid = fs_shared_group();
    if (fstat(fd, &st) != 0)
        return strerror(errno);
    if (!S_ISREG(st.st_mode))
        return "not a regular file";
    if (st.st_uid != geteuid() && !(gid >= 0 && st.st_gid == (gid_t)gid))
        return "owned by another user";
    if (st.st_mode & 002)
        return "writable by others";
    if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || memcmp(h.magic, MAGIC, 8) != 0)
        return "not a slot table";
    if (h.crc != header_crc(&h))
        return "header checksum mismatch";
    if (h.version != VERSION || h.slot_size != sizeof(struct slot) || h.bells != SLOT_BELLS ||
        h.frame_max != CHANFRAME_MAX)
        return "made by another version";
    if (h.nslots < 1 || h.nslots > SLOTS_LIMIT || (size_t)st.st_size != table_size(h.nslots))
        return "wrong size";
    *n = h.nslots;
    return NULL;
}

/* STRATRUN_CHANNEL_SLOTS: the slots of a table this process creates; 0: no table at all. */
static uint32_t wanted_slots(void)
{
    static int warned;
    const char *s = getenv("STRATRUN_CHANNEL_SLOTS");
    if (!s || !*s)
        return SLOTS_DEFAULT;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 0 || v > SLOTS_LIMIT) {
        if (!warned++)
            log_thread_warning("STRATRUN_CHANNEL_SLOTS=%.40s is not a count from 0 to %d; using %d", s,
                               SLOTS_LIMIT, SLOTS_DEFAULT);
        return SLOTS_DEFAULT;
    }
    return (uint32_t)v;
}

/* Writes a new empty table at path, whole (a temp file, then link or rename): replace 0 fails with EEXIST when
 * another process made one first. */
static int create(const char *path, int replace, char *err, size_t errlen)
{
    uint32_t n = wanted_slots();
    size_t size = table_size(n);
    char *data = calloc(1, size);
    if (!data) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct header *h = (struct header *)data;
    *h = (struct header){.version = VERSION, .nslots = n, .slot_size = sizeof(struct slot), .bells = SLOT_BELLS,
                         .frame_max = CHANFRAME_MAX};
    memcpy(h->magic, MAGIC, 8);
    h->crc = header_crc(h);
    /* Not fsynced: nothing in it needs to outlive a power cut (the channel files do), and a table made again
     * costs nothing but the states the files hold anyway. */
    int mode = fs_shared_group() >= 0 ? 0660 : 0600;
    int rc = replace ? fs_write_atomic_mode(path, data, size, mode, FS_VOLATILE, err, errlen)
                     : fs_write_new_mode(path, data, size, mode, FS_VOLATILE, err, errlen);
    free(data);
    return rc;
}

static int open_bell(const struct chanslots *t, uint64_t token);

/* Removes the doorbells of followers that died (kill -9) where no publisher rang them since: FIFOs without a
 * reader. Their places in the slots are freed by the next publisher that finds them gone. */
static void sweep_bells(const struct chanslots *t)
{
    DIR *d = opendir(t->dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char *end;
        if (strncmp(de->d_name, ".bell.", 6) != 0 || strlen(de->d_name) != 22)
            continue;
        unsigned long long tok = strtoull(de->d_name + 6, &end, 16);
        int fd = *end ? -1 : open_bell(t, tok);     /* unlinks it when nobody reads it */
        if (fd >= 0)
            close(fd);
    }
    if (d)
        closedir(d);
}

struct chanslots *slots_open(const char *dir, char *err, size_t errlen)
{
    if (!wanted_slots())
        return NULL;        /* err stays empty: the files alone, as asked */
    struct chanslots *t = calloc(1, sizeof *t);
    char path[PATH_MAX + 16];
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(t->dir, sizeof t->dir, "%s", dir);
    snprintf(path, sizeof path, "%s/" SLOTS_FILE, dir);
    t->fd = t->bell = t->guard = -1;
    for (int attempt = 0; attempt < 3 && t->fd < 0; attempt++) {
        int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), open_err = errno;
        const char *why = fd < 0 ? (open_err == ENOENT ? NULL : strerror(open_err)) : check(fd, &t->n);
        if (fd >= 0 && !why) {
            t->fd = fd;
            break;
        }
        if (fd >= 0)
            close(fd);
        if (why)
            log_thread_warning("channel slot table %s: %s: made anew (the channels' states are in their files)",
                               path, why);
        /* Missing: made, unless another process makes it first (EEXIST: that one is opened). Damaged: replaced
         * whole; what cannot be opened (a symlink, a FIFO) is removed first. */
        if (fd < 0 && why)
            unlink(path);
        if (create(path, fd >= 0, err, errlen) != 0 && errno != EEXIST)
            break;
    }
    struct stat st;
    if (t->fd < 0 || fstat(t->fd, &st) != 0) {
        if (t->fd >= 0 || !err[0])
            snprintf(err, errlen, "cannot open the channel slot table %s", path);
        goto fail;
    }
    t->dev = st.st_dev;
    t->ino = st.st_ino;
    t->map_len = table_size(t->n);
    void *map = mmap(NULL, t->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, t->fd, 0);
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "cannot map the channel slot table %s: %s", path, strerror(errno));
        goto fail;
    }
    t->slots = (struct slot *)((char *)map + sizeof(struct header));
    t->guard = guard_map(map, t->map_len);
    for (int i = 0; i < BELL_CACHE; i++)
        t->cache[i].fd = -1;
    sweep_bells(t);
    return t;
fail:
    if (t->fd >= 0)
        close(t->fd);
    free(t);
    return NULL;
}

static void bell_path(const struct chanslots *t, uint64_t token, char *path, size_t size)
{
    snprintf(path, size, "%s/.bell.%016llx", t->dir, (unsigned long long)token);
}

/* Opens the doorbell of token for writing, never blocking: -1 with errno ENXIO (nobody reads it: its process is
 * gone) or ENOENT when its follower is no more. Not a FIFO: treated as gone. */
static int open_bell(const struct chanslots *t, uint64_t token)
{
    char path[PATH_MAX + 32];
    bell_path(t, token, path, sizeof path);
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode))) {
        close(fd);
        errno = ENOENT;
        return -1;
    }
    if (fd < 0 && errno == ENXIO)
        unlink(path);       /* a FIFO without a reader: its follower died (kill -9) */
    return fd;
}

static int gone(int err)
{
    return err == ENXIO || err == ENOENT || err == ELOOP || err == EPIPE;
}

/* Rings the doorbell in place *b (token tok): one byte, never blocking (a full FIFO already has a wake-up in it).
 * A follower that is gone loses its place. */
static void ring(struct chanslots *t, _Atomic uint64_t *b, uint64_t tok)
{
    int k = 0;
    while (k < BELL_CACHE && t->cache[k].token != tok)
        k++;
    if (k == BELL_CACHE) {
        int fd = open_bell(t, tok);
        if (fd < 0) {
            if (gone(errno))
                atomic_compare_exchange_strong(b, &tok, 0);
            return;
        }
        k = t->next_evict++ % BELL_CACHE;
        if (t->cache[k].fd >= 0)
            close(t->cache[k].fd);
        t->cache[k].token = tok;
        t->cache[k].fd = fd;
    }
    /* EPIPE (SIGPIPE is blocked on the engine thread, ignored by bots): its reader closed it since. */
    if (write(t->cache[k].fd, "", 1) < 0 && errno == EPIPE) {
        close(t->cache[k].fd);
        t->cache[k].fd = -1;
        t->cache[k].token = 0;
        atomic_compare_exchange_strong(b, &tok, 0);
    }
}

void slots_prune(struct chanslots *t)
{
    struct pollfd fds[BELL_CACHE];
    int at[BELL_CACHE], n = 0;
    for (int k = 0; k < BELL_CACHE; k++)
        if (t->cache[k].fd >= 0) {
            fds[n] = (struct pollfd){t->cache[k].fd, 0, 0};
            at[n++] = k;
        }
    if (n == 0 || poll(fds, (nfds_t)n, 0) <= 0)
        return;
    for (int j = 0; j < n; j++)
        if (fds[j].revents & (POLLERR | POLLHUP | POLLNVAL)) {   /* a FIFO's write end: no reader any more */
            close(t->cache[at[j]].fd);
            t->cache[at[j]].fd = -1;
            t->cache[at[j]].token = 0;
        }
}

/* The table's flock, waited for at most LOCK_WAIT_MS: it is held only while a slot is given, so a longer hold is a
 * process stopped there or a co-user of a group folder holding it on purpose, which must not stall the engine
 * thread (the channel then goes by its file). */
#define LOCK_WAIT_MS 100
static int lock_table(struct chanslots *t)
{
    static int warned;
    for (int ms = 0; ms < LOCK_WAIT_MS; ms++) {
        if (flock(t->fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        usleep(1000);
    }
    t->lock_missed = 1;
    if (!warned++)
        log_thread_warning("channel slot table %s/" SLOTS_FILE ": locked by another process for over %d ms; a "
                           "channel without a slot goes by its file", t->dir, LOCK_WAIT_MS);
    return -1;
}

int slots_find(struct chanslots *t, const char *id, int create_it)
{
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < t->n; i++)
            if (atomic_load_explicit(&t->slots[i].used, memory_order_acquire) && strcmp(t->slots[i].id, id) == 0) {
                if (pass)
                    flock(t->fd, LOCK_UN);
                return (int)i;
            }
        if (pass)
            break;
        if (!create_it || t->full || lock_table(t) != 0)
            return -1;
    }
    /* Under the lock: the first free slot is ours. */
    int found = -1;
    for (uint32_t i = 0; i < t->n && found < 0; i++)
        if (!atomic_load_explicit(&t->slots[i].used, memory_order_acquire)) {
            snprintf(t->slots[i].id, sizeof t->slots[i].id, "%s", id);
            atomic_store_explicit(&t->slots[i].used, 1, memory_order_release);
            found = (int)i;
        }
    t->full = found < 0;
    flock(t->fd, LOCK_UN);
    return found;
}

void slots_write(struct chanslots *t, int i, const char *frame, size_t n)
{
    struct slot *s = &t->slots[i];
    uint32_t c = atomic_load_explicit(&s->lock, memory_order_relaxed);
    uint32_t w = (c & 1) ? c + 2 : c + 1;      /* odd: a writer killed mid-write left it so */
    atomic_store_explicit(&s->lock, w, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    s->len = (uint32_t)n;
    memcpy(s->frame, frame, n);
    atomic_store_explicit(&s->lock, w + 1, memory_order_release);
    for (int b = 0; b < SLOT_BELLS; b++) {
        uint64_t tok = atomic_load_explicit(&s->bells[b], memory_order_relaxed);
        if (tok)
            ring(t, &s->bells[b], tok);
    }
}

uint32_t slots_version(const struct chanslots *t, int i)
{
    return atomic_load_explicit(&t->slots[i].lock, memory_order_acquire);
}

long slots_read(const struct chanslots *t, int i, char *buf, uint32_t *version)
{
    struct slot *s = &t->slots[i];
    for (int tries = 0; tries < 100; tries++) {
        uint32_t c = atomic_load_explicit(&s->lock, memory_order_acquire);
        *version = c;
        if (c & 1)
            continue;
        size_t n = s->len;
        if (n > CHANFRAME_MAX)
            continue;
        memcpy(buf, s->frame, n);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&s->lock, memory_order_relaxed) == c)
            return (long)n;
    }
    return -1;
}

/* Makes this process's doorbell: a FIFO it holds open for reading and writing (so it never sees EOF), created
 * before its token is put in any slot, so a publisher that finds it without a reader knows its process died. */
static int make_bell(struct chanslots *t)
{
    char path[PATH_MAX + 32];
    int mode = fs_shared_group() >= 0 ? 0620 : 0600;
    for (int attempt = 0; attempt < 4; attempt++) {
        uint64_t tok = 0;
        if (getrandom(&tok, sizeof tok, 0) != (ssize_t)sizeof tok || !tok)
            continue;
        bell_path(t, tok, path, sizeof path);
        if (mkfifo(path, (mode_t)mode) != 0)
            continue;
        int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || fchmod(fd, (mode_t)mode) != 0) {
            if (fd >= 0)
                close(fd);
            unlink(path);
            continue;
        }
        t->bell = fd;
        t->token = tok;
        return 0;
    }
    log_thread_warning("cannot make a doorbell in %s: %s; following by the channel files", t->dir, strerror(errno));
    return -1;
}

int slots_follow(struct chanslots *t, int i)
{
    if (!t->token && make_bell(t) != 0)
        return -1;
    struct slot *s = &t->slots[i];
    for (int b = 0; b < SLOT_BELLS; b++)
        if (atomic_load(&s->bells[b]) == t->token)
            return 0;
    for (int pass = 0; pass < 2; pass++)
        for (int b = 0; b < SLOT_BELLS; b++) {
            uint64_t tok = atomic_load(&s->bells[b]);
            if (pass && tok) {
                /* Every place taken: one whose follower died (kill -9) is freed. */
                int fd = open_bell(t, tok);
                if (fd >= 0) {
                    close(fd);
                    continue;
                }
                if (!gone(errno) || !atomic_compare_exchange_strong(&s->bells[b], &tok, 0))
                    continue;
                tok = 0;
            }
            if (!tok && atomic_compare_exchange_strong(&s->bells[b], &tok, t->token))
                return 0;
        }
    return -1;
}

int slots_retry(struct chanslots *t)
{
    int r = t->lock_missed;
    t->lock_missed = 0;
    return r;
}

int slots_bell_fd(const struct chanslots *t)
{
    return t->bell;
}

void slots_drain_bell(struct chanslots *t)
{
    char buf[512];
    while (t->bell >= 0 && read(t->bell, buf, sizeof buf) == (ssize_t)sizeof buf) {}
}

int slots_replaced(struct chanslots *t)
{
    char path[PATH_MAX + 16];
    struct stat st;
    snprintf(path, sizeof path, "%s/" SLOTS_FILE, t->dir);
    if ((t->guard >= 0 && atomic_load(&guards[t->guard].hit)) || fstat(t->fd, &st) != 0 ||
        (size_t)st.st_size != t->map_len)
        return 1;   /* cut short (or grown) under the mapping: made anew by slots_open */
    return lstat(path, &st) != 0 || st.st_dev != t->dev || st.st_ino != t->ino;
}

void slots_close(struct chanslots *t)
{
    if (!t)
        return;
    if (t->token) {
        for (uint32_t i = 0; i < t->n; i++)
            for (int b = 0; b < SLOT_BELLS; b++) {
                uint64_t tok = t->token;
                atomic_compare_exchange_strong(&t->slots[i].bells[b], &tok, 0);
            }
        char path[PATH_MAX + 32];
        bell_path(t, t->token, path, sizeof path);
        unlink(path);
        close(t->bell);
    }
    for (int k = 0; k < BELL_CACHE; k++)
        if (t->cache[k].fd >= 0)
            close(t->cache[k].fd);
    unguard_map(t->guard);
    munmap((char *)t->slots - sizeof(struct header), t->map_len);
    close(t->fd);
    free(t);
}
