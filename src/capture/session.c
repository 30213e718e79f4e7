/* One device's WebSocket: framing on the loop, audio synced in groups on a worker before the ack. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/opus_packet.h"
#include "capture/capture.h"
#include "capture/clients.h"
#include "capture/devices.h"
#include "capture/group_sync.h"
#include "capture/recfile.h"
#include "capture/recording.h"
#include "capture/settings.h"
#include "capture/speech.h"
#include "capture/wyoming.h"
#include "core/buf.h"
#include "core/context.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "net/ws.h"

enum rec_state { REC_NONE = 0, REC_OPENING, REC_OPEN };

struct capture_session {
    struct client_entry *entry;
    struct recording want; /* the device, and the format of its current stream */
    struct wy_stream wy;
    enum rec_state state; /* loop side: is a recording open (or being opened) */
    struct buf pending;   /* unsynced chunks: [int64 seq][uint32 len][bytes] each */
    double pending_since; /* time_mono() of the oldest pending chunk */
    int flush_inflight;
    /* The newest written group, acknowledged once its sync round is durable (it covers the older). */
    int ack_waiting;
    uint64_t ack_ticket, ack_bytes;
    int64_t ack_seq;
    char ack_rec[ID_LEN];
    int tasks; /* submitted, not done */
    int gone;  /* the connection closed; freed when the last task is done */
    /* Worker side (a connection's tasks run one at a time, in order). */
    struct recording rec;
    struct recfile rf;
    int rf_open;
    struct opus_dec *dec;
    struct speech_track speech; /* of the open recording, from where this session took it up */
    long silence_ms;            /* a silence this long after speech closes the conversation */
};

enum task_kind { T_OPEN, T_FLUSH, T_CLOSE, T_GONE };

struct task {
    enum task_kind kind;
    struct capture_session *s;
    struct recording want; /* T_OPEN */
    char *data;            /* T_FLUSH: pending records, owned */
    size_t len;
    const char *reason; /* T_CLOSE */
    int err;            /* results */
    uint64_t ticket;    /* T_FLUSH: the sync round that makes it durable */
    uint64_t bytes;
    int64_t seq;
    char rec_id[ID_LEN];
    int silence; /* T_FLUSH: the conversation has been silent long enough after speech */
    /* T_GONE: what it needs of a session that may be freed before it runs (it is not counted in
     * the session's tasks, so that the session never waits on the cache to be released). */
    char key[200], session[ID_LEN];
};

static const size_t REC_HDR = 12; /* int64 seq + uint32 len */

/* Sends j (taken) as a text frame. */
static void send_json(struct ws_conn *c, json_t *j)
{
    size_t n;
    char *p = j ? json_dump_compact(j, &n) : NULL;
    if (p)
        ws_send_text(c, p, n);
    free(p);
    json_decref(j);
}

static void send_error(struct ws_conn *c, const char *code, const char *msg)
{
    send_json(c, json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "data", "code", code, "message", msg));
}

/* Written by hand, not packed and dumped: a thousand streams send five a second each, and the
 * fields are numbers and an id (hex digits and dashes) that need no escaping. */
static void send_ack(struct ws_conn *c, uint64_t bytes, int64_t seq, const char *rec_id, long channels)
{
    char msg[200], seq_text[24] = "null";
    if (seq >= 0)
        snprintf(seq_text, sizeof seq_text, "%lld", (long long)seq);
    int n = snprintf(msg, sizeof msg,
                     "{\"type\":\"ack\",\"data\":{\"samples\":%llu,\"bytes\":%llu,\"seq\":%s,\"recording_id\":\"%s\"}}",
                     (unsigned long long)(bytes / (uint64_t)(2 * (channels > 0 ? channels : 1))),
                     (unsigned long long)bytes, seq_text, id_valid(rec_id) ? rec_id : "");
    if (n > 0 && (size_t)n < sizeof msg)
        ws_send_text(c, msg, (size_t)n);
}

static void session_release(struct capture_session *s)
{
    if (s->rf_open)
        recfile_close(&s->rf);
    if (s->dec)
        opus_dec_free(s->dec);
    buf_cleanup(&s->pending);
    clients_remove(s->entry);
    free(s);
}

void capture_session_free(void *session)
{
    if (session)
        session_release(session);
}

/* ---- worker side ---- */

static int close_current(struct capture_session *s, const struct context *e, const char *reason)
{
    if (!s->rf_open)
        return DP_OK;
    recfile_close(&s->rf);
    s->rf_open = 0;
    int err = recording_close(e, capture_cfg()->dir, s->rec.id, reason);
    clients_unclaim(s->entry);
    return err == DP_ERR_NOT_FOUND ? DP_OK : err;
}

