/* Reply audio made once per content: clips cut from any recording (ffmpeg, sandboxed) and faded,
 * spoken replies synthesized in the profile's pitch and rate, both encoded as WAV or Ogg/Opus and
 * stored as blobs; a cache entry maps the hash of what shaped them to the blob, so the second
 * request (and every Range request of a player) is a file read. */
#include "talk/reply_voice.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/features.h"
#include "audio/ogg_opus.h"
#include "audio/resample.h"
#include "audio/wav.h"
#include "avatar/avatar_voice.h"
#include "avatar/voice_profile.h"
#include "core/context.h"
#include "core/err.h"
#include "ingest/audio_decode.h"
#include "providers/tts.h"
#include "store/cache.h"
#include "talk/talk.h"

#define CACHE_TTL_MS (7 * 24 * 3600 * 1000) /* the blob outlives it: a miss only re-makes the audio */
#define LOW_VOICE_HZ 165.0                  /* below: a stock male voice, above: a female one */
#define CALIBRATION "When I was young we walked to the river every morning and talked about everything."

/* ---- the stock voices' own speaking rates, measured once per pitch ------------------------- */

/* A voice's pace depends on the pitch it is retargeted to (a higher one is heard with fewer, longer
 * syllables by the rate measure), so it is measured at the pitch asked for, rounded to this. */
#define CALIBRATION_PITCH_STEP 10.0
#define CALIBRATIONS 32

struct calibration {
    const char *voice; /* static */
    int pitch;         /* rounded Hz; 0 = the voice's own */
    double rate_sps;
};
static struct calibration calibrated[CALIBRATIONS];
static int calibration_next; /* the entry replaced next when all are taken */
static pthread_mutex_t calibration_lock = PTHREAD_MUTEX_INITIALIZER;

/* The speaking rate of voice at its own pace and pitch_hz (measured on first use), 0 when it cannot
 * be. */
static double own_rate(struct tts_engine *t, const char *voice, double pitch_hz)
{
    int pitch = (int)(CALIBRATION_PITCH_STEP * (int)(pitch_hz / CALIBRATION_PITCH_STEP + 0.5));
    pthread_mutex_lock(&calibration_lock);
    double r = 0;
    for (int i = 0; i < CALIBRATIONS && calibrated[i].voice && !r; i++)
        if (!strcmp(calibrated[i].voice, voice) && calibrated[i].pitch == pitch)
            r = calibrated[i].rate_sps;
    if (!r && t->rate == FEATURES_RATE) {
        struct tts_voice v = {.voice = voice, .pitch_hz = (float)pitch};
        int16_t *pcm;
        size_t n;
        char why[64];
        if (!tts_synthesize_all(t, CALIBRATION, &v, &pcm, &n, NULL, NULL, why, sizeof why)) {
            struct voice_features f;
            features_measure(pcm, n, &f);
            free(pcm);
            calibrated[calibration_next] = (struct calibration){voice, pitch, r = f.rate_sps};
            calibration_next = (calibration_next + 1) % CALIBRATIONS;
        }
    }
    pthread_mutex_unlock(&calibration_lock);
    return r;
}

void talk_voice_for(const struct voice_features *f, struct tts_voice *v)
{
    memset(v, 0, sizeof *v);
    struct tts_engine *t = tts_current();
    if (!t || strcmp(t->name, "flite") || f->f0_mean_hz <= 0)
        return;
    v->voice = f->f0_mean_hz < LOW_VOICE_HZ ? "awb" : "slt";
    v->pitch_hz = (float)f->f0_mean_hz;
    v->pitch_std_hz = (float)f->f0_std_hz;
    double own = own_rate(t, v->voice, f->f0_mean_hz);
    if (own > 0 && f->rate_sps > 0) {
        double r = f->rate_sps / own;
        v->rate = (float)(r < 0.6 ? 0.6 : r > 1.6 ? 1.6 : r);
    }
}

int talk_voice_params(struct context *e, const char *avatar_id, struct tts_voice *v)
{
    memset(v, 0, sizeof *v);
    struct voice_features f;
    int n;
    int err = voice_profile_get(e->db, avatar_id, &f, &n);
    if (!err && n)
        talk_voice_for(&f, v);
    /* A remote synthesizer speaks the voice chosen for the avatar (its own name for it); the local
     * engine keeps the stock voice of the profile's register. */
    static __thread char chosen[AVATAR_TTS_VOICE_MAX + 1];
    struct tts_engine *t = tts_current();
    if (!err && t && strcmp(t->name, "flite") && !(err = avatar_tts_voice_get(e->db, avatar_id, chosen)) && chosen[0])
        v->voice = chosen;
    return err;
}

/* ---- making the audio ------------------------------------------------------------------------ */

