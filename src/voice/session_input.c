/* The voice session's input: audio frames decoded to 16 kHz, the VAD, recognition fed in steps
 * (partials on the way, the final at the end of speech or input.commit), and barge-in — the
 * user's own speech, long enough and not the reply's echo, while a reply is being made or played. */
#include <stdlib.h>
#include <string.h>

#include "audio/opus_packet.h"
#include "audio/resample.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "providers/stt.h"
#include "voice/session_impl.h"

#define RESAMPLE_PIECE 1024 /* input samples resampled at a time */

static int64_t ms_to_samples(int64_t ms)
{
    return ms * VAD_RATE / 1000;
}

/* Recognition of [from, to) of the input (within the ring); the partial asked for when want. */
struct feed_job {
    int gen;
    int16_t *pcm;
    size_t n;
    int want_partial;
    char *partial;
};

static void feed_work(struct voice_session *s, void *arg, struct db *db)
{
    (void)db;
    struct feed_job *j = arg;
    struct stt_engine *e = stt_current();
    if (!s->stt || !e)
        return;
    if (j->n && e->ops->feed(s->stt, j->pcm, j->n))
        return; /* past the engine's longest utterance: the finish says what it has */
    if (j->want_partial && e->ops->partial(s->stt, &j->partial))
        j->partial = NULL;
}

static void feed(struct voice_session *s, int want_partial);

/* Sends text as utterance gen's transcript.partial, unless the utterance is over or it says
 * nothing new. */
static void partial_show(struct voice_session *s, int gen, const char *text)
{
    if (gen != s->utt_gen || !text || !*text || (s->partial && !strcmp(s->partial, text)))
        return;
    free(s->partial);
    s->partial = strdup(text);
    session_send(s, json_pack("{s:s,s:s}", "type", "transcript.partial", "text", text));
}

static void feed_done(struct voice_session *s, void *arg, int open)
{
    struct feed_job *j = arg;
    s->feeds_waiting--;
    if (open && s->utt_open && s->feed_pending)
        feed(s, s->partial_pending); /* the steps asked for meanwhile, in one */
    if (open)
        partial_show(s, j->gen, j->partial);
    free(j->partial);
    free(j->pcm);
    free(j);
}

/* The input from s->utt_fed up to to, taken for recognition (malloc'd in *pcm, NULL when
 * none); DP_ERR_NOMEM. */
static int take_unfed(struct voice_session *s, int64_t to, int16_t **pcm, size_t *n)
{
    int64_t from = s->utt_fed;
    if (from < to - (int64_t)s->ring_n)
        from = to - (int64_t)s->ring_n;
    *n = to > from ? (size_t)(to - from) : 0;
    *pcm = NULL;
    if (*n && !(*pcm = malloc(*n * sizeof **pcm)))
        return DP_ERR_NOMEM;
    for (size_t i = 0; i < *n; i++)
        (*pcm)[i] = s->ring[(size_t)(from + (int64_t)i) % s->ring_n];
    s->utt_fed = to;
    return DP_OK;
}

/* Feeds recognition the input from s->utt_fed up to the present. One step at a time per session:
 * while one runs, audio gathers in the ring and goes in the next — every task of a session waits
 * for a worker in turn, so steps queued one behind another would each wait again, and the final
 * result (behind them all) would come that much later when sessions share busy workers. */
static void feed(struct voice_session *s, int want_partial)
{
    if (s->finish_waiting)
        return; /* the stream still holds the last utterance: the ring keeps this one meanwhile */
    if (s->feeds_waiting) {
        /* Up to here (not what comes later: a manual turn's pauses are not heard). */
        s->feed_pending = 1;
        s->feed_to = s->in_pos;
        s->partial_pending |= want_partial;
        return;
    }
    int64_t to = s->feed_pending ? s->feed_to : s->in_pos;
    s->feed_pending = 0;
    if (to <= s->utt_fed && !want_partial)
        return;
    struct feed_job *j = calloc(1, sizeof *j);
    if (!j || take_unfed(s, to, &j->pcm, &j->n)) {
        free(j);
        return;
    }
    j->gen = s->utt_gen;
    j->want_partial = want_partial;
    s->partial_pending = 0;
    s->feeds_waiting++;
    if (session_task(s, feed_work, feed_done, j)) {
        s->feeds_waiting--;
        free(j->pcm);
        free(j);
    }
}

