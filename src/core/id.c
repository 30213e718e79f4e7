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

void id_new(char out[ID_LEN])
{
    uint8_t b[16];
    randombytes_buf(b, sizeof b);
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
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | (seq >> 8));
    b[7] = (uint8_t)seq;
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
    snprintf(out, ID_LEN, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
             b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
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
