/* The OpenAI-compatible facade's audio: POST /v1/audio/transcriptions (a recording in, its text out
 * in OpenAI's formats: json, text, verbose_json with segments and words, srt, vtt) and POST
 * /v1/audio/speech (text in, spoken in the voice of the avatar named by `voice`: wav, pcm as OpenAI
 * sends it — 24 kHz mono s16le — or opus in Ogg). Both are answered by the configured speech
 * providers (local or remote, with their fallbacks); `model` is accepted and names nothing here.
 * Errors have OpenAI's shape. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_util.h"
#include "api/openai_error.h"
#include "api/schemas.h"
#include "api/transcriptions.h"
#include "audio/ogg_opus.h"
#include "auth/api_keys.h"
#include "audio/resample.h"
#include "audio/wav.h"
#include "avatar/avatar_store.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/json.h"
#include "providers/stt.h"
#include "providers/tts.h"
#include "talk/reply_voice.h"

#define SPEECH_INPUT_MAX 4096 /* characters of one request (OpenAI's cap) */
#define OPENAI_PCM_RATE 24000 /* what OpenAI's response_format pcm is */

static int refuse_rate(struct response *res, int64_t retry_ms)
{
    char secs[24];
    snprintf(secs, sizeof secs, "%lld", retry_ms > 999 ? (long long)(retry_ms + 999) / 1000 : 1LL);
    openai_error(res, DP_ERR_RATE_LIMITED, "requests", "rate_limit_exceeded", NULL,
                 "too many transcriptions; retry in %s s (--transcribe-rate)", secs);
    res_header(res, "Retry-After", secs);
    return DP_ERR_RATE_LIMITED;
}

/* ---- transcriptions ---------------------------------------------------------------------------- */

static void timestamp(struct buf *b, int64_t ms, char sep)
{
    buf_printf(b, "%02lld:%02lld:%02lld%c%03lld", (long long)(ms / 3600000), (long long)(ms / 60000 % 60),
               (long long)(ms / 1000 % 60), sep, (long long)(ms % 1000));
}

/* The transcript as SubRip or WebVTT cues, one per segment. */
static char *subtitles(const struct transcript *t, int vtt, size_t *len)
{
    struct buf b;
    buf_init(&b, 0);
    if (vtt)
        buf_printf(&b, "WEBVTT\n\n");
    for (int i = 0; i < t->n; i++) {
        if (!vtt)
            buf_printf(&b, "%d\n", i + 1);
        timestamp(&b, t->segs[i].start_ms, vtt ? '.' : ',');
        buf_printf(&b, " --> ");
        timestamp(&b, t->segs[i].end_ms, vtt ? '.' : ',');
        buf_printf(&b, "\n%s\n\n", t->segs[i].text);
    }
    return buf_steal(&b, len);
}

static json_t *whole_text(const struct transcript *t)
{
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < t->n; i++)
        buf_printf(&b, "%s%s", i ? " " : "", t->segs[i].text);
    json_t *s = json_stringn(b.data ? b.data : "", b.len);
    buf_cleanup(&b);
    return s;
}

/* OpenAI's verbose_json: seconds, segments with what Whisper reports (the fields Doppel cannot know
 * are neutral), words when asked for. */
static json_t *verbose(const struct transcript *t, const char *language, int want_words)
{
    json_t *segs = json_array(), *words = want_words ? json_array() : NULL;
    for (int i = 0; i < t->n; i++) {
        const struct stt_segment *s = &t->segs[i];
        double c = s->confidence > 0.0001f ? s->confidence : 0.0001;
        json_array_append_new(segs, json_pack("{s:i,s:i,s:f,s:f,s:s,s:[],s:f,s:f,s:f,s:f}", "id", i, "seek", 0, "start",
                                              s->start_ms / 1000.0, "end", s->end_ms / 1000.0, "text", s->text,
                                              "tokens", "temperature", 0.0, "avg_logprob", log(c), "compression_ratio",
                                              1.0, "no_speech_prob", 0.0));
        for (int k = 0; words && k < s->n_words; k++)
            json_array_append_new(words, json_pack("{s:s,s:f,s:f}", "word", s->words[k].word, "start",
                                                   s->words[k].start_ms / 1000.0, "end", s->words[k].end_ms / 1000.0));
    }
    json_t *o = json_pack("{s:s,s:s,s:f,s:o,s:o}", "task", "transcribe", "language", language, "duration",
                          t->duration_ms / 1000.0, "text", whole_text(t), "segments", segs);
    if (o && words)
        json_object_set_new(o, "words", words);
    else
        json_decref(words);
    return o;
}

