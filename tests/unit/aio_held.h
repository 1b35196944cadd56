/* SPDX-License-Identifier: MIT */
/*
 * A test executor for vgrantd's file transfers (backend/aio.h) that the
 * test controls: transfers it holds stay "in the kernel" until the test
 * releases them (a slow backing file), transfers it fails complete with
 * the errno the test chose (a failing one), the others complete at the
 * next reap -- in reverse order of submission, so the daemon must cope
 * with completions out of order.  Completed transfers really run
 * (vgd_io_run_sync): the data path is the real one.
 *
 * wait() (a queue draining its round at teardown) releases everything
 * held: the slow file finally answers.
 */
#ifndef VGRANT_TEST_AIO_HELD_H
#define VGRANT_TEST_AIO_HELD_H

#include <stdbool.h>
#include <stdint.h>

#include "aio.h"

#define HELD_MAX_OPS 512u

struct held_event {
    enum vgd_io_op op;
    uint64_t offset;
    bool completed;            /* false: submitted */
    bool direct;               /* on a file descriptor with O_DIRECT */
};

struct held_aio {
    struct vgd_aio a;          /* first */
    int efd;                   /* readable while completions wait */
    struct vgd_aio_op *op[HELD_MAX_OPS];
    bool held[HELD_MAX_OPS];
    unsigned n;
    bool hold_all;             /* hold every new transfer */
    bool hold_inode_set;       /* hold transfers on this file only */
    uint64_t hold_dev, hold_ino;
    int fail_errno;            /* fail the next fail_count transfers of */
    enum vgd_io_op fail_op;    /* this kind with -fail_errno */
    unsigned fail_count;
    struct held_event log[4 * HELD_MAX_OPS];   /* submissions, completions */
    unsigned nlog;
};

struct held_aio *held_new(void);
void held_free(struct held_aio *h);
/* Hold every transfer on the file at path from now on. */
void held_hold_file(struct held_aio *h, const char *path);
/* Let every held transfer complete at the next reap; stop holding. */
void held_release(struct held_aio *h);
/* Let the k oldest transfers not completed yet complete at the next reap
 * (new ones are still held if hold_all). */
void held_release_oldest(struct held_aio *h, unsigned k);
/* Transfers submitted and not completed, held or not. */
unsigned held_pending(const struct held_aio *h);
/* Events of kind op (submitted or completed) in the log. */
unsigned held_count(const struct held_aio *h, enum vgd_io_op op,
                    bool completed);

#endif /* VGRANT_TEST_AIO_HELD_H */
