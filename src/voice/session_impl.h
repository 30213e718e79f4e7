/* The voice session's state, shared by its files: session.c (events, limits, lifetime),
 * session_input.c (audio in, VAD, recognition, barge-in) and session_reply.c (the turn, synthesis,
 * paced playback, cancel). Everything here is the loop thread's, except what a task's work is
 * handed explicitly (the STT stream, used only by tasks, which run one at a time). */
#ifndef DP_VOICE_SESSION_IMPL_H
#define DP_VOICE_SESSION_IMPL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "providers/tts.h"
#include "voice/echo.h"
#include "voice/session.h"
#include "audio/vad.h"
#include "voice/voice_event.h"

struct ws_conn;
struct stt_stream;
struct opus_dec;
struct opus_enc;
struct resampler;
struct finish_job;

#define VOICE_RING_MS 10000          /* input kept for push-to-talk and the start of a barge-in */
#define VOICE_PREROLL_MS 200         /* audio before the detected start that recognition also gets */
#define VOICE_FEED_MS 100            /* recognition is fed in steps of this much */
#define VOICE_PARTIAL_MS 300         /* a partial transcript at most this often */
#define VOICE_UTTERANCE_MAX_MS 30000 /* a longer utterance is ended as if committed */
#define VOICE_BARGE_IN_MS 300        /* the user's own speech that interrupts a reply */
#define VOICE_FEED_BACKLOG_MS 5000   /* audio of an utterance not yet recognised before audio is refused */
#define VOICE_PLAY_LEAD_MS 250       /* reply audio sent ahead of what is being played */
#define VOICE_CHUNK_MS 40            /* reply audio per binary frame (pcm16; Opus packets are 20 ms) */
#define VOICE_TICK_MS 20             /* the pacing timer while a reply plays */
#define VOICE_STREAM_TICK_MS 4       /* while the brain streams: its pieces are taken this often */
#define VOICE_FRAME_MAX 32000        /* bytes of one binary frame: 1 s of pcm16 at 16 kHz */
#define VOICE_FINISH_WAIT_MS 15000   /* an utterance's end waits this long for a free decoder */

/* Where a task's time went: waiting (behind the session's earlier tasks and for a worker),
 * running, and of that the worker's CPU time (the rest: the machine's other threads ran), in ms;
 * for the stages of a turn's latency (response.done). */
struct task_timing {
    double wait_ms, run_ms, cpu_ms;
};

struct voice_viseme {
    int t_ms;
    const char *viseme; /* static (tts_viseme) */
};

/* One reply being made and spoken; reference-counted by the tasks working on it. */
struct voice_reply {
    int refs;
    atomic_int cancel;    /* set by the loop: the brain and synthesis give up */
    int gen;              /* the session's reply generation it belongs to */
    char *question;       /* the final transcript it answers */
    char mid[ID_LEN];     /* the stored reply ("" until the brain is done) */
    char *text;           /* the reply's text so far (the loop's) */
    char **sentences;     /* text cut for synthesis: its first clause, then sentences */
    int nsent, next_sent; /* sentences, the next to synthesize */
    int *sent_end_ms;     /* where each synthesized sentence ends in the reply's audio */
    int nsynth;           /* sentences synthesized */
    int16_t *pcm;         /* the reply's audio so far, at rate */
    size_t npcm, pcm_cap, sent;
    int rate;
    struct tts_voice voice; /* the avatar's voice profile at the time of the turn (talk_voice_params) */
    struct voice_viseme *vis;
    int nvis, vis_cap, vis_sent;
    int audio_started;                  /* response.audio.start went out */
    double t_speech_end;                /* time_mono(): the user's last voiced frame (or the commit) */
    double t_final;                     /* the final transcript */
    double t_brain;                     /* the brain's first sentence to speak, or its end */
    double t_first_byte;                /* the first audio byte sent (moved on when playback would underrun) */
    double t_played_from;               /* when playback position 0 is being heard */
    int64_t played_from_in;             /* the input sample (in_pos) heard as playback position 0 */
    struct task_timing stt, brain, tts; /* the final's, the brain's and the first sentence's tasks */

    /* Spoken as it is written: the brain's worker adds the pieces it writes to queued; the loop
     * takes them (each tick, VOICE_STREAM_TICK_MS while the brain streams), sends them on and
     * cuts text into sentences as they become whole. */
    pthread_mutex_t lock;
    json_t *queued; /* pieces not yet taken by the loop (under lock) */
    int streaming;  /* the brain is still writing: more text may come */
    size_t text_len, text_cap;
    size_t cut_at; /* where in text the next piece to speak begins */
    int sent_cap;  /* sentences and sent_end_ms allocated */
};

