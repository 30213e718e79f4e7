/* The voice session's reply: the turn through talk/ (the question and the reply stored like a
 * text turn), the reply spoken as the brain writes it (its first clause, then sentence by
 * sentence, each synthesized beside the brain's task while the model goes on), its audio paced to
 * the client a little ahead of playback with the visemes of its phones, and its end — played out,
 * or cut short, when the stored reply keeps only what was heard. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/opus_packet.h"
#include "audio/resample.h"
#include "avatar/avatar.h"
#include "brain/brain.h"
#include "core/context.h"
#include "core/err.h"
#include "core/text.h"
#include "core/timeutil.h"
#include "net/ws.h"
#include "providers/tts.h"
#include "talk/reply_voice.h"
#include "talk/talk.h"
#include "voice/session_impl.h"
#include "voice/speech_piece.h"

#define ECHO_TAIL_S 0.9 /* after a reply, its echo may still be arriving (ECHO_MAX_DELAY) */

static void reply_unref(struct voice_reply *r)
{
    if (--r->refs)
        return;
    for (int i = 0; i < r->nsent; i++)
        free(r->sentences[i]);
    free(r->sentences);
    free(r->sent_end_ms);
    json_decref(r->queued);
    pthread_mutex_destroy(&r->lock);
    free(r->question);
    free(r->text);
    free(r->pcm);
    free(r->vis);
    free(r);
}

static int ms_of(const struct voice_reply *r, size_t samples)
{
    return (int)((int64_t)samples * 1000 / r->rate);
}

/* On the input's own sample clock, not the time a frame is taken: frames that come late or in a
 * burst (a loaded client, a jittery network, a busy server) still line up with the reply frame that
 * was playing when they were captured. On that clock a client runs dry when it has heard more than
 * it was sent (the server fell behind): the reply plays on later by as much. An input that stopped
 * and came back (push-to-talk, a muted microphone) is behind the wall clock by the pause: then the
 * wall clock says. */
#define PLAY_CLOCK_GAP_FRAMES 150 /* 1.5 s: more than any backlog a stream in real time has */

int reply_play_frame(struct voice_session *s)
{
    struct voice_reply *r = s->reply;
    double t0;
    int64_t *from;
    if (r && r->audio_started && r->t_first_byte > 0) {
        t0 = r->t_played_from;
        from = &r->played_from_in;
    } else if (!r && s->echo_until > time_mono()) {
        t0 = s->echo_t0;
        from = &s->echo_from_in;
    } else
        return -1;
    int64_t wall = (int64_t)((time_mono() - t0) * 100), heard = (s->in_pos - *from) / VAD_FRAME;
    if (heard < wall - PLAY_CLOCK_GAP_FRAMES) {
        *from = s->in_pos - wall * VAD_FRAME;
        heard = wall;
    }
    int64_t sent = r ? ms_of(r, r->sent) / 10 : heard;
    if (heard > sent) {
        *from += (heard - sent) * VAD_FRAME;
        heard = sent;
    }
    return heard < 0 ? 0 : (int)heard;
}

static json_t *ms_or_null(double from, double to)
{
    return from > 0 && to > 0 ? json_integer((json_int_t)lround((to - from) * 1000)) : json_null();
}

/* The text heard when playback reached played_ms: whole sentences, then the share of the one
 * being spoken, cut at a word and marked "…". malloc'd. */
static char *heard_text(const struct voice_reply *r, int played_ms)
{
    size_t cut = 0;
    int partial = 0;
    const char *p = r->text;
    for (int i = 0; i < r->nsynth && i < r->nsent; i++) {
        size_t len = strlen(r->sentences[i]);
        const char *at = strstr(p, r->sentences[i]); /* sentences are the text's own, in order */
        if (!at)
            break;
        int start = i ? r->sent_end_ms[i - 1] : 0, end = r->sent_end_ms[i];
        if (end <= played_ms) {
            cut = (size_t)(at - r->text) + len;
            p = at + len;
            continue;
        }
        if (played_ms > start && end > start) {
            size_t k = (size_t)((double)(played_ms - start) / (end - start) * (double)len);
            while (k > 0 && at[k] != ' ')
                k--; /* back to a word's end */
            if (k > 0) {
                cut = (size_t)(at - r->text) + k;
                partial = 1;
            }
        }
        break;
    }
    while (cut > 0 && r->text[cut - 1] == ' ')
        cut--;
    char *out = malloc(cut + 4);
    if (!out)
        return NULL;
    memcpy(out, r->text, cut);
    strcpy(out + cut, partial ? "\xe2\x80\xa6" : ""); /* … */
    return out;
}