static int audio_transcriptions(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return openai_error(res, err, "server_error", dp_errcode(err), NULL, "%s", dp_strerror(err));
    int64_t retry_ms;
    if (transcribe_take(req, &e, &retry_ms))
        return refuse_rate(res, retry_ms);
    if (!req->content_type || strncasecmp(req->content_type, "multipart/form-data", 19))
        return openai_error(res, DP_ERR_INVALID, "invalid_request_error", "invalid_value", "file",
                            "send the recording as multipart/form-data with a file part named file");
    json_t *fields = json_object();
    struct buf file;
    if (!fields)
        return DP_ERR_NOMEM;
    err = api_form_file_fields(req, NULL, TRANSCRIBE_BODY_MAX, "recording", &file, fields);
    if (err) {
        json_decref(fields);
        if (err == DP_ERR_NOMEM)
            return err;
        return openai_error(
            res, err, "invalid_request_error", err == DP_ERR_TOO_LARGE ? "file_too_large" : "invalid_value", "file",
            err == DP_ERR_TOO_LARGE ? "the file is over 25 MiB" : "the form has no file part, or is malformed");
    }
    const char *fmt = json_string_value(json_object_get(fields, "response_format"));
    const char *lang = json_string_value(json_object_get(fields, "language"));
    const char *gran = json_string_value(json_object_get(fields, "timestamp_granularities[]"));
    if (!fmt || !*fmt)
        fmt = "json";
    if (strcmp(fmt, "json") && strcmp(fmt, "text") && strcmp(fmt, "verbose_json") && strcmp(fmt, "srt") &&
        strcmp(fmt, "vtt")) {
        buf_cleanup(&file);
        json_decref(fields);
        return openai_error(res, DP_ERR_INVALID, "invalid_request_error", "unsupported_value", "response_format",
                            "response_format must be json, text, verbose_json, srt or vtt");
    }
    struct transcript t;
    char why[600] = "";
    err = file.len ? transcribe_bytes(file.data, file.len, &t, why, sizeof why) : DP_ERR_INVALID;
    buf_cleanup(&file);
    if (err) {
        json_decref(fields);
        if (err == DP_ERR_INVALID)
            return openai_error(res, err, "invalid_request_error", "invalid_value", "file", "the file is empty");
        if (err == DP_ERR_NOMEM)
            return err;
        return openai_error(res, err, err == DP_ERR_UNAVAILABLE ? "server_error" : "invalid_request_error",
                            err == DP_ERR_UNSUPPORTED ? "invalid_file_format" : dp_errcode(err), "file", "%s",
                            why[0] ? why : dp_strerror(err));
    }
    if (!strcmp(fmt, "text") || !strcmp(fmt, "srt") || !strcmp(fmt, "vtt")) {
        size_t len = 0;
        char *body;
        if (!strcmp(fmt, "text")) {
            json_t *s = whole_text(&t);
            body = strdup(json_string_value(s) ? json_string_value(s) : "");
            len = body ? strlen(body) : 0;
            json_decref(s);
        } else {
            body = subtitles(&t, !strcmp(fmt, "vtt"), &len);
        }
        if (body)
            res_body(res, 200, !strcmp(fmt, "vtt") ? "text/vtt; charset=utf-8" : "text/plain; charset=utf-8", body,
                     len);
        else
            err = DP_ERR_NOMEM;
    } else {
        int words = gran && strstr(gran, "word");
        json_t *j = !strcmp(fmt, "json") ? json_pack("{s:o}", "text", whole_text(&t))
                                         : verbose(&t, lang && *lang ? lang : "english", words);
        if (j)
            res_json(res, 200, j);
        else
            err = DP_ERR_NOMEM;
    }
    stt_segments_free(t.segs, t.n);
    json_decref(fields);
    return err;
}

/* ---- speech ------------------------------------------------------------------------------------- */

static int encode(const int16_t *pcm, size_t n, const char *fmt, char **out, size_t *len, const char **type)
{
    if (!strcmp(fmt, "opus")) {
        *type = "audio/ogg";
        return ogg_opus_encode(pcm, n, REPLY_AUDIO_RATE, 0, (uint8_t **)out, len);
    }
    if (!strcmp(fmt, "pcm")) {
        int16_t *up;
        size_t m;
        int err = audio_resample(pcm, n, REPLY_AUDIO_RATE, OPENAI_PCM_RATE, 4, &up, &m);
        if (err)
            return err;
        *type = "audio/pcm";
        *out = (char *)up; /* little-endian hosts only, as the rest of the audio path */
        *len = m * 2;
        return DP_OK;
    }
    struct wav_info w = {.channels = 1, .rate = REPLY_AUDIO_RATE, .bits = 16, .frame_bytes = 2};
    *type = "audio/wav";
    *len = WAV_HEADER_LEN + n * 2;
    if (!(*out = malloc(*len)))
        return DP_ERR_NOMEM;
    wav_header(&w, n, (uint8_t *)*out);
    memcpy(*out + WAV_HEADER_LEN, pcm, n * 2);
    return DP_OK;
}