struct voice_session {
    int refs;              /* the connection's + one per task in flight */
    int closed;            /* the connection is gone */
    int slot_held;         /* counted against the user's sessions */
    char slot_key[ID_LEN]; /* what it is counted against: the user, or a visitor's conversation */
    struct ws_conn *c;
    const struct voice_env *env;
    char user_id[ID_LEN], avatar_id[ID_LEN], conv[ID_LEN];
    /* a visitor of a legacy page (user_id ""): the page, and the token of their conversation conv */
    int visitor;
    char slug[65], visitor_token[64];
    double opened_at, last_rx;
    /* negotiated by session.start */
    int started, starting;
    struct voice_audio_spec in, out;
    int manual; /* turns end only at input.commit */
    struct opus_dec *dec;
    struct opus_enc *enc;
    struct resampler *in_rs; /* pcm16 at another rate than 16 kHz */
    /* input, at 16 kHz */
    struct vad vad;
    int16_t frame[VAD_FRAME];
    int frame_fill;
    int64_t in_pos; /* samples taken since the start */
    int16_t *ring;  /* the last VOICE_RING_MS, indexed by position modulo its size */
    size_t ring_n;
    int64_t turn_from;     /* where the audio of the next turn starts (push-to-talk) */
    double last_voiced_at; /* time_mono() of the last voiced frame */
    /* the utterance being recognised */
    struct stt_stream *stt; /* tasks only */
    int utt_open, utt_gen;
    int64_t utt_fed; /* position up to which recognition has been fed */
    int64_t utt_start;
    int64_t last_partial_pos;
    char *partial;                     /* the last partial sent */
    int feeds_waiting;                 /* a recognition step in flight (at most one) */
    int feed_pending;                  /* a step was asked for while it ran: the next one follows it */
    int64_t feed_to;                   /* up to where that step was asked for */
    int partial_pending;               /* a partial was due meanwhile: the next step asks for it */
    struct finish_job *finish_waiting; /* an utterance's end waiting for a decoder (tried each tick) */
    int finish_deferred;               /* the next utterance ended meanwhile: its end follows */
    int deferred_gen;
    double deferred_t_end;
    int overloaded; /* audio is being refused: recognition is behind */
    /* the reply */
    struct voice_reply *reply; /* NULL when none is being made or spoken */
    int reply_gen;
    int barge_ms;                 /* the user's own voiced time while a reply is active */
    int barge_pending;            /* speech started during a reply, not yet long enough */
    struct echo echo;             /* the reply's level contour against the input's */
    double echo_t0, echo_until;   /* after a reply: its playback start, and until when its echo may come */
    int64_t echo_from_in;         /* … and the input sample heard as its playback position 0 */
    struct task_timing last_task; /* of the task whose done is running (set by session.c) */
};

/* session.c */
void session_send(struct voice_session *s, json_t *event); /* takes event */
void session_error(struct voice_session *s, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Runs work(arg, db) on a worker then done(s, arg, open) on the loop, holding s. DP_ERR_NOMEM. */
int session_task(struct voice_session *s, void (*work)(struct voice_session *s, void *arg, struct db *db),
                 void (*done)(struct voice_session *s, void *arg, int open), void *arg);
/* The same, run as how says (WS_TASK_*): the brain waits on its model in the order (SLOW),
 * synthesis runs BESIDE it so a reply is spoken while the model still writes it. */
int session_task_how(struct voice_session *s, int how, void (*work)(struct voice_session *s, void *arg, struct db *db),
                     void (*done)(struct voice_session *s, void *arg, int open), void *arg);
void session_tick(struct voice_session *s);
/* Starts the pacing timer now (a reply is on its way). */
void session_kick(struct voice_session *s);

/* session_input.c */
void input_audio(struct voice_session *s, const uint8_t *p, size_t n);
void input_commit(struct voice_session *s);
void input_close(struct voice_session *s);
/* Submits again the utterance's end that waited for a decoder (from the tick). */
void input_finish_retry(struct voice_session *s);
void input_free_waiting(struct voice_session *s);

/* session_reply.c */
void reply_start(struct voice_session *s, const char *question, double t_speech_end);
/* Stops the active reply (barge-in, response.cancel, the end): the client is told to flush and
 * the stored reply keeps what was heard. why: "interrupted" | "cancelled". */
void reply_cancel(struct voice_session *s, const char *why);
/* The pacing step: audio and visemes due, the end of a reply played out. */
void reply_tick(struct voice_session *s);
/* The reply frame being heard with the newest input frame (for the echo check); -1 before audio. */
int reply_play_frame(struct voice_session *s);

#endif