static void utterance_open(struct voice_session *s, int64_t from)
{
    if (from < s->turn_from)
        from = s->turn_from;
    if (from < s->in_pos - (int64_t)s->ring_n)
        from = s->in_pos - (int64_t)s->ring_n;
    s->utt_open = 1;
    s->utt_gen++;
    s->utt_fed = s->utt_start = from;
    s->feed_pending = 0; /* a step asked for the last utterance */
    s->last_partial_pos = from;
    free(s->partial);
    s->partial = NULL;
}

struct finish_job {
    int gen;
    int16_t *pcm; /* the utterance's rest, fed first */
    size_t n;
    double t_end;
    double t_asked; /* time_mono() of the first try */
    int wait;       /* every decoder was lent: try again on a later tick */
    char *partial;  /* while waiting: what a streaming provider has read back so far */
    struct stt_result r;
    int err;
    char why[128];
};

static void submit_finish(struct voice_session *s, int gen, double t_end);

static void finish_work(struct voice_session *s, void *arg, struct db *db)
{
    (void)db;
    struct finish_job *j = arg;
    struct stt_engine *e = stt_current();
    /* Never hold a worker waiting for a decoder: the sessions holding them need workers to finish. */
    if (j->n && s->stt && e)
        e->ops->feed(s->stt, j->pcm, j->n); /* past the longest utterance: the finish says what it has */
    free(j->pcm);
    j->pcm = NULL;
    j->n = 0;
    j->wait = s->stt && e && e->ops->ready && !e->ops->ready(s->stt) &&
              (time_mono() - j->t_asked) * 1000 < VOICE_FINISH_WAIT_MS;
    if (j->wait && e->ops->partial(s->stt, &j->partial))
        j->partial = NULL; /* a provider that streams no transcript back */
    if (!j->wait)
        j->err = s->stt && e ? e->ops->finish(s->stt, &j->r, j->why, sizeof j->why) : DP_ERR_NOT_IMPLEMENTED;
}

static void finish_done(struct voice_session *s, void *arg, int open)
{
    struct finish_job *j = arg;
    if (open) /* a streaming provider's transcript so far, before its final */
        partial_show(s, j->gen, j->partial);
    free(j->partial);
    j->partial = NULL;
    if (open && j->wait && !s->finish_waiting) {
        s->finish_waiting = j; /* session_tick submits it again; feeds wait behind it */
        session_kick(s);
        return;
    }
    if (!open || j->gen != s->utt_gen)
        goto out;
    if (j->err == DP_ERR_NOT_IMPLEMENTED)
        session_error(s, "not_implemented", "speech recognition is not configured on this server");
    else if (j->err)
        session_error(s, dp_errcode(j->err), "recognition failed: %s", *j->why ? j->why : dp_strerror(j->err));
    if (j->err)
        goto out;
    const char *text = j->r.text ? j->r.text : "";
    json_t *words = json_array();
    for (int i = 0; i < j->r.n_words; i++)
        json_array_append_new(words, json_pack("{s:s,s:i,s:i,s:f}", "word", j->r.words[i].word, "start_ms",
                                               j->r.words[i].start_ms, "end_ms", j->r.words[i].end_ms, "confidence",
                                               (double)j->r.words[i].confidence));
    session_send(s, json_pack("{s:s,s:s,s:f,s:o}", "type", "transcript.final", "text", text, "confidence",
                              (double)j->r.confidence, "words", words));
    if (*text) {
        reply_start(s, text, j->t_end);
        /* Its waiting: from the first try (decoders lent, earlier tasks, the workers) to its run. */
        double run = s->last_task.run_ms;
        if (s->reply)
            s->reply->stt = (struct task_timing){(time_mono() - j->t_asked) * 1000 - run, run, s->last_task.cpu_ms};
    }
out:
    stt_result_free(&j->r);
    free(j);
    if (open && s->finish_deferred && !s->finish_waiting) {
        s->finish_deferred = 0;
        submit_finish(s, s->deferred_gen, s->deferred_t_end);
    }
    /* The next utterance gathered in the ring while this one held the stream: it goes in now
     * (audio refused meanwhile as overloaded comes in again only once recognition has caught up). */
    if (open && s->utt_open && !s->finish_waiting && (s->vad.in_speech || !s->manual))
        feed(s, 0);
}

