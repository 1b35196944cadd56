/* SPDX-License-Identifier: MIT */
/*
 * vg-dm: the few device-mapper operations the e2e fault scenarios need,
 * straight through /dev/mapper/control (the e2e dom0 is busybox and has
 * no dmsetup).  One target spanning the whole device:
 *
 *   vg-dm create NAME SECTORS TYPE [PARAMS]   create, load, resume; prints
 *                                             /dev/dm-<minor>
 *   vg-dm reload NAME SECTORS TYPE [PARAMS]   suspend, load, resume
 *   vg-dm remove NAME
 *
 * TYPE is a device-mapper target: "linear" (PARAMS "MAJ:MIN OFFSET") or
 * "error" (no PARAMS) is what the scenarios use.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define BUF_BYTES 16384

static union {
    struct dm_ioctl io;
    char raw[BUF_BYTES];
} buf;

static int ctl = -1;

static void init_io(const char *name)
{
    memset(&buf, 0, sizeof(buf));
    buf.io.version[0] = DM_VERSION_MAJOR;
    buf.io.version[1] = 0;
    buf.io.version[2] = 0;
    buf.io.data_size = sizeof(buf);
    buf.io.data_start = sizeof(struct dm_ioctl);
    snprintf(buf.io.name, sizeof(buf.io.name), "%s", name);
}

static int do_ioctl(unsigned long cmd, const char *what, const char *name)
{
    if (ioctl(ctl, cmd, &buf) == 0)
        return 0;
    fprintf(stderr, "vg-dm: %s %s: %s\n", what, name, strerror(errno));
    return -1;
}

static int load(const char *name, unsigned long long sectors,
                const char *type, const char *params)
{
    struct dm_target_spec *t;
    char *p;
    size_t plen = strlen(params) + 1, off;

    init_io(name);
    t = (struct dm_target_spec *)(buf.raw + sizeof(struct dm_ioctl));
    p = (char *)(t + 1);
    off = sizeof(struct dm_ioctl) + sizeof(*t) + plen;
    off = (off + 7) & ~(size_t)7;
    if (off > sizeof(buf) || strlen(type) >= sizeof(t->target_type)) {
        fprintf(stderr, "vg-dm: table too long\n");
        return -1;
    }
    buf.io.target_count = 1;
    t->sector_start = 0;
    t->length = sectors;
    snprintf(t->target_type, sizeof(t->target_type), "%s", type);
    memcpy(p, params, plen);
    t->next = 0;
    buf.io.data_size = (uint32_t)off;
    return do_ioctl(DM_TABLE_LOAD, "load table of", name);
}

static int suspend(const char *name, int on)
{
    init_io(name);
    buf.io.flags = on ? DM_SUSPEND_FLAG : 0;
    return do_ioctl(DM_DEV_SUSPEND, on ? "suspend" : "resume", name);
}

static int usage(void)
{
    fprintf(stderr, "usage: vg-dm create|reload NAME SECTORS TYPE [PARAMS]\n"
                    "       vg-dm remove NAME\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *cmd, *name, *type, *params;
    unsigned long long sectors;
    char *end;

    if (argc < 3)
        return usage();
    cmd = argv[1];
    name = argv[2];
    ctl = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
    if (ctl < 0) {
        fprintf(stderr, "vg-dm: /dev/mapper/control: %s (is dm-mod "
                "loaded?)\n", strerror(errno));
        return 1;
    }
    if (!strcmp(cmd, "remove")) {
        init_io(name);
        return do_ioctl(DM_DEV_REMOVE, "remove", name) ? 1 : 0;
    }
    if (argc < 5 || argc > 6)
        return usage();
    errno = 0;
    sectors = strtoull(argv[3], &end, 10);
    if (errno || *end || !sectors)
        return usage();
    type = argv[4];
    params = argc == 6 ? argv[5] : "";

    if (!strcmp(cmd, "create")) {
        unsigned minor;

        init_io(name);
        if (do_ioctl(DM_DEV_CREATE, "create", name))
            return 1;
        minor = minor(buf.io.dev);
        if (load(name, sectors, type, params) || suspend(name, 0)) {
            init_io(name);
            do_ioctl(DM_DEV_REMOVE, "remove", name);
            return 1;
        }
        printf("/dev/dm-%u\n", minor);
        return 0;
    }
    if (!strcmp(cmd, "reload")) {
        if (suspend(name, 1))
            return 1;
        if (load(name, sectors, type, params)) {
            suspend(name, 0);
            return 1;
        }
        return suspend(name, 0) ? 1 : 0;
    }
    return usage();
}
