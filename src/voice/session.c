/* The voice session: its lifetime, the client's events, limits (per-user sessions, idle time,
 * session length), and the tasks it hands to workers. */
#include "voice/session.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/opus_packet.h"
#include "audio/resample.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "net/ws.h"
#include "providers/stt.h"
#include "providers/tts.h"
#include "talk/talk.h"
#include "voice/session_impl.h"

static struct voice_limits limits = {4, 60000, 3600000};

void voice_configure(const struct voice_limits *lim)
{
    limits = *lim;
}

/* Live sessions per user: a small table under a lock (handshakes run on workers). */
#define USER_SLOTS 1024
static struct {
    char user[ID_LEN];
    int n;
} slots[USER_SLOTS];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

static int slot_take(const char *user)
{
    int err = DP_ERR_RATE_LIMITED, free_at = -1;
    pthread_mutex_lock(&slots_lock);
    for (int i = 0; i < USER_SLOTS; i++) {
        if (slots[i].n && !strcmp(slots[i].user, user)) {
            if (!limits.sessions_per_user || slots[i].n < limits.sessions_per_user) {
                slots[i].n++;
                err = DP_OK;
            }
            goto out;
        }
        if (!slots[i].n && free_at < 0)
            free_at = i;
    }
    if (free_at >= 0) {
        snprintf(slots[free_at].user, ID_LEN, "%s", user);
        slots[free_at].n = 1;
        err = DP_OK;
    }
out:
    pthread_mutex_unlock(&slots_lock);
    return err;
}

static void slot_give(const char *user)
{
    pthread_mutex_lock(&slots_lock);
    for (int i = 0; i < USER_SLOTS; i++)
        if (slots[i].n && !strcmp(slots[i].user, user)) {
            slots[i].n--;
            break;
        }
    pthread_mutex_unlock(&slots_lock);
}

/* A session counted against key (a user, or a visitor's conversation). */
static int session_make(const char *key, const char *avatar_id, const struct voice_env *env, struct voice_session **out)
{
    struct voice_session *s = calloc(1, sizeof *s);
    if (!s)
        return DP_ERR_NOMEM;
    s->ring_n = (size_t)VOICE_RING_MS * VAD_RATE / 1000;
    if (!(s->ring = calloc(s->ring_n, sizeof *s->ring))) {
        free(s);
        return DP_ERR_NOMEM;
    }
    int err = slot_take(key);
    if (err) {
        free(s->ring);
        free(s);
        return err;
    }
    s->refs = 1;
    s->slot_held = 1;
    s->env = env;
    snprintf(s->slot_key, sizeof s->slot_key, "%s", key);
    snprintf(s->avatar_id, sizeof s->avatar_id, "%s", avatar_id);
    vad_init(&s->vad, NULL);
    *out = s;
    return DP_OK;
}

int voice_session_new(const char *user_id, const char *avatar_id, const struct voice_env *env,
                      struct voice_session **out)
{
    int err = session_make(user_id, avatar_id, env, out);
    if (!err)
        snprintf((*out)->user_id, sizeof(*out)->user_id, "%s", user_id);
    return err;
}

int voice_session_new_visitor(const char *slug, const char *cid, const char *token, const char *avatar_id,
                              const struct voice_env *env, struct voice_session **out)
{
    if (strlen(slug) >= sizeof(*out)->slug || strlen(token) >= sizeof(*out)->visitor_token)
        return DP_ERR_NOT_FOUND;
    int err = session_make(cid, avatar_id, env, out);
    if (err)
        return err;
    struct voice_session *s = *out;
    s->visitor = 1;
    snprintf(s->slug, sizeof s->slug, "%s", slug);
    snprintf(s->visitor_token, sizeof s->visitor_token, "%s", token);
    snprintf(s->conv, sizeof s->conv, "%s", cid);
    return DP_OK;
}

/* The session no longer counts against its user's cap (once). */
static void session_release_slot(struct voice_session *s)
{
    if (s->slot_held)
        slot_give(s->slot_key);
    s->slot_held = 0;
}

static void session_unref(struct voice_session *s)
{
    if (--s->refs)
        return;
    session_release_slot(s);
    opus_dec_free(s->dec);
    opus_enc_free(s->enc);
    resampler_free(s->in_rs);
    input_free_waiting(s);
    echo_cleanup(&s->echo);
    free(s->partial);
    free(s->ring);
    free(s);
}

void voice_session_free(void *session)
{
    session_unref(session);
}

void session_send(struct voice_session *s, json_t *event)
{
    size_t n;
    char *t = event ? json_dump_compact(event, &n) : NULL;
    json_decref(event);
    if (t && !s->closed)
        ws_send_text(s->c, t, n);
    free(t);
}

void session_error(struct voice_session *s, const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    session_send(s, json_pack("{s:s,s:s,s:s}", "type", "error", "code", code, "message", msg));
}