/* Continues the device's open recording of this format, or starts one. */
static int open_recording(struct capture_session *s, const struct context *e, struct task *t)
{
    const struct capture_config *cfg = capture_cfg();
    int err = close_current(s, e, "replaced");
    if (err)
        return err;
    struct recording r = t->want;
    err = recording_find_open(e->db, &r);
    if (!err) {
        /* Left longer than the grace, it was a conversation of its own: closed, not continued. */
        int closed = 0;
        if ((err = recording_sweep(e, cfg->dir, r.user_id, cfg->idle_close_s, &closed)))
            return err;
        struct recording again = t->want;
        if (recording_find_open(e->db, &again) || strcmp(again.id, r.id) || clients_claim(s->entry, r.id))
            err = DP_ERR_NOT_FOUND; /* closed meanwhile: a new one */
    }
    if (err == DP_ERR_NOT_FOUND) {
        r = t->want;
        if (!t->want.batch || t->want.started_ms < 0)
            r.started_ms = time_now_ms();
        if ((err = recording_create(e->db, &r)) || (err = clients_claim(s->entry, r.id)))
            return err;
    }
    if (err)
        return err;
    if ((err = recfile_open(cfg->dir, r.id, 1, &s->rf))) {
        clients_unclaim(s->entry);
        return err;
    }
    s->rf_open = 1;
    s->rec = r;
    long silence_s = cfg->silence_close_s;
    if ((err = capture_silence_for(e->db, r.user_id, r.device_name, cfg->silence_close_s, &silence_s)))
        DP_LOG(LOG_WARN, "[capture] silence setting unreadable (%s): the server's", dp_strerror(err));
    s->silence_ms = silence_s * 1000;
    /* A resumed recording's earlier speech is not known here: only what this session hears counts. */
    int64_t frame = 2 * (r.channels > 0 ? r.channels : 1);
    speech_track_init(&s->speech, r.rate, r.channels, (int64_t)(s->rf.bytes / (uint64_t)frame) * 1000 / r.rate, 0);
    if (r.opus && !s->dec && !(s->dec = opus_dec_new((int)r.rate)))
        return DP_ERR_NOMEM;
    return DP_OK;
}

/* Appends the pending chunks not durable yet (a resent chunk's seq is at most rf.seq). */
static int flush_chunks(struct capture_session *s, struct task *t)
{
    if (!s->rf_open)
        return DP_ERR_CANCELLED;
    /* An Opus packet (at least one byte after its record header) decodes to at most 120 ms. */
    size_t cap = s->rec.opus ? (t->len / (REC_HDR + 1) + 1) * OPUS_DECODE_MAX_SAMPLES * 2 : t->len;
    char *out = malloc(cap ? cap : 1);
    if (!out)
        return DP_ERR_NOMEM;
    size_t n = 0;
    int64_t seq = -1;
    for (size_t at = 0; at + REC_HDR <= t->len;) {
        int64_t cs;
        uint32_t len;
        memcpy(&cs, t->data + at, 8);
        memcpy(&len, t->data + at + 8, 4);
        const uint8_t *p = (const uint8_t *)t->data + at + REC_HDR;
        at += REC_HDR + len;
        if (cs >= 0 && (cs <= s->rf.seq || cs <= seq))
            continue; /* a duplicate after a resume */
        if (cs >= 0)
            seq = cs;
        if (s->rec.opus) {
            int got = opus_dec_packet(s->dec, p, len, (int16_t *)(out + n), OPUS_DECODE_MAX_SAMPLES);
            if (got > 0)
                n += (size_t)got * 2;
        } else {
            memcpy(out + n, p, len);
            n += len;
        }
    }
    /* Whole frames only: a chunk cut mid-sample never shifts what follows. */
    size_t frame = (size_t)(2 * s->rec.channels);
    n -= n % frame;
    int err = DP_OK;
    if (n || seq >= 0)
        err = recfile_append(&s->rf, out, n, seq, 0);
    /* The VAD hears what was written; a silence long enough after speech ends the conversation. */
    if (!err && n && speech_track_feed(&s->speech, out, n) == DP_OK) {
        int64_t quiet = speech_track_silence_ms(&s->speech);
        t->silence = quiet >= 0 && quiet >= s->silence_ms;
    }
    t->ticket = group_sync_ticket(); /* also for a group of duplicates only: ack after the round */
    free(out);
    return err;
}

