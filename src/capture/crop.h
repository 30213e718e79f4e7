/* Crop to speech: a closed conversation is filed (as its self avatar's media) without its long
 * silences, so that listening to it, and to what its memories cite, is listening to talk. Each
 * speech segment the VAD found keeps CROP_PAD_MS of audio on either side (onsets and trailing
 * sounds the VAD clips); a silence of up to CROP_GAP_MS between two segments is a pause in the
 * talk and stays whole; a longer one is dropped but for the padding. The original recording
 * stays as it was. The pieces kept are the media's timeline (avatar/media_timeline.h): the
 * transcript's spans are in the cropped audio's time and map back to the recording's. */
#ifndef DP_CAPTURE_CROP_H
#define DP_CAPTURE_CROP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct blob_store;
struct blob_writer;

#define CROP_PAD_MS 500
#define CROP_GAP_MS 2000

/* The pieces to keep of a recording of duration_ms whose speech is segments ([[start_ms,
 * end_ms], ...] in order): a timeline [[media_ms, recording_ms, len_ms], ...] (owned), empty
 * when there is no speech. */
json_t *crop_plan(const json_t *segments, int64_t duration_ms);

/* Writes the WAV of the pieces of timeline cut from the recording's WAV (blob key) to a new blob
 * writer *w (the caller commits or aborts it): *size bytes, the first *sniff_len of them (at most
 * sniff_max) copied to sniff. The pieces' times are turned into frames as wav_span does. */
int crop_write(struct blob_store *bs, const char *key, const json_t *timeline, struct blob_writer **w, uint64_t *size,
               char *sniff, size_t sniff_max, size_t *sniff_len);

#endif