/* Characters (code points) of valid UTF-8. */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int audio_speech(struct request *req, struct response *res)
{
    json_t *b = req->json;
    const char *input = json_get_str(b, "input"), *voice = json_get_str(b, "voice");
    const char *fmt = json_get_str(b, "response_format");
    json_t *speed = json_object_get(b, "speed");
    if (!input || !*input || chars(input) > SPEECH_INPUT_MAX || strlen(input) > TTS_TEXT_MAX)
        return openai_error(res, DP_ERR_INVALID, "invalid_request_error", "invalid_value", "input",
                            "input must be 1 to %d characters (and %d bytes) of text", SPEECH_INPUT_MAX, TTS_TEXT_MAX);
    if (!voice || !*voice || strlen(voice) > 64)
        return openai_error(res, DP_ERR_INVALID, "invalid_request_error", "invalid_value", "voice",
                            "voice must be the id or slug of an avatar you may talk to (GET /v1/models)");
    if (!fmt)
        fmt = "wav";
    if (strcmp(fmt, "wav") && strcmp(fmt, "pcm") && strcmp(fmt, "opus"))
        return openai_error(res, DP_ERR_INVALID, "invalid_request_error", "unsupported_value", "response_format",
                            "response_format must be wav, pcm (24 kHz mono s16le) or opus (Ogg); mp3, aac and flac "
                            "are not made here");
    if (speed && !json_is_null(speed) &&
        (!json_is_number(speed) || json_number_value(speed) < 0.25 || json_number_value(speed) > 4))
        return openai_error(res, DP_ERR_INVALID, "invalid_request_error", "invalid_value", "speed",
                            "speed must be a number from 0.25 to 4");
    struct context e;
    struct avatar_ref ref;
    int err = api_env(req, &e);
    if (!err)
        err = avatar_resolve(e.db, api_caller(req), voice, &ref);
    if (!err && !api_keys_allows(&e, api_caller(req), ref.id))
        err = DP_ERR_NOT_FOUND; /* a key limited to other avatars: as if there were no such voice */
    if (err == DP_ERR_NOT_FOUND)
        return openai_error(res, err, "invalid_request_error", "voice_not_found", "voice",
                            "The voice `%s` is no avatar you may talk to.", voice);
    if (err)
        return openai_error(res, err, "server_error", dp_errcode(err), NULL, "%s", dp_strerror(err));
    int16_t *pcm;
    size_t n;
    char why[300] = "";
    err = talk_speak(&e, ref.id, input, json_is_number(speed) ? (float)json_number_value(speed) : 0, &pcm, &n, why,
                     sizeof why);
    if (err == DP_ERR_NOMEM)
        return err;
    if (err)
        return openai_error(res, err, err == DP_ERR_UNAVAILABLE ? "server_error" : "invalid_request_error",
                            dp_errcode(err), NULL, "%s", why[0] ? why : dp_strerror(err));
    char *out;
    size_t len;
    const char *type;
    err = encode(pcm, n, fmt, &out, &len, &type);
    free(pcm);
    if (err)
        return err;
    res_body(res, 200, type, out, len);
    return DP_OK;
}

/* OpenAPI: bodies and answers (api/schemas.h has the short forms). */
static const char transcriptions_doc[] =
    "{\"requestBody\": {\"content\": {\"multipart/form-data\": {\"schema\": \"AudioTranscriptionForm\"}}}, "
    "\"responses\": {\"200\": {\"description\": \"the text: json {text}, verbose_json, or text, srt and vtt as text\", "
    "\"content\": {\"application/json\": {\"schema\": \"AudioTranscription\"}, "
    "\"text/plain\": {\"schema\": {\"type\": \"string\"}}, \"text/vtt\": {\"schema\": {\"type\": \"string\"}}}}, "
    "\"413\": {\"description\": \"over 25 MiB or 10 minutes\", \"content\": {\"application/json\": {\"schema\": "
    "\"OpenAIError\"}}}, "
    "\"415\": {\"description\": \"not audio ffmpeg reads\", \"content\": {\"application/json\": {\"schema\": "
    "\"OpenAIError\"}}}, " OPENAI_ERRORS "}}";
static const char speech_doc[] =
    "{\"requestBody\": \"AudioSpeechRequest\", \"responses\": {\"200\": {\"description\": \"the audio\", "
    "\"content\": {\"audio/wav\": {\"schema\": {\"type\": \"string\"}}, \"audio/pcm\": {\"schema\": {\"type\": "
    "\"string\"}}, \"audio/ogg\": {\"schema\": {\"type\": \"string\"}}}}, " OPENAI_ERRORS "}}";

const struct route openai_audio_routes[] = {
    {"POST", "/v1/audio/transcriptions", ROUTE_SLOW, TRANSCRIBE_BODY_MAX + 65536, audio_transcriptions, "openai",
     "Speech to text of a recording (any container ffmpeg reads, up to 25 MiB and 10 minutes) by the configured "
     "recogniser, in OpenAI's formats; --transcribe-rate per minute per user",
     transcriptions_doc, NULL, NULL},
    {"POST", "/v1/audio/speech", ROUTE_JSON | ROUTE_SLOW, 0, audio_speech, "openai",
     "Text spoken in the voice of the avatar named by voice (its id or slug): its voice profile's pitch and rate "
     "with the configured synthesizer",
     speech_doc, NULL, NULL},
    {0},
};
