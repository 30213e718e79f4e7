/* The offline TTS engine: CMU flite 2.2 and its 16 kHz US English voices, linked in (BSD-style
 * licence). Each sentence is its own utterance whose features carry the pitch and rate asked for
 * (int_f0_target_mean / _stddev, duration_stretch), so the shared voices are never written to and
 * calls on many threads do not interfere; audio streams out through flite's streaming callback,
 * after the sentence's phone timings. */
#include <flite/flite.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "providers/tts.h"

/* Declared by no header: each voice library exports its register function. */
cst_voice *register_cmu_us_slt(const char *voxdir);
cst_voice *register_cmu_us_rms(const char *voxdir);
cst_voice *register_cmu_us_awb(const char *voxdir);
cst_voice *register_cmu_us_kal16(const char *voxdir);

#define FLITE_RATE 16000

struct flite_voice {
    const char *name;
    cst_voice *(*reg)(const char *voxdir);
    cst_voice *voice; /* registered once, at create */
};

struct flite_engine {
    struct tts_engine base;
    struct flite_voice voices[4];
};

/* One sentence being spoken. */
struct flite_call {
    const struct tts_sink *sink;
    cst_utterance *utt;
    int offset_ms;   /* where this sentence starts in the call's audio */
    int phones_sent; /* this sentence's phones went out */
    int streamed;    /* the streaming callback ran (a voice without streaming delivers at the end) */
    int stopped;     /* the sink asked to stop */
    size_t samples;  /* this sentence's samples delivered */
};

static int send_phones(struct flite_call *c)
{
    c->phones_sent = 1;
    if (!c->sink->phones)
        return 0;
    struct tts_phone buf[64];
    int n = 0;
    float prev_end = 0;
    for (const cst_item *s = relation_head(utt_relation(c->utt, "Segment")); s; s = item_next(s)) {
        float end = item_feat_float(s, "end");
        struct tts_phone *p = &buf[n++];
        snprintf(p->phone, sizeof p->phone, "%s", item_feat_string(s, "name"));
        p->start_ms = c->offset_ms + (int)(prev_end * 1000 + 0.5f);
        p->end_ms = c->offset_ms + (int)(end * 1000 + 0.5f);
        prev_end = end;
        if (n == 64) {
            if (c->sink->phones(c->sink->arg, buf, n))
                return 1;
            n = 0;
        }
    }
    return n ? c->sink->phones(c->sink->arg, buf, n) : 0;
}

static int deliver(struct flite_call *c, const short *pcm, size_t n)
{
    if (!c->phones_sent && send_phones(c))
        return 1;
    c->samples += n;
    return n ? c->sink->audio(c->sink->arg, pcm, n) : 0;
}

static int on_chunk(const cst_wave *w, int start, int size, int last, cst_audio_streaming_info *asi)
{
    (void)last;
    struct flite_call *c = asi->userdata;
    c->streamed = 1;
    if (c->stopped || deliver(c, w->samples + start, (size_t)size)) {
        c->stopped = 1;
        return CST_AUDIO_STREAM_STOP;
    }
    return CST_AUDIO_STREAM_CONT;
}

static cst_voice *find_voice(struct flite_engine *e, const char *name)
{
    for (size_t i = 0; i < sizeof e->voices / sizeof e->voices[0]; i++)
        if (!strcmp(e->voices[i].name, name))
            return e->voices[i].voice;
    return NULL;
}

