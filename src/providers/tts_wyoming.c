/* Text to speech from a Wyoming TTS service (Home Assistant's wyoming-piper, port 10200): one TCP
 * connection per sentence. The service's info (asked once with describe) says whether it takes
 * Wyoming 1.7's streamed text: then synthesize-start {voice?}, synthesize-chunk {text}, the whole
 * synthesize {text, voice?} that older services act on and streaming ones ignore, synthesize-stop →
 * audio-start {rate, width, channels}, audio-chunk*, audio-stop (one group per sentence it found),
 * synthesize-stopped; otherwise synthesize → one audio-start … audio-stop. The voice is a Piper
 * voice name (--tts-voice or the avatar's). --tts-url host:port. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "providers/tts_remote.h"
#include "providers/wyoming_client.h"

enum { STREAM_UNKNOWN = 0, STREAM_YES, STREAM_NO };

/* Whether any TTS program of the service's info takes streamed text. */
static int info_streams(json_t *data)
{
    size_t i;
    json_t *p;
    json_array_foreach (json_object_get(data, "tts"), i, p)
        if (json_is_true(json_object_get(p, "supports_synthesize_streaming")))
            return 1;
    return 0;
}

static int ask_streaming(struct wyc_conn *c, char *why, size_t whylen)
{
    int err = wyc_send(c, "describe", NULL, NULL, 0);
    while (!err) {
        struct wyc_event ev;
        if ((err = wyc_next(c, &ev, why, whylen)))
            break;
        int done = !strcmp(ev.type, "info");
        int yes = done && info_streams(ev.data);
        wyc_event_clear(&ev);
        if (done)
            return yes ? STREAM_YES : STREAM_NO;
    }
    return -err;
}

/* Reads audio events into o until the end marker: synthesize-stopped when streaming, else audio-stop. */
static int read_audio(struct wyc_conn *c, int streaming, struct tts_remote_out *o, char *why, size_t whylen)
{
    long rate = 0;
    for (;;) {
        struct wyc_event ev;
        int err = wyc_next(c, &ev, why, whylen);
        if (err)
            return err;
        if (!strcmp(ev.type, "audio-start") || (!strcmp(ev.type, "audio-chunk") && !rate)) {
            json_t *d = ev.data;
            rate = (long)json_integer_value(json_object_get(d, "rate"));
            long width = (long)json_integer_value(json_object_get(d, "width"));
            long ch = (long)json_integer_value(json_object_get(d, "channels"));
            if (rate < 8000 || rate > 48000 || width != 2 || ch != 1) {
                snprintf(why, whylen,
                         "the Wyoming audio is not mono 16-bit PCM at 8–48 kHz (%ld Hz, %ld bytes, %ld ch)", rate,
                         width, ch);
                wyc_event_clear(&ev);
                return DP_ERR_UNAVAILABLE;
            }
        }
        int stop = 0;
        if (!strcmp(ev.type, "audio-chunk") && ev.payload_len)
            stop = tts_remote_pcm(o, (int)rate, ev.payload, ev.payload_len);
        int end = streaming ? !strcmp(ev.type, "synthesize-stopped") : !strcmp(ev.type, "audio-stop");
        int failed = !strcmp(ev.type, "error");
        if (failed) {
            const char *m = json_string_value(json_object_get(ev.data, "text"));
            snprintf(why, whylen, "the Wyoming service failed: %.200s", m ? m : "no reason given");
        }
        wyc_event_clear(&ev);
        if (stop)
            return DP_ERR_CANCELLED;
        if (failed)
            return DP_ERR_UNAVAILABLE;
        if (end)
            return DP_OK;
    }
}

static int wyoming_speak(struct tts_remote *r, const char *text, size_t len, const struct tts_voice *v,
                         struct tts_remote_out *o, long *retry_after_ms, char *why, size_t whylen)
{
    (void)retry_after_ms;
    atomic_int *streams = r->priv;
    const char *voice = v && v->voice && *v->voice ? v->voice : r->base.voice;
    struct wyc_conn c;
    int err = wyc_open(&c, r->url, 5000, r->timeout_ms / 2, r->timeout_ms, why, whylen);
    int mode = atomic_load(streams);
    if (!err && mode == STREAM_UNKNOWN) {
        mode = ask_streaming(&c, why, whylen);
        if (mode < 0)
            err = -mode;
        else
            atomic_store(streams, mode);
    }
    json_t *vo = voice[0] ? json_pack("{s:s}", "name", voice) : NULL;
    json_t *whole = json_pack("{s:s%}", "text", text, len);
    if (whole && vo)
        json_object_set(whole, "voice", vo);
    if (!err && !whole)
        err = DP_ERR_NOMEM;
    if (!err && mode == STREAM_YES) {
        json_t *start = vo ? json_pack("{s:O}", "voice", vo) : json_object();
        json_t *chunk = json_pack("{s:s%}", "text", text, len);
        err = start && chunk ? wyc_send(&c, "synthesize-start", start, NULL, 0) : DP_ERR_NOMEM;
        if (!err)
            err = wyc_send(&c, "synthesize-chunk", chunk, NULL, 0);
        if (!err)
            err = wyc_send(&c, "synthesize", whole, NULL, 0);
        if (!err)
            err = wyc_send(&c, "synthesize-stop", NULL, NULL, 0);
        json_decref(start);
        json_decref(chunk);
    } else if (!err) {
        err = wyc_send(&c, "synthesize", whole, NULL, 0);
    }
    if (err && !why[0])
        snprintf(why, whylen, "the Wyoming service did not take the text");
    if (!err)
        err = read_audio(&c, mode == STREAM_YES, o, why, whylen);
    json_decref(vo);
    json_decref(whole);
    wyc_close(&c);
    return err;
}

static void wyoming_cleanup(struct tts_remote *r)
{
    free(r->priv);
}

int tts_wyoming_new(const struct tts_config *cfg, struct tts_engine **out, char *msg, size_t msglen)
{
    struct tts_remote *r;
    int err = tts_remote_new(cfg, "wyoming", wyoming_speak, 0, &r, msg, msglen);
    if (err)
        return err;
    atomic_int *streams = malloc(sizeof *streams);
    if (!streams) {
        r->base.ops->destroy(&r->base);
        return DP_ERR_NOMEM;
    }
    atomic_init(streams, STREAM_UNKNOWN);
    r->priv = streams;
    r->cleanup = wyoming_cleanup;
    *out = &r->base;
    return DP_OK;
}
