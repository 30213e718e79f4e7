/* The client side of the Wyoming protocol over TCP (Home Assistant's voice services: faster-whisper
 * on port 10300, Piper on 10200): each event is one JSON header line {type, version?, data?,
 * data_length?, payload_length?}, then data_length bytes of JSON merged into data, then
 * payload_length bytes of payload (PCM for audio-chunk). The parser is pure (fuzzed by
 * fuzz/fuzz_wyoming_client.c); the connection adds deadlines. */
#ifndef DP_WYOMING_CLIENT_H
#define DP_WYOMING_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define WYC_HEADER_MAX 65536              /* bytes of a header line, and of a data block */
#define WYC_PAYLOAD_MAX ((size_t)4 << 20) /* bytes of one payload */
#define WYC_VERSION "1.7.0"

struct wyc_event {
    char type[64];
    json_t *data;           /* owned (an object, maybe empty) */
    const uint8_t *payload; /* borrowed from the buffer parsed; NULL when none */
    size_t payload_len;
};

enum { WYC_MORE = 0, WYC_EVENT = 1, WYC_ERROR = 2 };

/* One event at the start of buf[0..len): WYC_EVENT (*used bytes make it up; free ev->data with
 * wyc_event_clear), WYC_MORE (it is not all there yet), WYC_ERROR (why: not the protocol). */
int wyc_parse(const uint8_t *buf, size_t len, struct wyc_event *ev, size_t *used, char *why, size_t whylen);
void wyc_event_clear(struct wyc_event *ev);

/* A connection to a Wyoming service. */
struct wyc_conn {
    int fd;
    struct buf in;   /* received, not yet handed out */
    size_t used;     /* bytes of in the last event handed out holds (dropped at the next read) */
    long idle_ms;    /* longest wait for the next bytes (a stalled service) */
    double deadline; /* time_mono() by which the whole exchange ends */
};

/* Connects within connect_ms; idle_ms and total_ms bound everything after. why never holds secrets. */
int wyc_open(struct wyc_conn *c, const char *address, long connect_ms, long idle_ms, long total_ms, char *why,
             size_t whylen);
/* Sends event type with data (borrowed; NULL: none) and payload (may be NULL). */
int wyc_send(struct wyc_conn *c, const char *type, json_t *data, const void *payload, size_t n);
/* The next event from the service (its payload valid until the next call). DP_ERR_UNAVAILABLE
 * when it hung up or broke the protocol, DP_ERR_TIMEOUT when it stalled or ran out of time. */
int wyc_next(struct wyc_conn *c, struct wyc_event *ev, char *why, size_t whylen);
void wyc_close(struct wyc_conn *c);

#endif
