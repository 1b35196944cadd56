/* SPDX-License-Identifier: MIT */
/*
 * vgrantd's control socket: a unix stream socket (mode 0600, root only)
 * on which `vgrant stats` asks the running daemon for per-device counters.
 *
 * Protocol: one request per connection, one line of at most
 * VGD_CONTROL_MAX_REQUEST bytes including its '\n':
 *
 *     stats [<domid> [<devid>]] [json]
 *
 * tokens separated by single spaces, decimal numbers without sign or
 * leading zeros.  Replies, after which the daemon closes the connection:
 *
 *     error <reason>\n                       any bad or unknown request
 *     ok <n>\n  then n lines  device k=v k=v ...\n  then  end\n
 *     {"devices":[{...},...]}\n              with "json"
 *
 * Every key=value line carries domid, devid, state (a xenbus state name)
 * and every counter of struct vgd_dev_stats; a client prints what it gets,
 * so counters added later show up without changing the client.
 *
 * Everything is non-blocking and runs inside the daemon's event loop: a
 * client that never finishes its line, never reads its reply or sends
 * garbage is answered with an error or dropped after
 * VGD_CONTROL_CLIENT_TIMEOUT_MS; at most VGD_CONTROL_MAX_CLIENTS are
 * served at once.
 */
#ifndef VGRANT_BACKEND_CONTROL_H
#define VGRANT_BACKEND_CONTROL_H

#include <stddef.h>

#include "vgrantd.h"

#define VGD_CONTROL_DEFAULT_PATH      "/run/vgrantd/control.sock"
#define VGD_CONTROL_MAX_REQUEST       256u
#define VGD_CONTROL_MAX_RESPONSE      (256u * 1024)
#define VGD_CONTROL_MAX_CLIENTS       8u
#define VGD_CONTROL_CLIENT_TIMEOUT_MS 2000u

struct vgd_control;

/* Create the socket at path (its directory is created with mode 0700 if
 * missing; a stale socket nobody listens on is replaced; a live one is an
 * error) and add it to d's event loop.  NULL with errno on failure,
 * logged. */
struct vgd_control *vgd_control_open(struct vgd *d, const char *path);

/* Close every client and the socket, unlink it.  Call after the event
 * loop stopped running (after or before vgd_free).  NULL is a no-op. */
void vgd_control_close(struct vgd_control *c);

/* Clients connected right now (tests). */
unsigned vgd_control_clients(const struct vgd_control *c);

/* The reply to one request line (without its '\n'), written into out and
 * always '\n'-terminated and NUL-terminated; returns its length.  size
 * must be at least 128. */
size_t vgd_control_answer(struct vgd *d, const char *line, size_t len,
                          char *out, size_t size);

#endif /* VGRANT_BACKEND_CONTROL_H */