static void run_task(void *arg, void *state)
{
    struct task *t = arg;
    struct capture_session *s = t->s;
    struct context e = {0};
    t->err = capture_cfg()->env(state, &e);
    if (t->kind == T_GONE) {
        if (!t->err)
            devices_forget(&e, t->key, t->session);
        return;
    }
    if (!t->err) {
        switch (t->kind) {
        case T_OPEN:
            t->err = open_recording(s, &e, t);
            break;
        case T_FLUSH:
            t->err = flush_chunks(s, t);
            break;
        case T_CLOSE:
            snprintf(t->rec_id, sizeof t->rec_id, "%s", s->rec.id);
            t->bytes = s->rf_open ? s->rf.bytes : 0;
            t->seq = s->rf_open ? s->rf.seq : -1;
            t->err = close_current(s, &e, t->reason);
            devices_publish(&e, s->entry, 1);
            return;
        case T_GONE:
            return;
        }
    }
    if (s->rf_open) {
        t->bytes = s->rf.bytes;
        t->seq = s->rf.seq;
        snprintf(t->rec_id, sizeof t->rec_id, "%s", s->rec.id);
        clients_progress(s->entry, t->bytes, t->seq);
    }
    if (!t->err)
        devices_publish(&e, s->entry, t->kind == T_OPEN);
}

/* ---- loop side ---- */

static void task_done(struct ws_conn *c, void *arg, int open);

static int submit(struct ws_conn *c, struct capture_session *s, struct task *t)
{
    t->s = t->kind == T_GONE ? NULL : s;
    int err = ws_submit(c, run_task, task_done, t);
    if (err) {
        free(t->data);
        free(t);
        return err;
    }
    if (t->kind != T_GONE)
        s->tasks++;
    return DP_OK;
}

/* Hands the pending chunks to a worker to sync. force: even while a sync is running (the worker
 * queue keeps them in order), for audio-stop and close. */
static void flush_now(struct ws_conn *c, struct capture_session *s, int force)
{
    if (s->state != REC_OPEN || (s->flush_inflight && !force) || !s->pending.len)
        return;
    struct task *t = calloc(1, sizeof *t);
    if (!t)
        return;
    t->kind = T_FLUSH;
    t->data = buf_steal(&s->pending, &t->len);
    buf_init(&s->pending, capture_cfg()->pending_max);
    if (submit(c, s, t) == DP_OK)
        s->flush_inflight = 1;
}

#define ACK_POLL_MS 5 /* how often a written group looks whether its sync round is done */

static void schedule(struct ws_conn *c, struct capture_session *s);

/* Sends the waiting ack once its round is durable; a failed sync ends the connection unacked. */
static void check_ack(struct ws_conn *c, struct capture_session *s)
{
    if (!s->ack_waiting)
        return;
    int done = group_sync_done(s->ack_ticket);
    if (done == 0)
        return;
    s->ack_waiting = 0;
    if (done < 0) {
        send_error(c, "storage", "audio could not be synced; reconnect and resume from the last ack");
        ws_close(c, 1011, "storage");
        return;
    }
    send_ack(c, s->ack_bytes, s->ack_seq, s->ack_rec, s->want.channels);
}

/* The connection's one timer serves both: acks waiting for their sync round, and the group of
 * pending chunks due about sync_ms after the oldest came. */
static void on_timer(struct ws_conn *c)
{
    struct capture_session *s = ws_user(c);
    check_ack(c, s);
    if (s->pending.len && (time_mono() - s->pending_since) * 1000.0 >= (double)capture_cfg()->sync_ms)
        flush_now(c, s, 0);
    schedule(c, s);
}

static void schedule(struct ws_conn *c, struct capture_session *s)
{
    long ms = s->ack_waiting ? ACK_POLL_MS : -1;
    if (s->pending.len && !s->flush_inflight && s->state == REC_OPEN) {
        long due = capture_cfg()->sync_ms - (long)((time_mono() - s->pending_since) * 1000.0);
        if (due < 0)
            due = 0;
        ms = ms < 0 || due < ms ? due : ms;
    }
    if (ms >= 0)
        ws_timer_start(c, (uint64_t)ms, on_timer);
    else
        ws_timer_stop(c);
}

static void request_close(struct ws_conn *c, struct capture_session *s, const char *reason)
{
    struct task *t = calloc(1, sizeof *t);
    if (!t)
        return;
    t->kind = T_CLOSE;
    t->reason = reason;
    submit(c, s, t);
    s->state = REC_NONE;
}