/* Speaks one sentence; returns DP_OK, DP_ERR_CANCELLED or an error. */
static int speak_sentence(cst_voice *voice, const char *text, const struct tts_voice *v, struct flite_call *c)
{
    cst_utterance *u = new_utterance();
    cst_audio_streaming_info *asi = new_audio_streaming_info();
    asi->asc = on_chunk;
    asi->userdata = c;
    asi->min_buffsize = 1600; /* 100 ms chunks */
    c->utt = u;
    utt_set_input_text(u, text);
    feat_set(u->features, "streaming_info", audio_streaming_info_val(asi));
    if (v && v->pitch_hz > 0)
        feat_set_float(u->features, "int_f0_target_mean", v->pitch_hz);
    if (v && v->pitch_std_hz > 0)
        feat_set_float(u->features, "int_f0_target_stddev", v->pitch_std_hz);
    if (v && v->rate > 0)
        feat_set_float(u->features, "duration_stretch", 1.0f / v->rate);
    int err = DP_OK;
    if (!flite_do_synth(u, voice, utt_synth) && !c->stopped)
        err = DP_ERR_INTERNAL;
    cst_wave *w = err || c->stopped ? NULL : utt_wave(u);
    if (!err && w && w->sample_rate != FLITE_RATE)
        err = DP_ERR_INTERNAL;
    else if (!err && w && !c->streamed && !c->stopped) /* a voice that does not stream */
        c->stopped = deliver(c, w->samples, (size_t)w->num_samples);
    else if (!err && !c->phones_sent && !c->stopped) /* nothing to say in it: still its phones */
        c->stopped = send_phones(c);
    if (!err && c->stopped)
        err = DP_ERR_CANCELLED;
    delete_utterance(u); /* frees asi with the features */
    return err;
}

static int flite_synthesize(struct tts_engine *base, const char *text, const struct tts_voice *v,
                            const struct tts_sink *sink, char *why, size_t whylen)
{
    struct flite_engine *e = (struct flite_engine *)base;
    if (whylen)
        why[0] = 0;
    size_t len = strlen(text);
    if (len > TTS_TEXT_MAX) {
        snprintf(why, whylen, "text longer than %d bytes", TTS_TEXT_MAX);
        return DP_ERR_TOO_LARGE;
    }
    cst_voice *voice = find_voice(e, v && v->voice && *v->voice ? v->voice : e->base.voice);
    if (!voice) {
        snprintf(why, whylen, "no flite voice \"%s\"", v && v->voice ? v->voice : "");
        return DP_ERR_INVALID;
    }
    char *sentence = malloc(len + 1);
    if (!sentence)
        return DP_ERR_NOMEM;
    int offset_ms = 0, err = DP_OK;
    for (size_t at = 0; at < len && !err;) {
        size_t end = at + tts_sentence_end(text + at, len - at);
        memcpy(sentence, text + at, end - at);
        sentence[end - at] = 0;
        at = end;
        if (strspn(sentence, " \t\r\n") == strlen(sentence))
            continue;
        struct flite_call c = {.sink = sink, .offset_ms = offset_ms};
        err = speak_sentence(voice, sentence, v, &c);
        offset_ms += (int)(c.samples * 1000 / FLITE_RATE);
    }
    free(sentence);
    if (err && err != DP_ERR_CANCELLED)
        snprintf(why, whylen, "speech synthesis failed");
    return err;
}

static void flite_destroy(struct tts_engine *base)
{
    free(base); /* the voices are flite's, for the process */
}

const struct tts_ops tts_flite_ops = {.name = "flite", .synthesize = flite_synthesize, .destroy = flite_destroy};

int tts_flite_new(const struct tts_config *cfg, struct tts_engine **out, char *msg, size_t msglen)
{
    static const struct flite_voice table[] = {
        {"slt", register_cmu_us_slt, NULL},
        {"rms", register_cmu_us_rms, NULL},
        {"awb", register_cmu_us_awb, NULL},
        {"kal16", register_cmu_us_kal16, NULL},
    };
    const char *want = cfg->voice && *cfg->voice ? cfg->voice : "slt";
    struct flite_engine *e = calloc(1, sizeof *e);
    if (!e)
        return DP_ERR_NOMEM;
    memcpy(e->voices, table, sizeof table);
    flite_init();
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        e->voices[i].voice = e->voices[i].reg(NULL);
    if (!find_voice(e, want)) {
        snprintf(msg, msglen, "tts-voice must be slt, rms, awb or kal16, not \"%s\"", want);
        free(e);
        return DP_ERR_INVALID;
    }
    e->base.ops = &tts_flite_ops;
    snprintf(e->base.name, sizeof e->base.name, "flite");
    snprintf(e->base.voice, sizeof e->base.voice, "%s", want);
    e->base.rate = FLITE_RATE;
    *out = &e->base;
    return DP_OK;
}
