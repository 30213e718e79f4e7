/* Containers to PCM through the ffmpeg CLI (LGPL/GPL: a separate program, never linked). Only
 * file input and a fixed list of demuxers are allowed, so a playlist or concat script inside an
 * upload cannot make ffmpeg read other files or the network; rlimits bound CPU, memory and time. */
#include "ingest/audio_decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "ingest/subprocess.h"

/* The demuxers of the containers people upload; no playlists (hls, concat), no images, no devices. */
#define DEMUXERS "wav,w64,mp3,mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,ogg,flac,aac,amr,au,aiff,caf,asf"

int audio_decode_file(const char *path, int64_t max_ms, int16_t **pcm, size_t *n, int *truncated, char *why,
                      size_t whylen)
{
    return audio_decode_span(path, 0, max_ms, pcm, n, truncated, why, whylen);
}

int audio_decode_span(const char *path, int64_t start_ms, int64_t max_ms, int16_t **pcm, size_t *n, int *truncated,
                      char *why, size_t whylen)
{
    *pcm = NULL;
    *n = 0;
    *truncated = 0;
    char input[4200], limit[32], start[32];
    snprintf(start, sizeof start, "%.3f", (double)start_ms / 1000.0);
    snprintf(input, sizeof input, "file:%s", path);
    /* 10 ms more than allowed: more output than max_ms says the file is longer. */
    snprintf(limit, sizeof limit, "%.3f", (double)(max_ms + 10) / 1000.0);
    const char *argv[] = {"ffmpeg",
                          "-nostdin",
                          "-hide_banner",
                          "-loglevel",
                          "error",
                          "-threads",
                          "1",
                          "-protocol_whitelist",
                          "file",
                          "-format_whitelist",
                          DEMUXERS,
                          "-ss",
                          start,
                          "-i",
                          input,
                          "-map",
                          "0:a:0",
                          "-vn",
                          "-sn",
                          "-dn",
                          "-ac",
                          "1",
                          "-ar",
                          "16000",
                          "-t",
                          limit,
                          "-f",
                          "s16le",
                          "-acodec",
                          "pcm_s16le",
                          "pipe:1",
                          NULL};
    size_t max_bytes = (size_t)(max_ms + 10) * (AUDIO_DECODE_RATE / 1000) * 2 + 4096;
    struct subproc_limits lim = {.cpu_seconds = 300, .mem_bytes = (size_t)1 << 30, .timeout_ms = 600000};
    struct buf out;
    buf_init(&out, max_bytes);
    char err_msg[512] = "";
    int err = subproc_run(argv, NULL, &lim, &out, err_msg, sizeof err_msg);
    if (err == DP_ERR_UNSUPPORTED)
        snprintf(why, whylen, "the file holds no audio ffmpeg can decode (%s)", err_msg);
    else if (err)
        snprintf(why, whylen, "decoding failed: %s", err_msg[0] ? err_msg : dp_strerror(err));
    if (err) {
        buf_cleanup(&out);
        return err;
    }
    size_t samples = out.len / 2, cap = (size_t)max_ms * (AUDIO_DECODE_RATE / 1000);
    if (samples > cap) {
        samples = cap;
        *truncated = 1;
    }
    size_t len;
    *pcm = (int16_t *)buf_steal(&out, &len);
    if (!*pcm) /* an empty output: a file with a silent or zero-length track */
        *pcm = malloc(sizeof **pcm);
    if (!*pcm)
        return DP_ERR_NOMEM;
    *n = samples;
    return DP_OK;
}

int audio_decode_mem(const void *p, size_t len, int64_t max_ms, int16_t **pcm, size_t *n, int *truncated, char *why,
                     size_t whylen)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/doppel-audio-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(why, whylen, "cannot make a temporary file");
        return DP_ERR_IO;
    }
    const char *at = p;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, at, left);
        if (w <= 0) {
            close(fd);
            unlink(path);
            snprintf(why, whylen, "cannot write a temporary file");
            return DP_ERR_IO;
        }
        at += w;
        left -= (size_t)w;
    }
    close(fd);
    int err = audio_decode_file(path, max_ms, pcm, n, truncated, why, whylen);
    unlink(path);
    return err;
}