/* Ends the utterance: recognition gets the rest, then its final result answers. */
/* Recognition gets the rest of utterance gen, then its final result answers. */
static void submit_finish(struct voice_session *s, int gen, double t_end)
{
    struct finish_job *j = calloc(1, sizeof *j);
    s->feed_pending = 0; /* the finish takes it all */
    if (!j || take_unfed(s, s->in_pos, &j->pcm, &j->n)) {
        free(j);
        return;
    }
    j->gen = gen;
    j->t_end = t_end;
    j->t_asked = time_mono();
    if (session_task(s, finish_work, finish_done, j)) {
        free(j->pcm);
        free(j);
    }
}

static void utterance_finish(struct voice_session *s, double t_end)
{
    s->utt_open = 0;
    s->turn_from = s->in_pos;
    if (s->finish_waiting || s->finish_deferred) {
        /* The last utterance still waits for a decoder: this one ends after it, in order. */
        s->finish_deferred = 1;
        s->deferred_gen = s->utt_gen;
        s->deferred_t_end = t_end;
        return;
    }
    submit_finish(s, s->utt_gen, t_end);
}

void input_finish_retry(struct voice_session *s)
{
    struct finish_job *j = s->finish_waiting;
    s->finish_waiting = NULL;
    if (j && session_task(s, finish_work, finish_done, j))
        free(j);
}

void input_free_waiting(struct voice_session *s)
{
    free(s->finish_waiting);
    s->finish_waiting = NULL;
}

static void speech_started(struct voice_session *s)
{
    session_send(s, json_pack("{s:s,s:I}", "type", "speech.started", "audio_start_ms",
                              (json_int_t)vad_frame_ms(s->vad.start_frame)));
    int64_t from = s->vad.start_frame * VAD_FRAME - ms_to_samples(VOICE_PREROLL_MS);
    if (!s->utt_open)
        utterance_open(s, from);
    else if (s->utt_fed < from)
        s->utt_fed = from; /* manual turns: the pause between is not heard */
}

/* One 10 ms frame of input. */
static void input_frame(struct voice_session *s, const int16_t *f)
{
    for (int i = 0; i < VAD_FRAME; i++)
        s->ring[(size_t)(s->in_pos + i) % s->ring_n] = f[i];
    s->in_pos += VAD_FRAME;
    enum vad_event ev = vad_frame(&s->vad, f);
    double now = time_mono();
    int voiced = s->vad.last_voiced_flag && s->vad.in_speech;
    if (s->vad.last_voiced_flag)
        s->last_voiced_at = now;
    if (s->reply || s->echo_until > now) {
        int at = reply_play_frame(s), echo = 0;
        if (at >= 0) {
            echo_add_mic(&s->echo, (float)s->vad.last_db, at);
            echo = echo_heard(&s->echo); /* every frame: it learns the echo path as it goes */
        }
        if (ev == VAD_START) {
            s->barge_pending = 1;
            s->barge_ms = 0;
        }
        if (s->barge_pending && voiced && !echo)
            s->barge_ms += 10;
        if (ev == VAD_STOP)
            s->barge_pending = 0; /* a blip, or the reply's own voice */
        if (s->barge_pending && s->barge_ms >= VOICE_BARGE_IN_MS) {
            s->barge_pending = 0;
            s->echo_until = 0;
            speech_started(s); /* first: the client flushes what it has of the reply */
            if (s->reply)
                reply_cancel(s, "interrupted");
        }
        if (!s->utt_open)
            return; /* only speech of its own opens a turn now */
        ev = ev == VAD_START ? VAD_NONE : ev;
    } else if (s->barge_pending) {
        /* Speech that began in the reply's echo tail and outlives it is no echo: the user answered
         * quickly. It is a turn from where it began (no VAD_START will come for it). */
        s->barge_pending = 0;
        if (s->vad.in_speech && !s->utt_open)
            speech_started(s);
    }
    if (ev == VAD_START)
        speech_started(s);
    if (!s->utt_open)
        return;
    if (ev == VAD_STOP) {
        session_send(s, json_pack("{s:s,s:I}", "type", "speech.stopped", "audio_end_ms",
                                  (json_int_t)vad_frame_ms(s->vad.last_voiced + 1)));
        if (!s->manual) {
            utterance_finish(s, s->last_voiced_at);
            return;
        }
        feed(s, 0);
        return;
    }
    if (s->in_pos - s->utt_start >= ms_to_samples(VOICE_UTTERANCE_MAX_MS)) {
        utterance_finish(s, now);
        return;
    }
    if ((s->vad.in_speech || !s->manual) && s->in_pos - s->utt_fed >= ms_to_samples(VOICE_FEED_MS)) {
        int want = s->in_pos - s->last_partial_pos >= ms_to_samples(VOICE_PARTIAL_MS);
        if (want)
            s->last_partial_pos = s->in_pos;
        feed(s, want);
    }
}

