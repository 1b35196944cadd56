/* SPDX-License-Identifier: MIT */
/*
 * `vgrant stats --prometheus`: vgrantd's control-socket reply
 *
 *     ok <n>\n  device domid=D devid=N state=S mode=M k=v ...\n (n times)  end\n
 *
 * (backend/control.h) written in the Prometheus text exposition format
 * (version 0.0.4), for node_exporter's textfile collector or a scrape
 * wrapper:
 *   - vgrant_device_info{domid,devid,state,mode} 1, one per device;
 *   - every other numeric key K becomes one metric family: a gauge
 *     vgrant_K for the values that go up and down (queues, in_flight,
 *     max_in_flight, max_round, live_mappings, cache_size, bounce_pages,
 *     region_bytes, guest_reported, guest_region_high_water), a counter
 *     vgrant_K_total for the rest; samples labelled {domid,devid}; each
 *     family's HELP and TYPE lines once, its samples together.
 * The reply comes from a local daemon but is still checked: a key that is
 * not [a-z_][a-z0-9_]*, a value that is not a decimal number, a device
 * count that does not match, a missing "end" make the whole reply
 * malformed (nothing is written).
 */
#ifndef VGRANT_STATS_PROM_H
#define VGRANT_STATS_PROM_H

#include <stdio.h>

/* Write reply as Prometheus text to out.  Returns the number of devices
 * (>= 0), or -1 if reply is malformed (errno EPROTO) or memory ran out. */
int vg_stats_prometheus(const char *reply, FILE *out);

#endif /* VGRANT_STATS_PROM_H */
