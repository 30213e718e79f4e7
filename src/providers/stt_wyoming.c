/* Speech to text from a Wyoming ASR service (Home Assistant's wyoming-faster-whisper, port 10300):
 * over one TCP connection per utterance, transcribe {language?, name?}, audio-start {rate, width,
 * channels}, audio-chunk events of one second of 16 kHz PCM16, audio-stop → transcript {text}.
 * A streaming server (Wyoming ≥ 1.6) sends transcript-start, transcript-chunk {text} pieces and
 * transcript-stop before the final transcript: the pieces joined so far are reported as the
 * partial transcript (stt_remote_partial: a voice session shows them), and when a server hangs up
 * after transcript-stop without a final transcript, the pieces are the final. No word timings:
 * the protocol carries none. --stt-url host:port. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/utf8.h"
#include "providers/stt_remote.h"
#include "providers/wyoming_client.h"

#define CHUNK_SAMPLES STT_RATE          /* one second per audio-chunk */
#define STT_STREAM_TEXT_MAX (64u << 10) /* bytes of a streamed transcript kept */

static json_t *format(void)
{
    return json_pack("{s:i,s:i,s:i}", "rate", STT_RATE, "width", 2, "channels", 1);
}

static int send_audio(struct wyc_conn *c, const int16_t *pcm, size_t n)
{
    json_t *f = format();
    int err = f ? wyc_send(c, "audio-start", f, NULL, 0) : DP_ERR_NOMEM;
    uint8_t bytes[CHUNK_SAMPLES * 2];
    for (size_t at = 0; !err && at < n; at += CHUNK_SAMPLES) {
        size_t k = n - at < CHUNK_SAMPLES ? n - at : CHUNK_SAMPLES;
        for (size_t i = 0; i < k; i++) { /* little-endian whatever the host */
            bytes[2 * i] = (uint8_t)((uint16_t)pcm[at + i] & 0xff);
            bytes[2 * i + 1] = (uint8_t)((uint16_t)pcm[at + i] >> 8);
        }
        err = wyc_send(c, "audio-chunk", f, bytes, k * 2);
    }
    if (!err)
        err = wyc_send(c, "audio-stop", NULL, NULL, 0);
    json_decref(f);
    return err;
}

/* The final transcript text into out. */
static int final_text(const char *text, struct stt_result *out)
{
    while (*text == ' ')
        text++;
    out->text = strdup(text);
    out->confidence = 1.0f; /* the protocol says nothing of it */
    return out->text ? DP_OK : DP_ERR_NOMEM;
}

/* One event of a streamed transcript: start clears the pieces, a chunk adds its text (valid UTF-8,
 * within STT_STREAM_TEXT_MAX) and reports them so far, stop marks them whole. */
static int streamed(const struct wyc_event *ev, struct buf *pieces, int *stopped)
{
    if (!strcmp(ev->type, "transcript-start")) {
        pieces->len = 0;
        *stopped = 0;
        return DP_OK;
    }
    if (!strcmp(ev->type, "transcript-stop")) {
        *stopped = 1;
        return DP_OK;
    }
    const char *t = json_string_value(json_object_get(ev->data, "text"));
    size_t n = t ? strlen(t) : 0;
    if (!n || !utf8_valid(t, n) || pieces->len + n > STT_STREAM_TEXT_MAX)
        return DP_OK; /* a piece that is not text, or past any utterance's length: not shown */
    int err = buf_append(pieces, t, n);
    if (!err) {
        const char *so_far = pieces->data;
        while (*so_far == ' ')
            so_far++;
        if (*so_far)
            stt_remote_partial(so_far);
    }
    return err;
}

static int wyoming_recognize(struct stt_remote *r, const int16_t *pcm, size_t n, struct stt_result *out,
                             long *retry_after_ms, char *why, size_t whylen)
{
    (void)retry_after_ms;
    struct wyc_conn c;
    int err = wyc_open(&c, r->url, 5000, r->timeout_ms, r->timeout_ms, why, whylen);
    json_t *t = err ? NULL : json_object();
    if (t && r->language[0])
        json_object_set_new(t, "language", json_string(r->language));
    if (t && r->base.model[0])
        json_object_set_new(t, "name", json_string(r->base.model));
    if (!err)
        err = t ? wyc_send(&c, "transcribe", t, NULL, 0) : DP_ERR_NOMEM;
    json_decref(t);
    if (!err)
        err = send_audio(&c, pcm, n);
    if (err && !why[0])
        snprintf(why, whylen, "the Wyoming service did not take the audio");
    struct buf pieces; /* the streamed transcript so far */
    buf_init(&pieces, 0);
    int stopped = 0; /* transcript-stop seen: the pieces are whole */
    while (!err) {
        struct wyc_event ev;
        if ((err = wyc_next(&c, &ev, why, whylen))) {
            if (stopped && (err = final_text(pieces.len ? pieces.data : "", out)) == DP_OK)
                why[0] = 0;
            break;
        }
        if (!strcmp(ev.type, "transcript-start") || !strcmp(ev.type, "transcript-chunk") ||
            !strcmp(ev.type, "transcript-stop")) {
            err = streamed(&ev, &pieces, &stopped);
            wyc_event_clear(&ev);
            continue;
        }
        if (!strcmp(ev.type, "transcript")) {
            const char *text = json_string_value(json_object_get(ev.data, "text"));
            if (!text || !utf8_valid(text, strlen(text))) {
                snprintf(why, whylen, "the Wyoming transcript has no text");
                err = DP_ERR_UNAVAILABLE;
            } else {
                err = final_text(text, out);
            }
            wyc_event_clear(&ev);
            break;
        }
        if (!strcmp(ev.type, "error")) {
            const char *m = json_string_value(json_object_get(ev.data, "text"));
            snprintf(why, whylen, "the Wyoming service failed: %.200s", m ? m : "no reason given");
            err = DP_ERR_UNAVAILABLE;
        }
        wyc_event_clear(&ev);
    }
    buf_cleanup(&pieces);
    wyc_close(&c);
    return err;
}

int stt_wyoming_new(const struct stt_config *cfg, struct stt_engine **out, char *msg, size_t msglen)
{
    struct stt_remote *r;
    int err = stt_remote_new(cfg, "wyoming", wyoming_recognize, &r, msg, msglen);
    if (!err)
        *out = &r->base;
    return err;
}