/* Keeping of the stored reply what was heard; of a reply not stored yet (mid ""), storing what was
 * heard — in the session's order, after the brain's task, which then stored nothing of its own. */
struct cut_job {
    char mid[ID_LEN];
    char *heard;
};

static void cut_work(struct voice_session *s, void *arg, struct db *db)
{
    struct cut_job *j = arg;
    if (db && *j->mid)
        talk_cut_reply(db, s->conv, j->mid, j->heard);
    else if (db)
        talk_keep_heard(db, s->conv, s->avatar_id, j->heard, j->mid);
}

static void cut_done(struct voice_session *s, void *arg, int open)
{
    (void)s;
    (void)open;
    struct cut_job *j = arg;
    free(j->heard);
    free(j);
}

static void cut_stored(struct voice_session *s, const char *mid, const char *heard)
{
    struct cut_job *j = calloc(1, sizeof *j);
    if (!j || !(j->heard = strdup(heard))) {
        free(j);
        return;
    }
    snprintf(j->mid, sizeof j->mid, "%s", mid);
    if (session_task(s, cut_work, cut_done, j)) {
        free(j->heard);
        free(j);
    }
}

/* Sends response.done and lets the reply go. status: completed | interrupted | cancelled | failed. */
static void reply_end(struct voice_session *s, const char *status, const char *heard, int played_ms)
{
    struct voice_reply *r = s->reply;
    s->reply = NULL;
    s->barge_pending = 0;
    if (r->audio_started) {
        s->echo_t0 = r->t_played_from;
        s->echo_from_in = r->played_from_in;
        s->echo_until = time_mono() + ECHO_TAIL_S;
    }
    json_t *lat =
        json_pack("{s:o,s:o,s:o,s:o}", "stt_ms", ms_or_null(r->t_speech_end, r->t_final), "brain_ms",
                  ms_or_null(r->t_final, r->t_brain), "tts_first_byte_ms", ms_or_null(r->t_brain, r->t_first_byte),
                  "turn_ms", ms_or_null(r->t_speech_end, r->t_first_byte));
    /* Where the turn's time went, for finding what queues when sessions share the workers. */
    const struct {
        const char *name;
        const struct task_timing *t;
    } stages[] = {{"stt", &r->stt}, {"brain", &r->brain}, {"tts", &r->tts}};
    for (size_t i = 0; i < sizeof stages / sizeof *stages; i++) {
        char k[32];
        snprintf(k, sizeof k, "%s_wait_ms", stages[i].name);
        json_object_set_new(lat, k, json_integer((json_int_t)lround(stages[i].t->wait_ms)));
        snprintf(k, sizeof k, "%s_run_ms", stages[i].name);
        json_object_set_new(lat, k, json_integer((json_int_t)lround(stages[i].t->run_ms)));
        snprintf(k, sizeof k, "%s_cpu_ms", stages[i].name);
        json_object_set_new(lat, k, json_integer((json_int_t)lround(stages[i].t->cpu_ms)));
    }
    json_t *ev = json_pack("{s:s,s:s,s:s,s:i,s:o}", "type", "response.done", "status", status, "text",
                           heard ? heard : "", "played_ms", played_ms, "latency", lat);
    if (*r->mid)
        json_object_set_new(ev, "message_id", json_string(r->mid));
    session_send(s, ev);
    reply_unref(r);
}

void reply_cancel(struct voice_session *s, const char *why)
{
    struct voice_reply *r = s->reply;
    if (!r)
        return;
    atomic_store(&r->cancel, 1);
    int played = 0;
    if (r->audio_started) {
        played = (int)((time_mono() - r->t_played_from) * 1000);
        if (played > ms_of(r, r->sent))
            played = ms_of(r, r->sent);
        if (played < 0)
            played = 0;
    }
    char *heard = heard_text(r, played);
    /* A reply not stored yet (still being written) is dropped by the brain's task when it comes
     * back, and what was heard of it stored instead. */
    if (*r->mid && heard && strcmp(heard, r->text))
        cut_stored(s, r->mid, heard);
    else if (!*r->mid && heard && *heard)
        cut_stored(s, "", heard);
    reply_end(s, why, heard, played);
    free(heard);
}