static void take_samples(struct voice_session *s, const int16_t *pcm, size_t n)
{
    while (n) {
        size_t k = VAD_FRAME - (size_t)s->frame_fill;
        if (k > n)
            k = n;
        memcpy(s->frame + s->frame_fill, pcm, k * sizeof *pcm);
        s->frame_fill += (int)k;
        pcm += k;
        n -= k;
        if (s->frame_fill == VAD_FRAME) {
            s->frame_fill = 0;
            input_frame(s, s->frame);
        }
    }
}

void input_audio(struct voice_session *s, const uint8_t *p, size_t n)
{
    size_t cap = s->in.format == VOICE_OPUS ? OPUS_PACKET_MAX : VOICE_FRAME_MAX;
    if (n > cap) {
        session_error(s, "frame_too_large", "an audio frame holds at most %zu bytes (%zu sent); dropped", cap, n);
        return;
    }
    if (s->utt_open && s->in_pos - s->utt_fed > ms_to_samples(VOICE_FEED_BACKLOG_MS)) {
        if (!s->overloaded)
            session_error(s, "overloaded", "recognition is behind: audio is dropped until it catches up");
        s->overloaded = 1;
        return;
    }
    s->overloaded = 0;
    int16_t pcm[VOICE_FRAME_MAX / 2];
    size_t ns;
    if (s->in.format == VOICE_OPUS) {
        int r = opus_dec_packet(s->dec, p, n, pcm, OPUS_DECODE_MAX_SAMPLES);
        if (r < 0) {
            session_error(s, "invalid_audio", "not an Opus packet; dropped");
            return;
        }
        ns = (size_t)r;
    } else {
        if (n % 2) {
            session_error(s, "invalid_audio", "pcm16 frames hold whole 16-bit samples (%zu bytes sent); dropped", n);
            return;
        }
        ns = n / 2;
        for (size_t i = 0; i < ns; i++)
            pcm[i] = (int16_t)(p[2 * i] | p[2 * i + 1] << 8);
    }
    if (!s->in_rs) {
        take_samples(s, pcm, ns);
        return;
    }
    /* At 16 kHz in pieces: 8 kHz input doubles, and the piece stays on the stack. */
    int16_t at16[2 * RESAMPLE_PIECE + 16];
    for (size_t i = 0; i < ns; i += RESAMPLE_PIECE) {
        size_t k = ns - i < RESAMPLE_PIECE ? ns - i : RESAMPLE_PIECE;
        size_t room = resampler_room(s->in_rs, k);
        take_samples(s, at16,
                     resampler_run(s->in_rs, pcm + i, k, at16,
                                   room < sizeof at16 / sizeof *at16 ? room : sizeof at16 / sizeof *at16));
    }
}

void input_commit(struct voice_session *s)
{
    if (!s->utt_open && s->in_pos <= s->turn_from) {
        session_error(s, "nothing_to_commit", "no audio since the last turn");
        return;
    }
    if (s->reply)
        reply_cancel(s, "interrupted");
    s->barge_pending = 0;
    if (!s->utt_open)
        utterance_open(s, s->turn_from);
    utterance_finish(s, time_mono());
}

void input_close(struct voice_session *s)
{
    s->utt_gen++; /* results still on their way are dropped */
    s->utt_open = 0;
}