static void task_done(struct ws_conn *c, void *arg, int open)
{
    struct task *t = arg;
    if (t->kind == T_GONE) {
        free(t);
        return;
    }
    struct capture_session *s = t->s;
    s->tasks--;
    if (!open || s->gone) {
        if (s->gone && s->tasks == 0)
            session_release(s);
        free(t->data);
        free(t);
        return;
    }
    long channels = s->want.channels;
    switch (t->kind) {
    case T_OPEN:
        if (t->err) {
            DP_LOG(LOG_WARN, "[capture] cannot open a recording client=%s (%s)", s->want.client_id,
                   dp_strerror(t->err));
            send_error(c, "storage", "the recording could not be opened; reconnect to retry");
            ws_close(c, 1011, "storage");
            break;
        }
        s->state = s->state == REC_OPENING ? REC_OPEN : s->state;
        send_ack(c, t->bytes, t->seq, t->rec_id, channels); /* the resume point: recovered and synced */
        schedule(c, s);
        break;
    case T_FLUSH:
        s->flush_inflight = 0;
        if (t->err) {
            DP_LOG(LOG_WARN, "[capture] sync failed client=%s (%s)", s->want.client_id, dp_strerror(t->err));
            send_error(c, "storage", "audio could not be synced; reconnect and resume from the last ack");
            ws_close(c, 1011, "storage");
            break;
        }
        s->ack_waiting = 1;
        s->ack_ticket = t->ticket;
        s->ack_bytes = t->bytes;
        s->ack_seq = t->seq;
        snprintf(s->ack_rec, sizeof s->ack_rec, "%s", t->rec_id);
        check_ack(c, s);
        if (clients_take_close_request(s->entry)) {
            flush_now(c, s, 1);
            request_close(c, s, "request");
        } else if (t->silence) {
            /* The conversation is over; the next chunk (speech or not) starts the next recording. */
            flush_now(c, s, 1);
            request_close(c, s, "silence");
        } else if (t->bytes >= (uint64_t)capture_cfg()->max_seconds * (uint64_t)(s->want.rate * 2 * s->want.channels)) {
            /* Long enough: the next chunk starts the next recording. */
            flush_now(c, s, 1);
            request_close(c, s, "max-length");
        }
        schedule(c, s);
        break;
    case T_CLOSE:
        check_ack(c, s);
        if (s->ack_waiting && !strcmp(s->ack_rec, t->rec_id)) {
            /* Closed into the blob store (synced there): what was written is durable now. */
            s->ack_waiting = 0;
            send_ack(c, s->ack_bytes, s->ack_seq, s->ack_rec, channels);
        }
        if (*t->rec_id)
            send_json(c, json_pack("{s:s,s:{s:s,s:I,s:s}}", "type", "recording.closed", "data", "recording_id",
                                   t->rec_id, "bytes", (json_int_t)t->bytes, "reason", t->reason));
        break;
    case T_GONE: /* submitted once the connection has closed: never here */
        break;
    }
    free(t->data);
    free(t);
}

/* Starts (or continues) a recording in the format of ev; REC_OPENING until the worker answers. */
static void start_stream(struct ws_conn *c, struct capture_session *s, const struct wy_event *ev)
{
    if (s->state != REC_NONE) {
        flush_now(c, s, 1);
        request_close(c, s, "audio-start");
    }
    s->want.rate = ev->rate ? ev->rate : 16000;
    s->want.channels = s->want.opus ? 1 : ev->channels ? ev->channels : 1;
    s->want.batch = ev->batch;
    s->want.started_ms = ev->batch ? ev->timestamp_ms : -1;
    if (s->want.opus && s->want.rate != 8000 && s->want.rate != 12000 && s->want.rate != 16000 &&
        s->want.rate != 24000 && s->want.rate != 48000)
        s->want.rate = 16000;
    struct task *t = calloc(1, sizeof *t);
    if (!t)
        return;
    t->kind = T_OPEN;
    t->want = s->want;
    if (submit(c, s, t) == DP_OK)
        s->state = REC_OPENING;
}