static void send_audio(struct voice_session *s, struct voice_reply *r, size_t n)
{
    if (s->out.format == VOICE_OPUS) {
        int16_t frame[960] = {0}; /* 20 ms at up to 48 kHz */
        uint8_t pkt[1500];
        memcpy(frame, r->pcm + r->sent, n * sizeof *frame);
        int len = opus_enc_frame(s->enc, frame, pkt, sizeof pkt);
        if (len > 0 && !s->closed)
            ws_send_binary(s->c, pkt, (size_t)len);
    } else if (!s->closed) {
        uint8_t b[2 * 48000 * VOICE_CHUNK_MS / 1000];
        for (size_t i = 0; i < n; i++) {
            b[2 * i] = (uint8_t)(r->pcm[r->sent + i] & 0xff);
            b[2 * i + 1] = (uint8_t)((uint16_t)r->pcm[r->sent + i] >> 8);
        }
        ws_send_binary(s->c, b, 2 * n);
    }
    r->sent += n;
}

static void reply_take(struct voice_session *s, struct voice_reply *r);

void reply_tick(struct voice_session *s)
{
    struct voice_reply *r = s->reply;
    if (r && r->streaming)
        reply_take(s, r);
    if (!r || s->reply != r || !r->audio_started)
        return;
    double now = time_mono();
    if (r->t_first_byte <= 0) {
        r->t_first_byte = r->t_played_from = now;
        r->played_from_in = s->in_pos;
    }
    int played = (int)((now - r->t_played_from) * 1000), sent_ms = ms_of(r, r->sent);
    if (played > sent_ms) {
        /* Synthesis fell behind: the client ran dry and plays on from here. */
        r->t_played_from += (played - sent_ms) / 1000.0;
        played = sent_ms;
    }
    size_t step = (size_t)r->rate * (s->out.format == VOICE_OPUS ? 20 : VOICE_CHUNK_MS) / 1000;
    while (sent_ms < played + VOICE_PLAY_LEAD_MS && r->sent < r->npcm) {
        size_t n = r->npcm - r->sent < step ? r->npcm - r->sent : step;
        /* A frame of Opus is whole: the tail of a sentence waits for the next, or the end. */
        if (n < step && s->out.format == VOICE_OPUS && (r->nsynth < r->nsent || r->streaming))
            break;
        int upto = ms_of(r, r->sent + n);
        for (; r->vis_sent < r->nvis && r->vis[r->vis_sent].t_ms < upto; r->vis_sent++)
            session_send(s, json_pack("{s:s,s:i,s:s}", "type", "response.viseme", "t_ms", r->vis[r->vis_sent].t_ms,
                                      "viseme", r->vis[r->vis_sent].viseme));
        send_audio(s, r, n);
        sent_ms = ms_of(r, r->sent);
    }
    if (!r->streaming && r->nsynth == r->nsent && r->sent >= r->npcm && played >= ms_of(r, r->npcm))
        reply_end(s, "completed", r->text, ms_of(r, r->npcm));
}

/* One sentence spoken on a worker. */
struct tts_job {
    struct voice_reply *r;
    int idx;
    const char *text; /* r's sentence idx (the list grows on the loop meanwhile; the string stays) */
    int16_t *pcm;
    size_t n, cap;
    struct tts_phone *ph;
    int nph, phcap;
    int err;
};

static int tts_audio(void *arg, const int16_t *pcm, size_t n)
{
    struct tts_job *j = arg;
    if (atomic_load(&j->r->cancel))
        return 1;
    if (j->n + n > j->cap) {
        size_t cap = (j->n + n) * 2;
        int16_t *p = realloc(j->pcm, cap * sizeof *p);
        if (!p)
            return 1;
        j->pcm = p;
        j->cap = cap;
    }
    memcpy(j->pcm + j->n, pcm, n * sizeof *pcm);
    j->n += n;
    return 0;
}

static int tts_phones(void *arg, const struct tts_phone *p, int n)
{
    struct tts_job *j = arg;
    if (j->nph + n > j->phcap) {
        int cap = (j->nph + n) * 2;
        struct tts_phone *q = realloc(j->ph, (size_t)cap * sizeof *q);
        if (!q)
            return 1;
        j->ph = q;
        j->phcap = cap;
    }
    memcpy(j->ph + j->nph, p, (size_t)n * sizeof *p);
    j->nph += n;
    return atomic_load(&j->r->cancel);
}

