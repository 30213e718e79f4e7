/* Wyoming-style framing of device audio over WebSocket (Friend-Lite / Omi clients): a text frame
 * holds one JSON header line, and when payload_length > 0 the payload follows as the next binary
 * frame. Pure: no I/O, no allocation kept between calls (fuzzed by fuzz/fuzz_wyoming.c). */
#ifndef DP_WYOMING_H
#define DP_WYOMING_H

#include <stddef.h>
#include <stdint.h>

#define WY_HEADER_MAX 8192          /* bytes of one header text frame (header line + data block) */
#define WY_PAYLOAD_MAX (256 * 1024) /* bytes of one chunk's payload (8 s of 16 kHz PCM16) */
#define WY_TYPE_MAX 32

enum wy_type { WY_AUDIO_START = 1, WY_AUDIO_CHUNK, WY_AUDIO_STOP, WY_PING, WY_OTHER };

/* One complete event: its header fields and, for audio-chunk, its payload. */
struct wy_event {
    enum wy_type type;
    char name[WY_TYPE_MAX + 1]; /* the header's "type" as sent */
    long rate, width, channels; /* from data; 0 when absent */
    int batch;                  /* audio-start data.mode == "batch" */
    int64_t timestamp_ms;       /* data.timestamp (ms); -1 when absent */
    int64_t seq;                /* data.seq or header seq; -1 when absent */
    const uint8_t *payload;     /* borrowed from the frame given to wy_feed; NULL when none */
    size_t payload_len;
    int raw; /* a binary frame that came without a header (raw PCM) */
};

/* What the stream waits for next. */
enum wy_state { WY_WANT_HEADER = 0, WY_WANT_DATA, WY_WANT_PAYLOAD, WY_SKIP_PAYLOAD };

struct wy_stream {
    enum wy_state state;
    int allow_raw;           /* binary frames without a header are PCM (/ws_pcm) */
    size_t payload_max;      /* cap of payload_length; 0 = WY_PAYLOAD_MAX */
    struct wy_event pending; /* the header awaiting its data block or payload */
    size_t want;             /* bytes of the data block / payload announced */
};

enum wy_result { WY_MORE = 0, WY_EVENT = 1, WY_ERROR = 2 };

/* Feeds one WebSocket message. WY_EVENT: *ev is complete (its payload points into p); WY_MORE:
 * a header waits for its data block or payload; WY_ERROR: code (a stable word: bad_header,
 * too_large, payload_mismatch, no_header, unexpected_text) and why are set, the offending
 * frame is dropped and the stream stays usable — a rejected header that announced a payload
 * also drops the binary frame that follows it, so that it is never taken for raw PCM. */
enum wy_result wy_feed(struct wy_stream *s, int is_text, const uint8_t *p, size_t n, struct wy_event *ev,
                       const char **code, char *why, size_t whylen);

#endif
