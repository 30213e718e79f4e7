/* Opus packets one at a time (RFC 6716) for live streams: a decoder to 16 kHz mono PCM16 and an
 * encoder of 20 ms frames, both over libopus. No container: a packet is one WebSocket frame. */
#ifndef DP_OPUS_PACKET_H
#define DP_OPUS_PACKET_H

#include <stddef.h>
#include <stdint.h>

#define OPUS_PACKET_MAX 1500         /* bytes of one packet taken from outside (RFC 6716: 1275 a frame) */
#define OPUS_DECODE_MAX_SAMPLES 1920 /* 120 ms at 16 kHz: the longest packet */

struct opus_dec;
struct opus_enc;

/* A decoder of mono packets to rate Hz (8000, 12000, 16000, 24000 or 48000). NULL on failure. */
struct opus_dec *opus_dec_new(int rate);
void opus_dec_free(struct opus_dec *d);

/* Decodes one packet into pcm (room for max samples): the samples written, or -1 when the packet
 * is damaged (the decoder stays usable). */
int opus_dec_packet(struct opus_dec *d, const uint8_t *p, size_t n, int16_t *pcm, int max);

/* An encoder of mono rate Hz PCM16 for speech (VoIP application, bitrate bps). NULL on failure. */
struct opus_enc *opus_enc_new(int rate, int bitrate);
void opus_enc_free(struct opus_enc *e);

/* Encodes one 20 ms frame (rate / 50 samples) into out (room for max bytes): the packet's bytes,
 * or -1. */
int opus_enc_frame(struct opus_enc *e, const int16_t *pcm, uint8_t *out, int max);

#endif