static void tts_work(struct voice_session *s, void *arg, struct db *db)
{
    (void)s;
    (void)db;
    struct tts_job *j = arg;
    struct tts_engine *e = tts_current();
    char why[128];
    const struct tts_sink sink = {tts_audio, tts_phones, j};
    j->err = e ? e->ops->synthesize(e, j->text, &j->r->voice, &sink, why, sizeof why) : DP_ERR_NOT_IMPLEMENTED;
    if (j->err || !j->n || e->rate == j->r->rate)
        return;
    /* pcm16 asked for at another rate than the engine's, a sentence at a time (they join at pauses;
     * phone timings are in ms and hold). */
    int16_t *pcm;
    size_t n;
    if ((j->err = audio_resample(j->pcm, j->n, e->rate, j->r->rate, 4, &pcm, &n)))
        return;
    free(j->pcm);
    j->pcm = pcm;
    j->n = j->cap = n;
}

static void speak_next(struct voice_session *s, struct voice_reply *r);

static int add_viseme(struct voice_reply *r, int t_ms, const char *v)
{
    if (r->nvis && !strcmp(r->vis[r->nvis - 1].viseme, v))
        return DP_OK; /* the mouth holds its shape */
    if (r->nvis == r->vis_cap) {
        int cap = r->vis_cap ? 2 * r->vis_cap : 64;
        struct voice_viseme *q = realloc(r->vis, (size_t)cap * sizeof *q);
        if (!q)
            return DP_ERR_NOMEM;
        r->vis = q;
        r->vis_cap = cap;
    }
    r->vis[r->nvis++] = (struct voice_viseme){t_ms, v};
    return DP_OK;
}

static void tts_done(struct voice_session *s, void *arg, int open)
{
    struct tts_job *j = arg;
    struct voice_reply *r = j->r;
    if (!open || atomic_load(&r->cancel) || s->reply != r)
        goto out;
    if (j->err) {
        session_error(s, dp_errcode(j->err), "speech synthesis failed: %s", dp_strerror(j->err));
        reply_cancel(s, "failed");
        goto out;
    }
    if (r->npcm + j->n > r->pcm_cap) {
        size_t cap = (r->npcm + j->n) * 2;
        int16_t *p = realloc(r->pcm, cap * sizeof *p);
        if (!p)
            goto out;
        r->pcm = p;
        r->pcm_cap = cap;
    }
    int base = ms_of(r, r->npcm);
    for (int i = 0; i < j->nph; i++)
        add_viseme(r, base + j->ph[i].start_ms, tts_viseme(j->ph[i].phone));
    memcpy(r->pcm + r->npcm, j->pcm, j->n * sizeof *j->pcm);
    r->npcm += j->n;
    echo_add_reply(&s->echo, j->pcm, j->n);
    r->sent_end_ms[j->idx] = ms_of(r, r->npcm);
    r->nsynth = j->idx + 1;
    if (!r->audio_started && r->npcm) {
        r->audio_started = 1;
        r->tts = s->last_task;
        session_send(s, json_pack("{s:s,s:s,s:i}", "type", "response.audio.start", "format",
                                  voice_format_name(s->out.format), "rate", r->rate));
    }
    speak_next(s, r);
    reply_tick(s); /* the first audio goes now, not at the next tick */
out:
    free(j->pcm);
    free(j->ph);
    free(j);
    reply_unref(r);
}

/* The next sentence to synthesis, one at a time (their audio joins in order), beside the
 * brain's task: speech starts while the model is still writing. */
static void speak_next(struct voice_session *s, struct voice_reply *r)
{
    if (r->next_sent >= r->nsent || r->next_sent > r->nsynth)
        return; /* nothing new, or one in flight (its done asks for the next) */
    struct tts_job *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->r = r;
    j->idx = r->next_sent++;
    j->text = r->sentences[j->idx];
    r->refs++;
    if (session_task_how(s, WS_TASK_BESIDE, tts_work, tts_done, j)) {
        r->refs--;
        free(j);
    }
}

