/* SPDX-License-Identifier: MIT */
/* src/vqnet/uidslot.c on real files and real flock() locks, in a fresh
 * directory of the test's own: two live labs never hold one slot, whatever
 * the order in which `down`s reap dead labs' slots and `up`s take them. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "uidslot.h"

struct dir {
	char path[64];
	int fd;
};

static int setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));
	if (!d)
		return -1;
	strcpy(d->path, "/tmp/vqnet-uidslot-XXXXXX");
	if (!mkdtemp(d->path))
		return -1;
	d->fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	*state = d;
	return d->fd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	struct dir *d = *state;
	char name[16];
	for (unsigned i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "%u", i);
		unlinkat(d->fd, name, 0);
	}
	close(d->fd);
	int rc = rmdir(d->path);
	free(d);
	return rc;
}

static ino_t ino_of(int dirfd, const char *name)
{
	struct stat st;
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st.st_ino : 0;
}

static ino_t ino_fd(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

/* The race of two `down`s and an `up` (found in review): reaper A opens
 * dead slot 5; reaper B reaps it; a new lab takes slot 5, a new file by
 * the same name; then A locks the file it opened (unlinked, so free) and
 * must not unlink the live lab's file by its name. */
static void test_reaper_spares_a_live_successor(void **state)
{
	struct dir *d = *state;
	int dead = openat(d->fd, "5", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(dead >= 0);
	close(dead);   /* its supervisor died: no one holds it */

	int a = openat(d->fd, "5", O_RDONLY | O_CLOEXEC);
	assert_true(a >= 0);
	int b = openat(d->fd, "5", O_RDONLY | O_CLOEXEC);
	assert_int_equal(uid_slot_reap(d->fd, "5", b), 1);
	close(b);
	assert_int_equal(ino_of(d->fd, "5"), 0);

	unsigned slot = 99;
	int live = uid_slot_take(d->path, 5, 8, &slot);
	assert_true(live >= 0);
	assert_int_equal(slot, 5);

	assert_int_equal(uid_slot_reap(d->fd, "5", a), 0);
	close(a);
	assert_int_equal(ino_of(d->fd, "5"), ino_fd(live));

	/* so the next lab gets a slot of its own */
	unsigned next = 99;
	int other = uid_slot_take(d->path, 5, 8, &next);
	assert_true(other >= 0);
	assert_int_equal(next, 6);
	uid_slot_release(d->path, next, other);
	uid_slot_release(d->path, slot, live);
	assert_int_equal(ino_of(d->fd, "5"), 0);
	assert_int_equal(ino_of(d->fd, "6"), 0);
}

/* A taker moves on from a held slot, wrapping round; with all held it
 * fails, and never hands one out twice. */
static void test_taker_skips_held_slots(void **state)
{
	struct dir *d = *state;
	unsigned s1 = 99, s2 = 99;
	int first = uid_slot_take(d->path, 3, 4, &s1);
	assert_true(first >= 0);
	assert_int_equal(s1, 3);
	int second = uid_slot_take(d->path, 3, 4, &s2);
	assert_true(second >= 0);
	assert_int_equal(s2, 0);   /* 3 is held: wraps to 0 */
	uid_slot_release(d->path, s2, second);

	/* every slot held: EBUSY, and nothing is taken twice */
	int held[4];
	unsigned got[4];
	held[0] = first;
	got[0] = s1;
	for (unsigned i = 1; i < 4; i++) {
		held[i] = uid_slot_take(d->path, 3, 4, &got[i]);
		assert_true(held[i] >= 0);
		for (unsigned j = 0; j < i; j++)
			assert_int_not_equal(got[i], got[j]);
	}
	unsigned none = 99;
	assert_int_equal(uid_slot_take(d->path, 3, 4, &none), -EBUSY);
	for (unsigned i = 0; i < 4; i++)
		uid_slot_release(d->path, got[i], held[i]);
}

/* `down` of a dead lab removes every slot no one holds, and only those;
 * the directory stays, so an `up` between never finds it gone. */
static void test_free_dead_keeps_held_slots(void **state)
{
	struct dir *d = *state;
	for (unsigned i = 0; i < 4; i++) {
		char name[16];
		snprintf(name, sizeof(name), "%u", i);
		int fd = openat(d->fd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	unsigned s = 99;
	int live = uid_slot_take(d->path, 2, 4, &s);
	assert_true(live >= 0);
	assert_int_equal(s, 2);
	assert_int_equal(uid_slots_free_dead(d->path), 3);
	assert_int_equal(ino_of(d->fd, "2"), ino_fd(live));
	assert_int_equal(ino_of(d->fd, "0"), 0);
	uid_slot_release(d->path, s, live);
	assert_int_equal(uid_slots_free_dead(d->path), 0);
	struct stat st;
	assert_int_equal(stat(d->path, &st), 0);
}

/* The slot directory is made when missing (a fresh RUN_DIR). */
static void test_take_makes_the_directory(void **state)
{
	struct dir *d = *state;
	char sub[96];
	snprintf(sub, sizeof(sub), "%s/uids", d->path);
	unsigned s = 99;
	int fd = uid_slot_take(sub, 0, 4, &s);
	assert_true(fd >= 0);
	assert_int_equal(s, 0);
	uid_slot_release(sub, s, fd);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(uid_slot_take(sub, 0, 0, &s), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reaper_spares_a_live_successor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_taker_skips_held_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_dead_keeps_held_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_take_makes_the_directory, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