static int encode(const int16_t *pcm, size_t n, enum reply_format fmt, uint8_t **out, size_t *len)
{
    if (fmt == REPLY_OGG)
        return ogg_opus_encode(pcm, n, REPLY_AUDIO_RATE, 0, out, len);
    struct wav_info w = {.channels = 1, .rate = REPLY_AUDIO_RATE, .bits = 16, .frame_bytes = 2};
    *len = WAV_HEADER_LEN + n * 2;
    if (!(*out = malloc(*len)))
        return DP_ERR_NOMEM;
    wav_header(&w, n, *out);
    memcpy(*out + WAV_HEADER_LEN, pcm, n * 2);
    return DP_OK;
}

int talk_speak(struct context *e, const char *avatar_id, const char *text, float speed, int16_t **pcm, size_t *n,
               char *why, size_t whylen)
{
    struct tts_engine *t = tts_current();
    if (!t) {
        snprintf(why, whylen, "no speech synthesis is configured (tts-provider none)");
        return DP_ERR_UNAVAILABLE;
    }
    struct tts_voice v;
    int16_t *raw;
    size_t m;
    int err = talk_voice_params(e, avatar_id, &v);
    if (!err && speed > 0 && speed != 1)
        v.rate = (v.rate > 0 ? v.rate : 1) * speed;
    if (!err)
        err = tts_synthesize_all(t, text, &v, &raw, &m, NULL, NULL, why, whylen);
    if (err)
        return err;
    err = audio_resample(raw, m, t->rate, REPLY_AUDIO_RATE, 4, pcm, n);
    free(raw);
    return err;
}

static int speak(struct context *e, const struct talk_audio *a, int16_t **pcm, size_t *n, char *why, size_t whylen)
{
    return talk_speak(e, a->avatar_id, a->text, 1, pcm, n, why, whylen);
}

static int cut_clip(struct context *e, const struct talk_audio *a, int16_t **pcm, size_t *n, char *why, size_t whylen)
{
    struct blob_file file;
    int truncated;
    int err = blob_file_get(e->blobs, a->key, &file);
    if (!err) {
        err = audio_decode_span(file.path, a->start_ms, a->end_ms - a->start_ms, pcm, n, &truncated, why, whylen);
        blob_file_release(&file);
    }
    if (!err)
        audio_fade(*pcm, *n, REPLY_AUDIO_RATE, REPLY_CLIP_FADE_MS);
    return err;
}

/* What shaped the audio, hashed: the same inputs always find the same blob. */
static void content_key(struct context *e, const struct talk_audio *a, int spoken, enum reply_format fmt, char out[96])
{
    char head[512];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    if (spoken) {
        struct tts_voice v;
        talk_voice_params(e, a->avatar_id, &v);
        struct tts_engine *t = tts_current();
        snprintf(head, sizeof head, "speech|1|%s|%s|%s|%.1f|%.1f|%.3f|%d|", t ? t->name : "", t ? t->voice : "",
                 v.voice ? v.voice : "", v.pitch_hz, v.pitch_std_hz, v.rate, fmt);
        crypto_hash_sha256_update(&st, (const unsigned char *)head, strlen(head));
        crypto_hash_sha256_update(&st, (const unsigned char *)a->text, strlen(a->text));
    } else {
        snprintf(head, sizeof head, "clip|1|%s|%lld|%lld|%d", a->key, (long long)a->start_ms, (long long)a->end_ms,
                 fmt);
        crypto_hash_sha256_update(&st, (const unsigned char *)head, strlen(head));
    }
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, d);
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, d, sizeof d);
    snprintf(out, 96, "reply-audio:%s", hex);
}

/* The blob named by the cache entry, when both are still there. */
static int kept(struct context *e, const char *ckey, char key[BLOB_KEY_LEN + 1])
{
    char *val = NULL;
    size_t len = 0;
    struct blob_reader *br;
    uint64_t size;
    if (!e->cache || cache_get(e->cache, ckey, &val, &len) || len != BLOB_KEY_LEN) {
        free(val);
        return 0;
    }
    memcpy(key, val, BLOB_KEY_LEN);
    key[BLOB_KEY_LEN] = 0;
    free(val);
    if (blob_reader_open(e->blobs, key, &br, &size))
        return 0;
    blob_reader_close(br);
    return 1;
}

int talk_reply_voice(struct context *e, const struct talk_audio *a, int spoken, enum reply_format fmt,
                     char key[BLOB_KEY_LEN + 1], char *why, size_t whylen)
{
    char ckey[96];
    if (whylen)
        why[0] = 0;
    content_key(e, a, spoken, fmt, ckey);
    if (kept(e, ckey, key))
        return DP_OK;
    int16_t *pcm = NULL;
    size_t n = 0;
    int err = spoken ? speak(e, a, &pcm, &n, why, whylen) : cut_clip(e, a, &pcm, &n, why, whylen);
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (!err)
        err = encode(pcm, n, fmt, &bytes, &len);
    free(pcm);
    if (!err)
        err = blob_put(e->blobs, bytes, len, key);
    free(bytes);
    if (!err && e->cache) /* a cache that cannot keep it costs only a re-make next time */
        cache_set(e->cache, ckey, key, BLOB_KEY_LEN, CACHE_TTL_MS);
    return err;
}