/* Cuts what is whole of the text not yet cut into pieces to speak. */
static int cut_pieces(struct voice_reply *r)
{
    for (;;) {
        const char *p = r->text + r->cut_at;
        while (*p == ' ' || *p == '\n')
            p++;
        if (!*p)
            return DP_OK;
        size_t len = speech_piece_len(p, TTS_TEXT_MAX - 1, r->nsent == 0, r->streaming);
        if (!len)
            return DP_OK;
        if (r->nsent == r->sent_cap) {
            int cap = r->sent_cap ? 2 * r->sent_cap : 8;
            char **q = realloc(r->sentences, (size_t)cap * sizeof *q);
            if (q)
                r->sentences = q;
            int *t = q ? realloc(r->sent_end_ms, (size_t)cap * sizeof *t) : NULL;
            if (!t)
                return DP_ERR_NOMEM;
            r->sent_end_ms = t;
            r->sent_cap = cap;
        }
        if (!(r->sentences[r->nsent] = strndup(p, len)))
            return DP_ERR_NOMEM;
        r->sent_end_ms[r->nsent++] = 0;
        r->cut_at = (size_t)(p - r->text) + len;
        if (r->t_brain <= 0)
            r->t_brain = time_mono(); /* the brain's part of the turn: until its first clause */
    }
}

static int text_append(struct voice_reply *r, const char *p, size_t n)
{
    if (r->text_len + n + 1 > r->text_cap) {
        size_t cap = (r->text_len + n + 1) * 2;
        char *t = realloc(r->text, cap);
        if (!t)
            return DP_ERR_NOMEM;
        r->text = t;
        r->text_cap = cap;
    }
    memcpy(r->text + r->text_len, p, n);
    r->text_len += n;
    r->text[r->text_len] = 0;
    return DP_OK;
}

/* Takes the pieces the brain wrote since last time: sent on in order (response.text.delta), added
 * to the text, what is whole of it cut and spoken. A reply that cannot be kept ends failed. */
static void reply_take(struct voice_session *s, struct voice_reply *r)
{
    json_t *got = NULL, *fresh = json_array();
    pthread_mutex_lock(&r->lock);
    if (fresh && json_array_size(r->queued)) {
        got = r->queued;
        r->queued = fresh;
        fresh = NULL;
    }
    pthread_mutex_unlock(&r->lock);
    json_decref(fresh);
    size_t i;
    json_t *v;
    int err = DP_OK;
    json_array_foreach (got, i, v) {
        session_send(s, json_pack("{s:s,s:O}", "type", "response.text.delta", "text", v));
        if (!err)
            err = text_append(r, json_string_value(v), json_string_length(v));
    }
    json_decref(got);
    if (err || (err = cut_pieces(r))) {
        session_error(s, "internal_error", "out of memory");
        reply_cancel(s, "failed");
        return;
    }
    speak_next(s, r);
}

/* The turn on a worker: the question stored, the brain's reply stored; its pieces handed to the
 * loop as they come, its citations collected. */
struct brain_job {
    struct voice_reply *r;
    json_t *citations, *reply;
    int err;
};

static void on_delta(void *ctx, const char *text, size_t len)
{
    struct voice_reply *r = ((struct brain_job *)ctx)->r;
    json_t *v = json_stringn(text, len);
    pthread_mutex_lock(&r->lock);
    json_array_append_new(r->queued, v);
    pthread_mutex_unlock(&r->lock);
}

static void on_citation(void *ctx, json_t *c)
{
    json_array_append(((struct brain_job *)ctx)->citations, c);
}

static int reply_cancelled(void *ctx)
{
    return atomic_load(&((struct voice_reply *)ctx)->cancel);
}

static int turn_allowed(struct voice_session *s, struct db *db)
{
    if (!s->visitor)
        return avatar_access(db, ws_auth(s->c), s->avatar_id, AVATAR_VIEW, NULL);
    struct talk_conversation conv;
    int full = 0;
    int err = talk_visitor_conversation(db, s->slug, s->conv, s->visitor_token, &conv);
    if (!err && !(err = talk_conversation_full(db, s->conv, TALK_VISITOR_MESSAGES_MAX, &full)) && full)
        err = DP_ERR_UNPROCESSABLE;
    return err;
}

