/*
 * chanslots.h: the shared-memory table of the local backend (backend_local.c): one slot per channel in the file
 * .slots of the channel folder, mmap'd by every process on the folder, and one doorbell FIFO per following process.
 *
 * A slot holds the channel's latest frame (chanframe.h) under a seqlock; its publisher writes it and writes one
 * byte to the doorbell of each process registered on the slot, so a publish wakes only the processes following
 * that channel. A reader copies the frame, checks the seqlock did not move and the frame's checksum: a publisher
 * killed mid-write leaves the slot odd (a reader skips it and reads the channel file), never a torn state.
 * docs/channels.md has the protocol and what a kill -9 at each point leaves.
 */
#ifndef STRATRUN_CHANSLOTS_H
#define STRATRUN_CHANSLOTS_H

#include <stddef.h>
#include <stdint.h>

#define SLOTS_FILE ".slots"
#define SLOTS_DEFAULT 1024      /* channels a table holds; STRATRUN_CHANNEL_SLOTS sets it for a table created
                                 * (0: no table, the channel files alone) */
#define SLOT_BELLS 16           /* processes one channel's slot wakes; a process beyond them follows the file */

struct chanslots;

/* Maps dir/.slots, creating it (mode 0600, 0660 in a folder shared by a group) when it is missing, rebuilding it
 * (one warning line naming the file and what is wrong) when it is not a table this version made: another size,
 * version or magic, a bad header checksum, not a regular file, another owner. Returns NULL with one line in err
 * when neither works, or NULL with err empty under STRATRUN_CHANNEL_SLOTS=0: the backend then runs on the channel
 * files alone. */
struct chanslots *slots_open(const char *dir, char *err, size_t errlen);
void slots_close(struct chanslots *t);

/* 1 when dir/.slots is no longer the file mapped (removed, or rebuilt by another process), or was cut short under
 * the mapping (a SIGBUS caught: the mapping now reads as zeros): reopen. */
int slots_replaced(struct chanslots *t);

/* The slot of channel id, taking a free one when create (under an flock of the table, waited for at most 100 ms):
 * its index, or -1 (none, the table is full, or its lock was held elsewhere all that time). */
int slots_find(struct chanslots *t, const char *id, int create);

/* 1 once after slots_find gave no slot because the table's lock was held elsewhere: the caller asks again later. */
int slots_retry(struct chanslots *t);

/* Makes frame (n bytes, at most CHANFRAME_MAX) the content of slot i and rings the bells registered on it. One
 * writer per slot (the channel's publisher, holding its lock). */
void slots_write(struct chanslots *t, int i, const char *frame, size_t n);

/* The seqlock counter of slot i: unchanged, nothing new to read. */
uint32_t slots_version(const struct chanslots *t, int i);

/* Copies the frame of slot i into buf (CHANFRAME_MAX + 1 bytes). Returns its length, 0 when the slot is empty,
 * -1 while it is being written or was left mid-write (the caller reads the channel file instead). *version gets
 * the counter the copy is consistent with. */
long slots_read(const struct chanslots *t, int i, char *buf, uint32_t *version);

/* Registers this process's doorbell on slot i (once). 0, or -1 when its SLOT_BELLS places are taken by processes
 * that are alive. */
int slots_follow(struct chanslots *t, int i);

/* Closes the doorbells this process keeps open (to ring them) whose follower is gone: a follower that exited is
 * rung by no one once another publisher freed its place, so its descriptor would stay open here. Once a second. */
void slots_prune(struct chanslots *t);

/* The doorbell this process polls (POLLIN), and emptying it after a wake-up. */
int slots_bell_fd(const struct chanslots *t);
void slots_drain_bell(struct chanslots *t);

#endif
