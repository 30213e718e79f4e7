/* Configuration: one table defines every setting (default, type, env name, help). */
#ifndef DP_CONFIG_H
#define DP_CONFIG_H

#include <stddef.h>

struct config {
    char *listen;               /* host:port */
    char *data_dir;             /* SQLite file + blob folder + generated keys */
    int create_data_dir;        /* offline commands may create a missing data_dir (serve always does) */
    char *database_url;         /* SQLite path or postgres://… ("" = <data-dir>/doppel.db) */
    char *redis_url;            /* "" = in-process cache */
    long cache_memory_max;      /* bytes of the in-process cache's cached copies */
    long sqlite_mmap;           /* bytes of a SQLite database each connection reads through mmap */
    char *blob_url;             /* "" = <data-dir>/blobs */
    char *web_dir;              /* static files of the browser UI */
    char *cors_origins;         /* comma-separated allowlist; "" = same-origin only */
    long cached_answer_ttl;     /* ms a cached answer of a hot read is kept; 0 = none cached */
    char *trusted_proxies;      /* addresses/CIDR blocks whose X-Forwarded-For is believed; "" = none */
    char *log_format;           /* text | json */
    char *log_level;            /* debug | info | warn | error */
    long workers;               /* worker threads; 0 = number of cores */
    long max_connections;       /* open HTTP connections */
    long http_timeout;          /* seconds of inactivity before a connection is closed */
    long http_header_timeout;   /* seconds to send a request's headers; 0 = no deadline */
    long http_min_body_rate;    /* bytes/s a request body must keep up; 0 = no minimum */
    long http_body_rate_window; /* seconds over which the body rate is measured */
    long max_conns_per_ip;      /* open connections per client address; 0 = no cap */
    long json_body_max;         /* default body cap of JSON routes, bytes */
    long upload_max;            /* largest media upload, bytes */
    long ws_message_max;        /* largest WebSocket message, bytes */
    long ws_send_queue_max;     /* unsent bytes queued for one WebSocket before it is closed (1008) */
    long ws_ping_interval;      /* seconds between keepalive pings */
    long chat_group_max;        /* members of a chat */
    long chat_typing_ttl;       /* ms a typing indicator lasts */
    long chat_presence_grace;   /* ms before a user whose last device went is offline */
    long chat_frame_rate;       /* client frames a second on the events WebSocket */
    long shutdown_timeout;      /* seconds to let in-flight requests finish on SIGTERM */
    long sse_producers;         /* SSE streams produced at once; 0 = half the workers (at least 1) */
    long blob_sweep_interval;   /* seconds between sweeps of abandoned upload temp files */
    long capture_sync_ms;       /* device audio is synced (then acked) in groups of this many ms */
    long capture_silence_close; /* seconds of silence after speech that close a conversation */
    long capture_idle_close;
    long capture_device_ttl;
    /* seconds a device's shared state outlives its instance's last refresh */ /* seconds an open recording may wait for its device to resume */
    long capture_max_seconds; /* seconds of audio after which a recording is closed and the next begins */
    long capture_payload_max; /* bytes of one device audio chunk */
    long capture_pending_max; /* unsynced bytes one device may queue */
    int test_routes;          /* mount the /api/v1/_test routes (test suites and benchmarks only) */
    char *jwt_key;            /* 64 hex digits; "" = <data-dir>/jwt.key (created on first start) */
    long access_ttl;          /* seconds an access token lives */
    long refresh_ttl;         /* seconds a refresh token lives */
    long argon2_ops;          /* argon2id passes */
    long argon2_memory_kib;   /* argon2id memory */
    int signup_open;          /* anyone may sign up (the first account always may) */
    char *signup_org;         /* personal | default: where self sign-ups land */
    long auth_rate;           /* auth requests per minute per IP */
    long refresh_grace;       /* seconds a spent refresh token still rotates for its spender */
    long api_rate;            /* API requests per second per user (burst: 5 s worth) */
    long job_workers;         /* job worker threads */
    long job_lease;           /* seconds a claimed job is leased (renewed while its handler runs) */
    char *embed_provider;     /* none | openai */
    char *embed_url;          /* base URL of an OpenAI-compatible API */
    char *embed_model;
    char *embed_api_key; /* never logged */
    long embed_timeout;  /* ms per embeddings call */
    char *llm_provider;  /* none | openai */
    char *llm_url;       /* base URL of an OpenAI-compatible API */
    char *llm_model;
    char *llm_api_key;        /* never logged */
    long llm_connect_timeout; /* ms */
    long llm_idle_timeout;    /* ms of silence before a stream counts as stalled */
    long llm_timeout;         /* ms per reply */
    long llm_max_tokens;
    long llm_retries;
    long llm_retry_wait_max;           /* ms */
    long llm_circuit_cooldown;         /* seconds the breaker stays open */
    int llm_extract;                   /* ingested texts become fact memories through the model */
    long llm_extract_idle;             /* seconds of quiet before a conversation is read for facts */
    long llm_extract_turns;            /* new turns that have a conversation read for facts at once */
    int legacy_guard;                  /* the generative brain's guard on legacy avatars' replies */
    long provider_workers;             /* threads of the provider pool (replies that wait on a model) */
    long search_importance_weight;     /* percent */
    long search_recency_weight;        /* percent */
    long search_recency_half_life;     /* days */
    long search_vector_min_similarity; /* percent cosine */
    long vector_cache_max;             /* bytes of loaded memory vectors, all avatars together */
    long search_index_max;             /* memories of an avatar indexed in memory; 0 = engines only */
    char *wordnet_dir;                 /* WordNet 3.0 files: lemmas and related words of search */
    long quota_storage;                /* bytes of media per user (their avatars); 0 = unlimited */
    long quota_memories;               /* memories per user (their avatars); 0 = unlimited */
    long search_rate;                  /* memory searches per second per user (burst: 5 s worth); 0 = off */
    char *stt_provider;                /* none | pocketsphinx | openai | deepgram */
    char *stt_model_dir;               /* pocketsphinx models; "" = Debian's en-us */
    long stt_pool;                     /* pocketsphinx decoders kept loaded */
    char *stt_url, *stt_model;         /* remote recogniser: base URL, model */
    char *stt_api_key;                 /* never logged */
    char *stt_language;                /* "" = the recogniser's guess */
    char *stt_fallback;                /* local engine when the remote one fails: pocketsphinx | none */
    long stt_timeout;                  /* ms of one remote recognition */
    char *tts_provider;                /* none | flite | openai | elevenlabs */
    char *tts_voice;                   /* the default voice ("" = the provider's) */
    char *tts_url, *tts_model;         /* remote synthesizer: base URL, model */
    char *tts_api_key;                 /* never logged */
    char *tts_fallback;                /* local engine when the remote one fails: flite | none */
    long tts_timeout;                  /* ms of one remote sentence (a stall: half of it without a byte) */
    long voice_sessions_per_user;      /* live voice WebSockets of one user; 0 = no cap */
    long voice_idle_timeout;           /* seconds a voice session may receive nothing */
    long voice_session_max;            /* seconds a voice session may last */
    long transcribe_rate;              /* POST /transcriptions per minute per user */
    long transcribe_window;            /* seconds of a recording decoded and transcribed at a time */
};

/* Fills cfg with defaults, then the config file (--config / DOPPEL_CONFIG), environment
 * (DOPPEL_*) and argv (--name value | --name=value), later ones winning.
 * Returns DP_OK, DP_ERR_INVALID with a message in err (size errlen) on a bad setting,
 * or -1 when --help was printed. argv[0] is the command name. */
int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen);
void config_cleanup(struct config *cfg);
/* Prints every setting with its env name, default and help. */
void config_print_help(const char *cmd);

#endif