static void brain_work(struct voice_session *s, void *arg, struct db *db)
{
    struct brain_job *j = arg;
    char umid[ID_LEN];
    const struct brain_sink sink = {on_delta, on_citation, j, NULL};
    if (!db) {
        j->err = DP_ERR_UNAVAILABLE;
        return;
    }
    /* Access may have been taken away since the session started; a visitor's conversation is
     * checked as each of their text turns is, and kept as short. */
    if ((j->err = turn_allowed(s, db)) || (j->err = talk_add_user_message(db, s->conv, j->r->question, umid)))
        return;
    /* Spoken as the message's own audio is (GET /messages/{mid}/audio): the profile read now,
     * so a profile trained during the session is heard from its next turn; before the first
     * piece, which synthesis may take at once (the queue's lock orders the two). */
    struct context ctx = {.db = db};
    talk_voice_params(&ctx, s->avatar_id, &j->r->voice);
    j->err = talk_answer(db, s->conv, s->avatar_id, umid, j->r->question, reply_cancelled, j->r, &sink, &j->reply);
    /* Cancelled after it was stored: nothing of it was heard. */
    if (!j->err && atomic_load(&j->r->cancel)) {
        talk_cut_reply(db, s->conv, json_string_value(json_object_get(j->reply, "id")), "");
        j->err = DP_ERR_CANCELLED;
    }
}

static void brain_done(struct voice_session *s, void *arg, int open)
{
    struct brain_job *j = arg;
    struct voice_reply *r = j->r;
    if (!j->err && atomic_load(&r->cancel))
        cut_stored(s, json_string_value(json_object_get(j->reply, "id")), ""); /* cancelled meanwhile */
    if (!open || atomic_load(&r->cancel) || s->reply != r)
        goto out;
    r->brain = s->last_task;
    if (j->err) {
        if (j->err == DP_ERR_NOT_FOUND)
            session_error(s, "not_found", "this avatar is no longer available to you");
        else if (j->err == DP_ERR_UNPROCESSABLE)
            session_error(s, "conversation_full", "this conversation is full (%d messages): start a new one",
                          TALK_VISITOR_MESSAGES_MAX);
        else
            session_error(s, dp_errcode(j->err), "the reply could not be made: %s", dp_strerror(j->err));
        reply_cancel(s, "failed"); /* what was spoken of it is over; nothing was stored */
        goto out;
    }
    snprintf(r->mid, sizeof r->mid, "%s", json_string_value(json_object_get(j->reply, "id")));
    r->streaming = 0;
    reply_take(s, r); /* the rest of the text, and its last piece whole now */
    if (s->reply != r)
        goto out;
    if (r->t_brain <= 0)
        r->t_brain = time_mono();
    size_t i;
    json_t *v;
    json_array_foreach (j->citations, i, v) {
        json_t *ev = json_deep_copy(v);
        json_object_set_new(ev, "type", json_string("response.citation"));
        session_send(s, ev);
    }
    if (!r->nsent)
        reply_end(s, "completed", "", 0);
out:
    json_decref(j->citations);
    json_decref(j->reply);
    free(j);
    reply_unref(r);
}

void reply_start(struct voice_session *s, const char *question, double t_speech_end)
{
    if (s->reply)
        reply_cancel(s, "interrupted");
    struct voice_reply *r = calloc(1, sizeof *r);
    struct brain_job *j = calloc(1, sizeof *j);
    if (!r || !j || !(r->question = strdup(question)) || !(r->queued = json_array()) || text_append(r, "", 0)) {
        if (r) {
            free(r->question);
            json_decref(r->queued);
        }
        free(r);
        free(j);
        return;
    }
    r->refs = 1;
    pthread_mutex_init(&r->lock, NULL);
    r->streaming = 1;
    r->gen = ++s->reply_gen;
    r->t_speech_end = t_speech_end;
    r->t_final = time_mono();
    r->rate = s->out.format == VOICE_PCM16 ? s->out.rate : tts_current() ? tts_current()->rate : 16000;
    echo_reset(&s->echo, r->rate);
    s->echo_until = 0;
    s->reply = r;
    s->barge_pending = 0;
    session_send(s, json_pack("{s:s}", "type", "response.started"));
    j->r = r;
    j->citations = json_array();
    r->refs++;
    /* In the session's order (its question stored after the turn before), on the provider pool:
     * a model is mostly waited on. */
    if (session_task_how(s, WS_TASK_SLOW, brain_work, brain_done, j)) {
        r->refs--;
        json_decref(j->citations);
        free(j);
        reply_end(s, "failed", "", 0);
        return;
    }
    session_kick(s);
}