struct task {
    struct voice_session *s;
    void (*work)(struct voice_session *s, void *arg, struct db *db);
    void (*done)(struct voice_session *s, void *arg, int open);
    void *arg;
    double t_submit, t_start, t_end; /* time_mono() */
    double cpu;                      /* the worker's CPU seconds for work */
};

static void task_work(void *arg, void *state)
{
    struct task *t = arg;
    t->t_start = time_mono();
    double cpu0 = time_thread_cpu();
    struct db *db = NULL;
    if (t->s->env->db(state, &db))
        db = NULL;
    t->work(t->s, t->arg, db);
    t->cpu = time_thread_cpu() - cpu0;
    t->t_end = time_mono();
}

static void task_done(struct ws_conn *c, void *arg, int open)
{
    (void)c;
    struct task *t = arg;
    t->s->last_task =
        (struct task_timing){(t->t_start - t->t_submit) * 1000, (t->t_end - t->t_start) * 1000, t->cpu * 1000};
    t->done(t->s, t->arg, open && !t->s->closed);
    session_unref(t->s);
    free(t);
}

int session_task(struct voice_session *s, void (*work)(struct voice_session *s, void *arg, struct db *db),
                 void (*done)(struct voice_session *s, void *arg, int open), void *arg)
{
    return session_task_how(s, WS_TASK_ORDERED, work, done, arg);
}

int session_task_how(struct voice_session *s, int how, void (*work)(struct voice_session *s, void *arg, struct db *db),
                     void (*done)(struct voice_session *s, void *arg, int open), void *arg)
{
    struct task *t = malloc(sizeof *t);
    if (!t)
        return DP_ERR_NOMEM;
    *t = (struct task){s, work, done, arg, time_mono(), 0, 0, 0};
    s->refs++;
    int err = ws_submit_how(s->c, how, task_work, task_done, t);
    if (err) {
        s->refs--;
        free(t);
    }
    return err;
}

/* session.start: the conversation (the caller's own with this avatar, or a new one). */
struct start_job {
    struct voice_event ev;
    int err;
    const char *why;
};

static void start_work(struct voice_session *s, void *arg, struct db *db)
{
    struct start_job *j = arg;
    if (!db) {
        j->err = DP_ERR_UNAVAILABLE;
        return;
    }
    if (!s->stt && stt_current() && stt_current()->ops->open(stt_current(), &s->stt))
        s->stt = NULL;
    if (s->visitor) { /* their conversation is the one the handshake proved */
        if (*j->ev.conversation_id && strcmp(j->ev.conversation_id, s->conv))
            j->err = DP_ERR_NOT_FOUND;
        return;
    }
    if (*j->ev.conversation_id) {
        struct talk_conversation conv;
        j->err = talk_conversation(db, j->ev.conversation_id, &conv);
        if (!j->err && (strcmp(conv.user_id, s->user_id) || strcmp(conv.avatar_id, s->avatar_id)))
            j->err = DP_ERR_NOT_FOUND;
        if (!j->err)
            memcpy(s->conv, conv.id, sizeof s->conv);
        return;
    }
    json_t *greeting = NULL;
    struct talk_holder h = {s->user_id, NULL};
    j->err = talk_start(db, s->avatar_id, &h, s->conv, &greeting);
    json_decref(greeting);
}

static json_t *spec_json(const struct voice_audio_spec *a)
{
    return json_pack("{s:s,s:i}", "format", voice_format_name(a->format), "rate", a->rate);
}

static void start_done(struct voice_session *s, void *arg, int open)
{
    struct start_job *j = arg;
    s->starting = 0;
    if (open && j->err) {
        if (j->err == DP_ERR_NOT_FOUND)
            session_error(s, "not_found", "no such conversation of yours with this avatar");
        else
            session_error(s, dp_errcode(j->err), "the session could not start: %s", dp_strerror(j->err));
    } else if (open) {
        s->started = 1;
        s->in = j->ev.audio;
        s->out = j->ev.reply_audio;
        session_send(s, json_pack("{s:s,s:s,s:o,s:o,s:s,s:b}", "type", "session.started", "conversation_id", s->conv,
                                  "audio", spec_json(&s->in), "reply_audio", spec_json(&s->out), "turn_detection",
                                  s->manual ? "manual" : "vad", "transcription", s->stt != NULL));
    }
    free(j);
}

