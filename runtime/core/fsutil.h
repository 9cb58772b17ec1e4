/*
 * fsutil.h: the few file operations the runtime needs to never leave a half-written file behind.
 * All functions return 0 on success or -1 with errno set and a one-line message in err.
 */
#ifndef STRATRUN_FSUTIL_H
#define STRATRUN_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>

/* mkdir -p with mode 0700 for the folders it creates. */
int fs_mkdirs(const char *path, char *err, size_t errlen);

/* fs_mkdirs, then refuses (EPERM, one line naming the folder and the fix) a folder stratrun must not trust, as
 * ssh's StrictModes does: owned by another user than the effective uid (root excepted), writable by group or
 * others without the sticky bit, or a symlink owned by another user. Only path itself is checked, not its parents.
 * what names the folder in messages ("channel folder"). gid >= 0: a folder shared by that group (--group): made
 * 02770 with that group when it is ours; a folder of that group is accepted whoever owns it, group-writable too. */
int fs_safe_dir(const char *path, const char *what, long gid, char *err, size_t errlen);

/* The group of --group / shared_group for the channel folder, -1 when none. Set once at start-up. */
void fs_set_shared_group(long gid);
long fs_shared_group(void);

/* Replaces path with data atomically: writes a temp file beside it, fsyncs it, rename(2)s it over path, fsyncs
 * the folder. A reader (or a kill -9, or a power loss, at any moment) sees the old content or the new one, never a
 * mix. The temp file is created O_EXCL|O_NOFOLLOW, mode 0600, as .NAME.RANDOM.PID.tmp (RANDOM from getrandom), so
 * nothing planted in the folder is ever opened or followed. */
int fs_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);

/* A file whose loss at a power cut costs nothing, replaced atomically but never fsynced: a channel's latest state
 * (the next publish replaces it; readers skip a bad frame), the status panel. A kill -9 still never tears it. */
#define FS_VOLATILE 1

/* The same with the file's mode given (0640: a channel file of a folder shared by a group), whatever the umask,
 * and flags (0 or FS_VOLATILE). */
int fs_write_atomic_mode(const char *path, const void *data, size_t len, int mode, int flags, char *err,
                         size_t errlen);

/* Creates path with data, all or nothing, only if it does not exist: the same temp file, then link(2). Fails
 * with EEXIST (err: "PATH exists already") when path exists, whoever wrote it and however recently. */
int fs_write_new(const char *path, const void *data, size_t len, char *err, size_t errlen);
/* The same with the file's mode and flags (0 or FS_VOLATILE), as fs_write_atomic_mode. */
int fs_write_new_mode(const char *path, const void *data, size_t len, int mode, int flags, char *err,
                      size_t errlen);

/* A file written in parts and put in place whole (`stratrun data download`): fs_temp_open creates the temp file
 * beside path as fs_write_atomic does (with mode, whatever the umask) and returns its descriptor, its name in tmp;
 * the caller writes it (fs_write_all); fs_temp_commit syncs it and puts it at path: replacing what is there when
 * replace, else only if path does not exist (EEXIST, "PATH exists already"); it closes fd either way, and the
 * temp file is gone. fs_temp_abandon closes fd and removes the temp file. */
int fs_temp_open(const char *path, int mode, char *tmp, size_t tmplen, char *err, size_t errlen);
int fs_temp_commit(int fd, const char *tmp, const char *path, int replace, char *err, size_t errlen);
void fs_temp_abandon(int fd, const char *tmp);

/* Writes all of data to fd, through short writes and EINTR. Returns 0, or -1 with errno. */
int fs_write_all(int fd, const void *data, size_t len);

/* 0: fs_write_atomic and fs_write_new skip both fsyncs (--no-fsync, for tmpfs and benchmarks); a kill -9 still
 * never leaves a torn file, a power loss may. Default 1. Set once at start-up. */
void fs_set_fsync(int on);

/* Opens path (O_NOFOLLOW, created with mode) and takes an exclusive flock on it without waiting, then writes this
 * process's PID into it: returns the descriptor, which holds the lock until closed. When another process holds it:
 * -1 with errno EWOULDBLOCK and *holder its PID as the file says (0 if unknown). Any other failure: -1, *holder 0. */
int fs_lock_pid(const char *path, int mode, long *holder, char *err, size_t errlen);

/* Where the last keep (> 0) lines of the file fd (size bytes) start: scanned back from its end a chunk at a time, so
 * only the part kept is ever read, and never below floor (then floor, maybe mid-line). A newline as the last byte
 * ends the last line. -1 on a read error. */
off_t fs_tail_start(int fd, off_t size, long long keep, off_t floor);

/* Keeps the last keep lines of the file at path (0: none, an empty file; a missing file becomes an empty one), as
 * fs_write_atomic_mode does with mode 0600 and flags: only the lines kept are read into memory, however long the
 * file (fs_tail_start). *kept (when not NULL) gets the length of what is kept. LogReset and LogProfitReset. */
int fs_keep_last_lines(const char *path, long long keep, int flags, off_t *kept, char *err, size_t errlen);

/* Opens path for reading if it is a regular file (not a FIFO, which would block the open, a device or a folder),
 * never through a symlink, close-on-exec: the descriptor, or -1 with errno (EINVAL: not a regular file). */
int fs_open_regular(const char *path);

/* Whether a process holds path's lock (fs_lock_pid), without ever keeping it from one: 1 with *holder the PID the
 * file names (0 if unknown), 0 when nobody holds it, -1 with errno when it cannot be opened (ENOENT: never made).
 * When note is not NULL it gets the file's second line (a bot's script: its last holder's). */
int fs_lock_holder(const char *path, long *holder, char *note, size_t notelen);

/* Removes the temp files fs_write_atomic left in dir when its writer was killed mid-write (".NAME...PID.tmp" whose
 * PID is gone). */
void fs_sweep_temp_files(const char *dir);

/* Appends all of data to fd (opened O_APPEND) with one write(2), or nothing: a short write (the disk filled up
 * mid-line) is truncated back to where it started, so the file never ends in a torn line or row. Only safe for a
 * file no other process appends to at the same time (a bot's log under its lock, the --record file). Returns 0,
 * or -1 with errno (ENOSPC for a short write). */
int fs_append_whole(int fd, const void *data, size_t len);

/* Appends data (whole lines) to the file at path, created 0600 if missing, never through a symlink, with
 * fs_append_whole. Returns 0, or -1 with errno and one line in err naming the file. */
int fs_append_file(const char *path, const void *data, size_t len, char *err, size_t errlen);

/* Reads a whole file of at most max bytes into a malloc'd, NUL-terminated buffer. A larger file fails with EFBIG
 * without reading it; anything but a regular file (a FIFO, a folder) fails at once with "is not a regular file". */
int fs_read_all(const char *path, size_t max, char **out, size_t *outlen, char *err, size_t errlen);

uint32_t fs_crc32(const void *data, size_t len);

/* 64-bit FNV-1a, for short stable names. */
uint64_t fs_fnv1a(const void *data, size_t len);

#endif
