/* A reply as audio, in the avatar's voice: the clip of the recording it quotes (decoded from any
 * container, with short fades) or its text spoken by the TTS engine with the pitch and rate of the
 * avatar's voice profile. Either is made once and kept in the blob store, found again by a hash of
 * everything that shaped it (cache "reply-audio:<sha256>"). */
#ifndef DP_REPLY_VOICE_H
#define DP_REPLY_VOICE_H

#include <stddef.h>
#include <stdint.h>

#include "store/blob.h"

struct context;
struct talk_audio;
struct tts_voice;

enum reply_format { REPLY_WAV, REPLY_OGG };

#define REPLY_AUDIO_RATE 16000
#define REPLY_CLIP_FADE_MS 15

/* The blob holding the reply's audio in fmt (made now when not kept yet). spoken: a->text is to
 * be synthesized; else the clip [a->start_ms, a->end_ms) of blob a->key. DP_ERR_UNSUPPORTED when
 * the recording cannot be decoded, DP_ERR_UNAVAILABLE without a TTS engine; why says more. */
int talk_reply_voice(struct context *e, const struct talk_audio *a, int spoken, enum reply_format fmt,
                     char key[BLOB_KEY_LEN + 1], char *why, size_t whylen);

/* text spoken in the avatar's voice (its profile's pitch and rate, times speed when it is not 0)
 * into *pcm (malloc'd, *n samples at REPLY_AUDIO_RATE). DP_ERR_UNAVAILABLE without a TTS engine. */
int talk_speak(struct context *e, const char *avatar_id, const char *text, float speed, int16_t **pcm, size_t *n,
               char *why, size_t whylen);

struct voice_features;
/* The TTS voice that speaks like profile f: a stock voice of its register (flite: awb below
 * 165 Hz, slt above) retargeted to its mean pitch and spread, at its speaking rate relative to
 * that voice's own at that pitch (measured once per voice and 10 Hz), clamped to 0.6–1.6. Nothing
 * for other engines. */
void talk_voice_for(const struct voice_features *f, struct tts_voice *v);

/* How the avatar's voice is spoken: its profile's pitch (and a stock voice of that register) and
 * its rate relative to the voice's own; with a remote synthesizer, the voice chosen for the avatar
 * (tts_voice). v->voice points at static (thread-local) storage. No profile nor voice: all 0. */
int talk_voice_params(struct context *e, const char *avatar_id, struct tts_voice *v);

#endif
