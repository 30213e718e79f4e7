/* Crop to speech (see crop.h). */
#include "capture/crop.h"

#include <stdlib.h>
#include <string.h>

#include "audio/wav.h"
#include "core/err.h"
#include "store/blob.h"

json_t *crop_plan(const json_t *segments, int64_t duration_ms)
{
    json_t *plan = json_array();
    int64_t keep_start = -1, keep_end = -1, media_ms = 0;
    size_t n = json_array_size(segments);
    for (size_t i = 0; i <= n; i++) {
        int64_t s = -1, e = -1;
        if (i < n) {
            const json_t *seg = json_array_get(segments, i);
            s = json_integer_value(json_array_get(seg, 0)) - CROP_PAD_MS;
            e = json_integer_value(json_array_get(seg, 1)) + CROP_PAD_MS;
            s = s < 0 ? 0 : s;
            e = e > duration_ms ? duration_ms : e;
            if (e <= s)
                continue;
            /* A pause of up to CROP_GAP_MS (between the padded ends) belongs to the talk. */
            if (keep_end >= 0 && s - keep_end <= CROP_GAP_MS) {
                keep_end = e > keep_end ? e : keep_end;
                continue;
            }
        }
        if (keep_end > keep_start && keep_start >= 0) {
            json_array_append_new(plan, json_pack("[I,I,I]", (json_int_t)media_ms, (json_int_t)keep_start,
                                                  (json_int_t)(keep_end - keep_start)));
            media_ms += keep_end - keep_start;
        }
        keep_start = s, keep_end = e;
    }
    return plan;
}

static long read_blob(void *ctx, uint64_t off, void *buf, size_t n)
{
    return blob_read_at(ctx, off, buf, n);
}

/* Copies frames [first, first + count) of the recording to w, noting the first bytes written. */
static int copy_frames(struct blob_reader *r, const struct wav_info *info, uint64_t first, uint64_t count,
                       struct blob_writer *w, char *buf, size_t piece, uint64_t *written, char *sniff, size_t sniff_max,
                       size_t *sniff_len)
{
    uint64_t off = info->data_off + first * info->frame_bytes, left = count * info->frame_bytes;
    while (left) {
        size_t want = left < piece ? (size_t)left : piece;
        long got = blob_read_at(r, off, buf, want);
        if (got <= 0)
            return DP_ERR_IO;
        if (*written < sniff_max) {
            size_t k = sniff_max - *written < (uint64_t)got ? sniff_max - (size_t)*written : (size_t)got;
            memcpy(sniff + *written, buf, k);
            *sniff_len = (size_t)*written + k;
        }
        int err = blob_write(w, buf, (size_t)got);
        if (err)
            return err;
        off += (uint64_t)got, left -= (uint64_t)got, *written += (uint64_t)got;
    }
    return DP_OK;
}

int crop_write(struct blob_store *bs, const char *key, const json_t *timeline, struct blob_writer **w, uint64_t *size,
               char *sniff, size_t sniff_max, size_t *sniff_len)
{
    *w = NULL, *size = 0, *sniff_len = 0;
    struct blob_reader *r;
    uint64_t blob_size;
    int err = blob_reader_open(bs, key, &r, &blob_size);
    if (err)
        return err;
    struct wav_info info;
    if ((err = wav_parse(read_blob, r, blob_size, &info))) {
        blob_reader_close(r);
        return err;
    }
    size_t n = json_array_size(timeline);
    uint64_t frames = 0, first, count;
    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_array_get(timeline, i);
        int64_t at = json_integer_value(json_array_get(p, 1)), len = json_integer_value(json_array_get(p, 2));
        wav_span(&info, (uint64_t)at, (uint64_t)(at + len), &first, &count);
        frames += count;
    }
    static const size_t piece = 256 * 1024;
    char *buf = malloc(piece);
    if (!buf || (err = blob_writer_new(bs, w))) {
        free(buf);
        blob_reader_close(r);
        return buf ? err : DP_ERR_NOMEM;
    }
    uint8_t hdr[WAV_HEADER_LEN];
    wav_header(&info, frames, hdr);
    uint64_t written = 0;
    size_t k = sniff_max < sizeof hdr ? sniff_max : sizeof hdr;
    memcpy(sniff, hdr, k);
    *sniff_len = k;
    if (!(err = blob_write(*w, hdr, sizeof hdr)))
        written = sizeof hdr;
    for (size_t i = 0; i < n && !err; i++) {
        const json_t *p = json_array_get(timeline, i);
        int64_t at = json_integer_value(json_array_get(p, 1)), len = json_integer_value(json_array_get(p, 2));
        wav_span(&info, (uint64_t)at, (uint64_t)(at + len), &first, &count);
        err = copy_frames(r, &info, first, count, *w, buf, piece, &written, sniff, sniff_max, sniff_len);
    }
    free(buf);
    blob_reader_close(r);
    if (err) {
        blob_abort(*w);
        *w = NULL;
        return err;
    }
    *size = written;
    return DP_OK;
}
