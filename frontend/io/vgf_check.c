/* SPDX-License-Identifier: MIT */
#include "vgf_check.h"

uint64_t vgf_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void vgf_pattern_fill(uint8_t *buf, uint64_t off, size_t len, uint64_t seed)
{
    for (size_t i = 0; i + 8 <= len; i += 8) {
        uint64_t v = vgf_mix64(seed ^ ((off + i) >> 3) * 0xd6e8feb86659fd93ull);
        for (int b = 0; b < 8; b++)
            buf[i + (size_t)b] = (uint8_t)(v >> (8 * b));
    }
}

/* CRC-32 with polynomial 0x04C11DB7, most significant bit first, no
 * reflection: the one POSIX specifies for cksum. */
static uint32_t crc_byte(uint32_t crc, uint8_t byte)
{
    static uint32_t table[256];
    static int ready;   /* idempotent fill: a race writes the same values */

    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i << 24;
            for (int k = 0; k < 8; k++)
                c = c & 0x80000000u ? (c << 1) ^ 0x04c11db7u : c << 1;
            table[i] = c;
        }
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
    return (crc << 8) ^ table[(crc >> 24) ^ byte];
}

uint32_t vgf_cksum_update(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;

    for (size_t i = 0; i < len; i++)
        crc = crc_byte(crc, p[i]);
    return crc;
}

uint32_t vgf_cksum_finish(uint32_t crc, uint64_t total_len)
{
    /* the length, least significant byte first, as few bytes as needed */
    for (; total_len; total_len >>= 8)
        crc = crc_byte(crc, (uint8_t)total_len);
    return ~crc;
}
