/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vgrant/stats_prom.h"

#define MAX_DEVICES 4096u
#define MAX_KEYS    128u

struct kv {
    const char *key, *value;
};

struct dev {
    const char *domid, *devid, *state, *mode;
    unsigned nkv;
    struct kv kv[MAX_KEYS];
};

static const char *const gauges[] = {
    "queues", "in_flight", "max_in_flight", "max_round", "live_mappings",
    "cache_size", "bounce_pages",
    "region_bytes", "guest_reported", "guest_region_high_water",
};

static bool is_gauge(const char *key)
{
    for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++)
        if (!strcmp(key, gauges[i]))
            return true;
    return false;
}

static bool valid_key(const char *s)
{
    if (!*s || strlen(s) > 64 || !((*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static bool valid_number(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 20)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* A label value: printable ASCII, escaped as the format asks. */
static void put_label(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '\\' || c == '"')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c > 0x7e)
            fputc('?', out);
        else
            fputc(c, out);
    }
}

/* "device k=v ..." (edited in place) into d. */
static int parse_device(char *line, struct dev *d)
{
    char *save = NULL;

    memset(d, 0, sizeof(*d));
    for (char *kv = strtok_r(line, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(kv, '=');

        if (!eq)
            return -1;
        *eq = '\0';
        if (!valid_key(kv) || !eq[1])
            return -1;
        if (!strcmp(kv, "domid") || !strcmp(kv, "devid")) {
            if (!valid_number(eq + 1))
                return -1;
            *(kv[2] == 'm' ? &d->domid : &d->devid) = eq + 1;
        } else if (!strcmp(kv, "state")) {
            d->state = eq + 1;
        } else if (!strcmp(kv, "mode")) {
            d->mode = eq + 1;
        } else {
            if (!valid_number(eq + 1) || d->nkv == MAX_KEYS)
                return -1;
            d->kv[d->nkv].key = kv;
            d->kv[d->nkv++].value = eq + 1;
        }
    }
    return d->domid && d->devid ? 0 : -1;
}

static const char *value_of(const struct dev *d, const char *key)
{
    for (unsigned i = 0; i < d->nkv; i++)
        if (!strcmp(d->kv[i].key, key))
            return d->kv[i].value;
    return NULL;
}

static void write_all(FILE *out, const struct dev *devs, unsigned ndev)
{
    fprintf(out, "# HELP vgrant_device_info A virtio-grant device vgrantd serves.\n"
                 "# TYPE vgrant_device_info gauge\n");
    for (unsigned i = 0; i < ndev; i++) {
        fprintf(out, "vgrant_device_info{domid=\"%s\",devid=\"%s\",state=\"",
                devs[i].domid, devs[i].devid);
        put_label(out, devs[i].state ? devs[i].state : "");
        fprintf(out, "\",mode=\"");
        put_label(out, devs[i].mode ? devs[i].mode : "");
        fprintf(out, "\"} 1\n");
    }
    /* one family per key, in the order keys first appear */
    for (unsigned i = 0; i < ndev; i++) {
        for (unsigned k = 0; k < devs[i].nkv; k++) {
            const char *key = devs[i].kv[k].key;
            bool seen = false, gauge = is_gauge(key);

            for (unsigned j = 0; j < i && !seen; j++)
                seen = value_of(&devs[j], key) != NULL;
            if (seen)
                continue;
            fprintf(out, "# HELP vgrant_%s%s vgrantd counter %s of the device (vgrant stats).\n"
                         "# TYPE vgrant_%s%s %s\n",
                    key, gauge ? "" : "_total", key,
                    key, gauge ? "" : "_total", gauge ? "gauge" : "counter");
            for (unsigned j = i; j < ndev; j++) {
                const char *v = value_of(&devs[j], key);

                if (v)
                    fprintf(out, "vgrant_%s%s{domid=\"%s\",devid=\"%s\"} %s\n",
                            key, gauge ? "" : "_total", devs[j].domid,
                            devs[j].devid, v);
            }
        }
    }
}

int vg_stats_prometheus(const char *reply, FILE *out)
{
    char *copy = strdup(reply ? reply : ""), *save = NULL, *line;
    struct dev *devs = NULL;
    unsigned announced, ndev = 0;
    char extra;
    int rc = -1;

    if (!copy)
        return -1;
    line = strtok_r(copy, "\n", &save);
    if (!line || sscanf(line, "ok %u%c", &announced, &extra) != 1 ||
        announced > MAX_DEVICES)
        goto malformed;
    if (announced && !(devs = calloc(announced, sizeof(*devs))))
        goto out;
    while ((line = strtok_r(NULL, "\n", &save)) && strcmp(line, "end")) {
        if (strncmp(line, "device ", 7) || ndev == announced ||
            parse_device(line + 7, &devs[ndev]))
            goto malformed;
        ndev++;
    }
    if (!line || ndev != announced || strtok_r(NULL, "\n", &save))
        goto malformed;
    write_all(out, devs, ndev);
    rc = (int)ndev;
    goto out;
malformed:
    errno = EPROTO;
out:
    free(devs);
    free(copy);
    return rc;
}
