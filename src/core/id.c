/* UUIDv7 generation: 48-bit ms timestamp, 12-bit sequence, 62 random bits. */
#include "core/id.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/timeutil.h"

static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t id_last_ms;
static uint16_t id_seq;

/* Lays out a UUIDv7 from the ms timestamp, a 12-bit sequence and the random bytes in b. */
static void format_v7(uint8_t b[16], int64_t ms, uint16_t seq, char out[ID_LEN])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | (seq >> 8));
    b[7] = (uint8_t)seq;
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
    size_t at = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[at++] = '-';
        out[at++] = hex[b[i] >> 4];
        out[at++] = hex[b[i] & 15];
    }
    out[at] = 0;
}

void id_new_label(char out[ID_LEN])
{
    static _Thread_local uint64_t s0, s1;
    static _Thread_local uint16_t seq;
    if (!s0 && !s1) {
        uint64_t seed[2];
        randombytes_buf(seed, sizeof seed);
        s0 = seed[0] | 1;
        s1 = seed[1];
    }
    uint8_t b[16];
    for (int half = 0; half < 2; half++) { /* xorshift128+ */
        uint64_t x = s0, y = s1;
        s0 = y;
        x ^= x << 23;
        s1 = x ^ y ^ (x >> 17) ^ (y >> 26);
        uint64_t r = s1 + y;
        memcpy(b + 8 * half, &r, 8);
    }
    format_v7(b, time_now_ms(), (uint16_t)(seq++ & 0x0fff), out);
}

/* 16 bytes of the system's CSPRNG, drawn 512 at a time: a getrandom system call per id was one
 * of the costlier steps of a chat message. */
static void random16(uint8_t b[16])
{
    static _Thread_local uint8_t pool[512];
    static _Thread_local size_t left;
    if (!left) {
        randombytes_buf(pool, sizeof pool);
        left = sizeof pool;
    }
    left -= 16;
    memcpy(b, pool + left, 16);
    sodium_memzero(pool + left, 16); /* what was handed out is not kept */
}

void id_new(char out[ID_LEN])
{
    uint8_t b[16];
    random16(b);
    int64_t ms = time_now_ms();
    /* Within one millisecond the 12-bit counter keeps ids sorted (RFC 9562 method 1). */
    pthread_mutex_lock(&id_lock);
    if (ms <= id_last_ms) {
        ms = id_last_ms;
        if (++id_seq > 0x0fff) {
            id_seq = 0;
            ms = ++id_last_ms;
        }
    } else {
        id_last_ms = ms;
        id_seq = (uint16_t)(b[6] & 0x07) << 8 | b[7]; /* random start, room to count up */
    }
    uint16_t seq = id_seq;
    pthread_mutex_unlock(&id_lock);
    format_v7(b, ms, seq, out);
}

int id_valid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }
    return 1;
}
