/* SPDX-License-Identifier: MIT */
/*
 * uidslot.h - a lab's uid slot: a file DIR/N that the lab's supervisor
 * keeps flock()ed for its whole life, so two live labs never hold the same
 * N (sup_up.c turns N into the lab's range of uids).
 *
 * A file's name is only its name while a holder keeps it: whoever unlinks
 * a slot holds its lock, and whoever takes or reaps one checks, once
 * locked, that the name still names the file it locked.  Without that
 * check a reaper that opened a dead lab's file, and lost the race to
 * another reaper, would lock the unlinked file and delete a live lab's
 * new one by its name.
 */
#ifndef VQNET_UIDSLOT_H
#define VQNET_UIDSLOT_H

/* Lock a free slot among 0..n-1, trying first, first+1, ... (mod n): its
 * locked fd (the slot in *slot), -EBUSY when all n are held, or -errno.
 * Creates dir (0700) if it is missing. */
int uid_slot_take(const char *dir, unsigned first, unsigned n, unsigned *slot);

/* Give up a slot taken by uid_slot_take: its file goes, then its lock. */
void uid_slot_release(const char *dir, unsigned slot, int fd);

/* Remove every slot file no one holds: each is a dead supervisor's.
 * Returns how many went. */
unsigned uid_slots_free_dead(const char *dir);

/* One step of uid_slots_free_dead, open for its test: fd was opened on
 * dirfd/name some time ago; if no one holds it and the name still names
 * it, unlink the name.  1 if it went, 0 if not; closes nothing. */
int uid_slot_reap(int dirfd, const char *name, int fd);

#endif
