/* The voice a remote synthesizer speaks an avatar with (PATCH /api/v1/avatars/{id} {tts_voice}):
 * the provider's own word for it — an ElevenLabs voice id, an OpenAI voice name, a Piper voice —
 * kept in avatar_voices. The local engine picks its voice from the voice profile instead. */
#ifndef DP_AVATAR_VOICE_H
#define DP_AVATAR_VOICE_H

#include <jansson.h>

#define AVATAR_TTS_VOICE_MAX 128 /* bytes of a voice name or id */

struct db;

/* NULL when v (a body's tts_voice) is acceptable: null (none) or 1–128 characters of letters,
 * digits and _ . : -; else what is wrong. */
const char *avatar_tts_voice_problem(json_t *v);
/* Sets (voice) or clears (NULL) the avatar's voice. */
int avatar_tts_voice_set(struct db *db, const char *avatar_id, const char *voice);
/* The avatar's voice into out ("" when it has none). */
int avatar_tts_voice_get(struct db *db, const char *avatar_id, char out[AVATAR_TTS_VOICE_MAX + 1]);

#endif
