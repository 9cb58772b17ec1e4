/*
 * fsutil.h: the few file operations the runtime needs to never leave a half-written file behind.
 * All functions return 0 on success or -1 with errno set and a one-line message in err.
 */
#ifndef STRATRUN_FSUTIL_H
#define STRATRUN_FSUTIL_H

#include <stddef.h>
#include <stdint.h>

/* mkdir -p with mode 0700 for the folders it creates. */
int fs_mkdirs(const char *path, char *err, size_t errlen);

/* Replaces path with data atomically: writes a temp file beside it, then rename(2). A reader (or a kill -9 at any
 * moment) sees the old content or the new one, never a mix. The temp name (.NAME.PID.tmp) is unique per writer process. */
int fs_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);

/* Removes the temp files fs_write_atomic left in dir when its writer was killed mid-write (".NAME.PID.tmp" whose
 * PID is gone). */
void fs_sweep_temp_files(const char *dir);

/* Reads a whole file of at most max bytes into a malloc'd, NUL-terminated buffer. A larger file fails with EFBIG
 * without reading it; anything but a regular file (a FIFO, a folder) fails at once with "is not a regular file". */
int fs_read_all(const char *path, size_t max, char **out, size_t *outlen, char *err, size_t errlen);

uint32_t fs_crc32(const void *data, size_t len);

/* 64-bit FNV-1a, for short stable names. */
uint64_t fs_fnv1a(const void *data, size_t len);

#endif