static void on_chunk(struct ws_conn *c, struct capture_session *s, const struct wy_event *ev)
{
    if (s->state == REC_NONE)
        start_stream(c, s, ev);
    else if ((ev->rate && ev->rate != s->want.rate) ||
             (!s->want.opus && ev->channels && ev->channels != s->want.channels)) {
        send_error(c, "format_mismatch", "the chunk's rate or channels differ from audio-start's (chunk dropped)");
        return;
    }
    if (!ev->payload_len)
        return;
    if (!s->pending.len)
        s->pending_since = time_mono();
    int was_empty = !s->pending.len;
    int64_t seq = ev->seq;
    uint32_t len = (uint32_t)ev->payload_len;
    size_t before = s->pending.len;
    if (buf_append(&s->pending, &seq, 8) || buf_append(&s->pending, &len, 4) ||
        buf_append(&s->pending, ev->payload, ev->payload_len)) {
        s->pending.len = before;
        send_error(c, "too_fast",
                   "more audio is waiting to be synced than a device may queue (chunk dropped, "
                   "not acknowledged: resend it after the next ack)");
        return;
    }
    if (was_empty)
        schedule(c, s);
}

static void on_message(struct ws_conn *c, int is_text, const uint8_t *p, size_t n)
{
    struct capture_session *s = ws_user(c);
    struct wy_event ev;
    const char *code = "";
    char why[256];
    enum wy_result r = wy_feed(&s->wy, is_text, p, n, &ev, &code, why, sizeof why);
    if (r == WY_ERROR) {
        send_error(c, code, why);
        return;
    }
    if (r == WY_MORE)
        return;
    /* A close asked for while the device sends nothing to sync (it still pings every ~25 s). */
    if (s->state == REC_OPEN && clients_take_close_request(s->entry)) {
        flush_now(c, s, 1);
        request_close(c, s, "request");
    }
    switch (ev.type) {
    case WY_PING:
        send_json(c, json_pack("{s:s}", "type", "pong"));
        break;
    case WY_AUDIO_START:
        start_stream(c, s, &ev);
        break;
    case WY_AUDIO_CHUNK:
        on_chunk(c, s, &ev);
        break;
    case WY_AUDIO_STOP:
        if (s->state != REC_NONE) {
            flush_now(c, s, 1);
            request_close(c, s, "audio-stop");
        }
        break;
    case WY_OTHER:
        send_error(c, "unknown_type", "expected audio-start, audio-chunk, audio-stop or ping");
        break;
    }
}

static void on_open(struct ws_conn *c)
{
    static const char ready[] = "{\"type\":\"ready\"}";
    ws_send_text(c, ready, sizeof ready - 1);
}

static void on_close(struct ws_conn *c)
{
    struct capture_session *s = ws_user(c);
    if (!s)
        return;
    ws_set_user(c, NULL);
    s->gone = 1;
    /* What was not synced was not acknowledged: the device resends it when it resumes. Its
     * shared state goes (a worker task: the cache blocks); freed once the last task is done. */
    struct task *t = calloc(1, sizeof *t);
    if (t) {
        t->kind = T_GONE;
        clients_entry_key(s->entry, t->key, sizeof t->key);
        snprintf(t->session, sizeof t->session, "%s", clients_entry_session(s->entry));
        submit(c, s, t);
    }
    if (s->tasks == 0)
        session_release(s);
}

const struct ws_handler capture_ws_handler = {on_open, on_message, on_close, NULL};

int capture_device_name_ok(const char *d)
{
    size_t n = strlen(d);
    if (n < 1 || n > 64)
        return 0;
    for (const char *p = d; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '_' || *p == '-'))
            return 0;
    return 1;
}

int capture_session_new(const struct context *e, const char *user_id, const char *device_name, int opus,
                        struct capture_session **out)
{
    if (!capture_device_name_ok(device_name))
        return DP_ERR_INVALID;
    struct capture_session *s = calloc(1, sizeof *s);
    if (!s)
        return DP_ERR_NOMEM;
    size_t ul = strlen(user_id);
    snprintf(s->want.user_id, sizeof s->want.user_id, "%s", user_id);
    snprintf(s->want.client_id, sizeof s->want.client_id, "%s-%s", user_id + (ul > 6 ? ul - 6 : 0), device_name);
    snprintf(s->want.device_name, sizeof s->want.device_name, "%s", device_name);
    s->want.opus = opus;
    s->wy.allow_raw = !opus;
    s->wy.payload_max = capture_cfg()->payload_max;
    buf_init(&s->pending, capture_cfg()->pending_max);
    int err = clients_add(user_id, s->want.client_id, device_name, opus, &s->entry);
    if (!err && (err = devices_announce(e, s->entry, user_id, device_name))) /* held by another instance */
        clients_remove(s->entry);
    if (err) {
        buf_cleanup(&s->pending);
        free(s);
        return err;
    }
    *out = s;
    return DP_OK;
}