static void on_start(struct voice_session *s, const struct voice_event *ev)
{
    if (s->started || s->starting) {
        session_error(s, "already_started", "session.start comes once");
        return;
    }
    if (!tts_current()) {
        session_error(s, "not_implemented", "speech synthesis is not configured on this server");
        return;
    }
    /* Speech comes out at the engine's rate: Opus encodes it there, PCM is resampled to the rate
     * asked for (session_reply.c); input is resampled to recognition's 16 kHz. */
    int tts_rate = tts_current()->rate;
    /* A start that failed (an unknown conversation) may be retried with other audio. */
    opus_dec_free(s->dec);
    opus_enc_free(s->enc);
    resampler_free(s->in_rs);
    s->dec = NULL;
    s->enc = NULL;
    s->in_rs = NULL;
    if (ev->audio.format == VOICE_OPUS && !(s->dec = opus_dec_new(VAD_RATE))) {
        session_error(s, "internal_error", "no Opus decoder");
        return;
    }
    if (ev->audio.format == VOICE_PCM16 && ev->audio.rate != VAD_RATE &&
        resampler_new(ev->audio.rate, VAD_RATE, 4, &s->in_rs)) {
        session_error(s, "unsupported_audio", "audio: no resampler from %d Hz", ev->audio.rate);
        return;
    }
    if (ev->reply_audio.format == VOICE_OPUS && !(s->enc = opus_enc_new(tts_rate, 24000))) {
        session_error(s, "unsupported_audio", "reply_audio: no Opus encoder at %d Hz", tts_rate);
        return;
    }
    struct start_job *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->ev = *ev;
    s->manual = ev->manual;
    if (ev->reply_audio.format == VOICE_OPUS)
        j->ev.reply_audio.rate = tts_rate;
    s->starting = 1;
    if (session_task(s, start_work, start_done, j)) {
        s->starting = 0;
        free(j);
    }
}

static void on_message(struct ws_conn *c, int is_text, const uint8_t *p, size_t n)
{
    struct voice_session *s = ws_user(c);
    s->last_rx = time_mono();
    if (!is_text) {
        if (!s->started) {
            session_error(s, "not_started", "send session.start before audio");
            return;
        }
        input_audio(s, p, n);
        return;
    }
    struct voice_event ev;
    const char *code = "invalid_event";
    char msg[200];
    if (voice_event_parse((const char *)p, n, &ev, &code, msg, sizeof msg)) {
        session_error(s, code, "%s", msg);
        return;
    }
    if (ev.type == VOICE_EV_SESSION_START) {
        on_start(s, &ev);
        return;
    }
    if (ev.type == VOICE_EV_SESSION_END) {
        if (s->reply)
            reply_cancel(s, "cancelled");
        ws_close(c, 1000, "session ended");
        return;
    }
    if (!s->started) {
        session_error(s, "not_started", "send session.start first");
        return;
    }
    if (ev.type == VOICE_EV_INPUT_COMMIT)
        input_commit(s);
    else if (ev.type == VOICE_EV_RESPONSE_CANCEL) {
        if (s->reply)
            reply_cancel(s, "cancelled");
        else
            session_error(s, "no_response", "no response is being made or played");
    }
}

static void on_timer(struct ws_conn *c)
{
    session_tick(ws_user(c));
}

void session_tick(struct voice_session *s)
{
    double now = time_mono();
    if (limits.idle_ms && (now - s->last_rx) * 1000 > limits.idle_ms) {
        session_error(s, "idle_timeout", "nothing received for %ld s", limits.idle_ms / 1000);
        ws_close(s->c, 1000, "idle");
        return;
    }
    if (limits.session_ms && (now - s->opened_at) * 1000 > limits.session_ms) {
        session_error(s, "session_expired", "a session lasts at most %ld s", limits.session_ms / 1000);
        ws_close(s->c, 1000, "session length");
        return;
    }
    if (s->reply)
        reply_tick(s);
    if (s->finish_waiting)
        input_finish_retry(s);
    ws_timer_start(s->c,
                   s->reply && s->reply->streaming ? VOICE_STREAM_TICK_MS
                   : s->reply || s->finish_waiting ? VOICE_TICK_MS
                                                   : 500,
                   on_timer);
}

void session_kick(struct voice_session *s)
{
    if (!s->closed)
        ws_timer_start(s->c, s->reply && s->reply->streaming ? VOICE_STREAM_TICK_MS : VOICE_TICK_MS, on_timer);
}

static void on_open(struct ws_conn *c)
{
    struct voice_session *s = ws_user(c);
    s->c = c;
    s->opened_at = s->last_rx = time_mono();
    ws_timer_start(c, 500, on_timer);
}

static void close_work(struct voice_session *s, void *arg, struct db *db)
{
    (void)arg;
    (void)db;
    if (s->stt)
        stt_current()->ops->close(s->stt);
    s->stt = NULL;
}

static void close_done(struct voice_session *s, void *arg, int open)
{
    (void)s;
    (void)arg;
    (void)open;
}

static void on_close(struct ws_conn *c)
{
    struct voice_session *s = ws_user(c);
    s->closed = 1;           /* nothing more is sent */
    session_release_slot(s); /* its tasks may still run a while: the user may start another */
    if (s->reply)
        reply_cancel(s, "cancelled"); /* the stored reply keeps what was heard */
    input_close(s);
    /* The recogniser goes back after every task that may use it (tasks run in order). */
    if (session_task(s, close_work, close_done, NULL))
        close_work(s, NULL, NULL);
    session_unref(s);
}

const struct ws_handler voice_ws_handler = {on_open, on_message, on_close, NULL};
