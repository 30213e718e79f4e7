/* Configuration table and its loaders (file, environment, flags). */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

enum setting_type { SET_STR, SET_LONG, SET_BOOL };

struct setting {
    const char *name; /* flag name without "--"; env name is DOPPEL_ + upper-case with _ */
    enum setting_type type;
    size_t offset;
    const char *def;
    long min, max; /* SET_LONG bounds */
    const char *help;
};

#define OFF(f) offsetof(struct config, f)

/* The one table of settings. Add a field to struct config and a row here. */
static const struct setting settings[] = {
    {"listen", SET_STR, OFF(listen), "127.0.0.1:8080", 0, 0, "address:port to listen on"},
    {"data-dir", SET_STR, OFF(data_dir), "./data", 0, 0, "directory for the SQLite file, blobs and keys"},
    {"create-data-dir", SET_BOOL, OFF(create_data_dir), "false", 0, 1,
     "let ingest and avatar import/export create a missing --data-dir (serve always creates it)"},
    {"database-url", SET_STR, OFF(database_url), "", 0, 0,
     "SQLite file path or postgres://user@host:port/db (default: <data-dir>/doppel.db)"},
    {"redis-url", SET_STR, OFF(redis_url), "", 0, 0,
     "redis://host:port for cache, rate limits and pub/sub (default: in-process)"},
    {"sqlite-mmap", SET_LONG, OFF(sqlite_mmap), "0", 0, 1L << 40,
     "bytes of the SQLite database read through mmap (0 = off; on, each read after another connection's commit "
     "remaps the file: chat messages cost 30 % more CPU, but full-text search of avatars too large for the "
     "in-memory index runs 2.7x faster with 268435456)"},
    {"cache-memory-max", SET_LONG, OFF(cache_memory_max), "268435456", 1L << 20, 1L << 40,
     "bytes of cached copies the in-process cache keeps (security state has its own budget)"},
    {"blob-url", SET_STR, OFF(blob_url), "", 0, 0, "blob store directory (default: <data-dir>/blobs)"},
    {"web-dir", SET_STR, OFF(web_dir), "./web", 0, 0, "directory of the browser UI's static files"},
    {"cors-origins", SET_STR, OFF(cors_origins), "", 0, 0,
     "comma-separated origins allowed by CORS, with credentials; \"*\" lets any other origin read public answers "
     "without credentials (default: none)"},
    {"cached-answer-ttl", SET_LONG, OFF(cached_answer_ttl), "60000", 0, 86400000,
     "milliseconds a hot read's cached answer is kept (writes through any server refresh it at once; this bounds "
     "what a write from outside the servers leaves, e.g. `doppel ingest` beside a server on the in-process cache); "
     "0 = answers are not cached"},
    {"trusted-proxies", SET_STR, OFF(trusted_proxies), "", 0, 0,
     "reverse proxies (addresses, CIDR blocks; comma-separated) whose X-Forwarded-For names the client: rate "
     "limits, back-off and the audit log then see the client's address (default: none, the header is ignored)"},
    {"log-format", SET_STR, OFF(log_format), "text", 0, 0, "text | json (one JSON object a line)"},
    {"log-level", SET_STR, OFF(log_level), "info", 0, 0, "debug | info | warn | error"},
    {"workers", SET_LONG, OFF(workers), "0", 0, 256, "worker threads for blocking work (0 = number of cores)"},
    {"max-connections", SET_LONG, OFF(max_connections), "4096", 16, 1000000, "open HTTP connections"},
    {"http-timeout", SET_LONG, OFF(http_timeout), "30", 1, 3600,
     "seconds of client inactivity before a connection is closed"},
    {"http-header-timeout", SET_LONG, OFF(http_header_timeout), "10", 0, 3600,
     "seconds a client has to send a request's headers, from connecting or from the previous response "
     "(0 = no deadline)"},
    {"http-min-body-rate", SET_LONG, OFF(http_min_body_rate), "1024", 0, 1L << 30,
     "bytes/s a request body must keep up, measured over --http-body-rate-window (0 = no minimum)"},
    {"http-body-rate-window", SET_LONG, OFF(http_body_rate_window), "10", 1, 3600,
     "seconds over which a request body's rate is measured (the first window is the grace period)"},
    {"max-conns-per-ip", SET_LONG, OFF(max_conns_per_ip), "256", 0, 1000000,
     "open connections per client address (0 = no cap, e.g. behind a reverse proxy that limits per client); "
     "a quarter of --max-connections always stays for other addresses"},
    {"json-body-max", SET_LONG, OFF(json_body_max), "1048576", 1024, 64L << 20,
     "default body cap of JSON routes, bytes"},
    {"upload-max", SET_LONG, OFF(upload_max), "2147483648", 1024, 1L << 40, "largest media upload, bytes"},
    {"ws-message-max", SET_LONG, OFF(ws_message_max), "1048576", 1024, 64L << 20, "largest WebSocket message, bytes"},
    {"ws-send-queue-max", SET_LONG, OFF(ws_send_queue_max), "4194304", 1024, 1L << 30,
     "unsent bytes queued for one WebSocket before it is closed as a slow consumer (1008), bytes"},
    {"ws-ping-interval", SET_LONG, OFF(ws_ping_interval), "30", 1, 3600, "seconds between WebSocket keepalive pings"},
    {"chat-group-max", SET_LONG, OFF(chat_group_max), "50", 2, 1000, "members a chat may have, its creator included"},
    {"chat-typing-ttl", SET_LONG, OFF(chat_typing_ttl), "6000", 500, 60000,
     "milliseconds a typing indicator lasts after its last refresh"},
    {"chat-presence-grace", SET_LONG, OFF(chat_presence_grace), "3000", 0, 600000,
     "milliseconds a user's last device may be gone before they show offline (a reconnect inside it is no change)"},
    {"chat-frame-rate", SET_LONG, OFF(chat_frame_rate), "10", 1, 1000000,
     "frames a second a client may send on the events WebSocket (bursts of twice that)"},
    {"sse-producers", SET_LONG, OFF(sse_producers), "0", 0, 256,
     "SSE streams produced at once, each on a worker; later ones wait their turn (0 = half the workers, at least 1)"},
    {"blob-sweep-interval", SET_LONG, OFF(blob_sweep_interval), "600", 1, 86400,
     "seconds between sweeps of upload temp files no live upload owns (idle past --http-timeout)"},
    {"shutdown-timeout", SET_LONG, OFF(shutdown_timeout), "10", 0, 600,
     "seconds in-flight requests may take on SIGTERM"},
    {"jwt-key", SET_STR, OFF(jwt_key), "", 0, 0,
     "access-token signing key, 64 hex digits (default: <data-dir>/jwt.key)"},
    {"access-ttl", SET_LONG, OFF(access_ttl), "900", 30, 86400, "seconds an access token lives"},
    {"refresh-ttl", SET_LONG, OFF(refresh_ttl), "2592000", 300, 31536000, "seconds a refresh token lives"},
    {"argon2-ops", SET_LONG, OFF(argon2_ops), "2", 1, 10, "argon2id passes for password hashes"},
    {"argon2-memory-kib", SET_LONG, OFF(argon2_memory_kib), "65536", 8, 4194304, "argon2id memory per hash, KiB"},
    {"signup", SET_BOOL, OFF(signup_open), "true", 0, 1, "anyone may sign up (false: admins create accounts)"},
    {"signup-org", SET_STR, OFF(signup_org), "personal", 0, 0,
     "organisation of a self sign-up: personal (an org of its own) | default (the shared one, for a single-team instance)"},
    {"auth-rate", SET_LONG, OFF(auth_rate), "20", 1, 100000, "login/signup/refresh/TOTP requests per minute per IP"},
    {"refresh-reuse-grace", SET_LONG, OFF(refresh_grace), "10", 0, 300,
     "seconds a spent refresh token still rotates for the client address that spent it (0: any reuse revokes)"},
    {"api-rate", SET_LONG, OFF(api_rate), "100", 1, 1000000,
     "API requests per second per user (bursts of 5 s worth): a busy browser tab and a phone app at once"},
    {"job-workers", SET_LONG, OFF(job_workers), "1", 1, 64, "background job worker threads"},
    {"job-lease", SET_LONG, OFF(job_lease), "60", 1, 3600,
     "seconds a claimed job is leased; renewed while it runs, re-run by another worker if its process dies"},
    {"stt-provider", SET_STR, OFF(stt_provider), "pocketsphinx", 0, 0,
     "speech recognition: pocketsphinx (offline, Debian's US English models) | openai (OpenAI or any Whisper-"
     "compatible /audio/transcriptions: faster-whisper-server, whisper.cpp server) | deepgram (pre-recorded /listen) "
     "| deepgram-live (Deepgram streaming over a WebSocket: partial transcripts on the voice WebSocket) | wyoming (Wyoming ASR over TCP, e.g. wyoming-faster-whisper) | none"},
    {"stt-model-dir", SET_STR, OFF(stt_model_dir), "", 0, 0,
     "pocketsphinx model directory (en-us/, en-us.lm.bin, cmudict-en-us.dict); empty: /usr/share/pocketsphinx/model/en-us"},
    {"stt-pool", SET_LONG, OFF(stt_pool), "8", 1, 16,
     "pocketsphinx decoders (~90 MB each): loaded ahead as streams open, one per open stream up to this many, "
     "lent to a stream only while someone speaks"},
    {"stt-url", SET_STR, OFF(stt_url), "", 0, 0,
     "base URL of a remote recogniser, e.g. https://api.openai.com/v1, http://127.0.0.1:8000/v1, "
     "https://api.deepgram.com/v1, or host:port for wyoming (10300)"},
    {"stt-model", SET_STR, OFF(stt_model), "", 0, 0,
     "remote recognition model (empty: whisper-1 for openai, nova-2 for deepgram and deepgram-live)"},
    {"stt-api-key", SET_STR, OFF(stt_api_key), "", 0, 0, "key of the remote recogniser (prefer the env variable)"},
    {"stt-language", SET_STR, OFF(stt_language), "", 0, 0,
     "language code sent to the remote recogniser (empty: it guesses)"},
    {"stt-fallback", SET_STR, OFF(stt_fallback), "pocketsphinx", 0, 0,
     "local engine that hears what a failing remote recogniser could not: pocketsphinx | none"},
    {"stt-timeout", SET_LONG, OFF(stt_timeout), "60000", 100, 600000,
     "milliseconds one remote recognition (an utterance of up to 20 s) may take"},
    {"transcribe-rate", SET_LONG, OFF(transcribe_rate), "12", 1, 100000,
     "POST /api/v1/transcriptions per minute per user (each holds a worker while it decodes and recognises)"},
    {"transcribe-window", SET_LONG, OFF(transcribe_window), "600", 5, 3600,
     "seconds of a recording decoded and transcribed at a time (memory holds one window of 16 kHz PCM: 19 MB for 600)"},
    {"tts-provider", SET_STR, OFF(tts_provider), "flite", 0, 0,
     "speech synthesis: flite (offline) | openai (OpenAI or any compatible /audio/speech) | elevenlabs | wyoming "
     "(Wyoming TTS over TCP, e.g. wyoming-piper) | none"},
    {"tts-voice", SET_STR, OFF(tts_voice), "", 0, 0,
     "default voice: flite slt | rms | awb | kal16 (empty: slt); openai alloy, nova … (empty: alloy); "
     "elevenlabs a voice id (required); wyoming a Piper voice (empty: the service's)"},
    {"tts-url", SET_STR, OFF(tts_url), "", 0, 0,
     "base URL of a remote synthesizer, e.g. https://api.openai.com/v1, https://api.elevenlabs.io/v1, or host:port "
     "for wyoming (10200)"},
    {"tts-model", SET_STR, OFF(tts_model), "", 0, 0,
     "remote synthesis model (empty: tts-1 for openai, eleven_flash_v2_5 for elevenlabs)"},
    {"tts-api-key", SET_STR, OFF(tts_api_key), "", 0, 0, "key of the remote synthesizer (prefer the env variable)"},
    {"tts-fallback", SET_STR, OFF(tts_fallback), "flite", 0, 0,
     "local engine that speaks when a remote synthesizer fails: flite | none"},
    {"tts-timeout", SET_LONG, OFF(tts_timeout), "30000", 200, 600000,
     "milliseconds one remote sentence may take (half of it without a byte counts as stalled)"},
    {"embed-provider", SET_STR, OFF(embed_provider), "none", 0, 0,
     "memory vectors: none (text search only) | openai (any OpenAI-compatible /embeddings API)"},
    {"embed-url", SET_STR, OFF(embed_url), "", 0, 0, "base URL of the embeddings API, e.g. http://127.0.0.1:11434/v1"},
    {"embed-model", SET_STR, OFF(embed_model), "", 0, 0, "embedding model name sent to the API"},
    {"embed-api-key", SET_STR, OFF(embed_api_key), "", 0, 0,
     "bearer key of the embeddings API (prefer the env variable)"},
    {"embed-timeout", SET_LONG, OFF(embed_timeout), "10000", 100, 600000, "milliseconds an embeddings call may take"},
    {"llm-provider", SET_STR, OFF(llm_provider), "none", 0, 0,
     "language model of the generative brain and the OpenAI facade: none (recall only) | openai (any "
     "OpenAI-compatible /chat/completions API: OpenAI, OpenRouter, Ollama, llama.cpp, vLLM, LM Studio)"},
    {"llm-url", SET_STR, OFF(llm_url), "", 0, 0, "base URL of the chat API, e.g. http://127.0.0.1:11434/v1"},
    {"llm-model", SET_STR, OFF(llm_model), "", 0, 0, "chat model name sent to the API"},
    {"llm-api-key", SET_STR, OFF(llm_api_key), "", 0, 0, "bearer key of the chat API (prefer the env variable)"},
    {"llm-connect-timeout", SET_LONG, OFF(llm_connect_timeout), "5000", 100, 600000,
     "milliseconds to connect to the chat API"},
    {"llm-idle-timeout", SET_LONG, OFF(llm_idle_timeout), "30000", 100, 600000,
     "milliseconds a streamed reply may stay silent (first token included) before it counts as stalled"},
    {"llm-timeout", SET_LONG, OFF(llm_timeout), "120000", 100, 3600000, "milliseconds one reply may take"},
    {"llm-max-tokens", SET_LONG, OFF(llm_max_tokens), "512", 1, 1000000, "tokens of one reply at most"},
    {"llm-retries", SET_LONG, OFF(llm_retries), "2", 0, 10,
     "extra attempts of a reply that failed before its first token (unreachable, 5xx, stalled, 429)"},
    {"llm-retry-wait-max", SET_LONG, OFF(llm_retry_wait_max), "10000", 0, 600000,
     "longest 429 Retry-After honoured, milliseconds (longer: the reply falls back at once)"},
    {"llm-circuit-cooldown", SET_LONG, OFF(llm_circuit_cooldown), "30", 1, 3600,
     "seconds the model's circuit breaker stays open after 5 failures in a row (replies come from the recall brain), "
     "before one trial call"},
    {"llm-extract", SET_BOOL, OFF(llm_extract), "false", 0, 1,
     "the language model turns the facts a text, document or recording's transcript states (job memory.extract), "
     "and what an avatar's owner says in conversations with it (job conversation.extract), into memories, and what "
     "they show of the person's personality into evidence the profile blends in (needs --llm-provider)"},
    {"llm-extract-idle", SET_LONG, OFF(llm_extract_idle), "600", 1, 86400,
     "with --llm-extract, seconds a conversation with an avatar stays quiet before what its owner said in it "
     "is read for facts (job conversation.extract)"},
    {"llm-extract-turns", SET_LONG, OFF(llm_extract_turns), "20", 1, 10000,
     "with --llm-extract, new owner turns of a conversation that are read for facts at once, without waiting "
     "for it to go quiet"},
    {"legacy-guard", SET_BOOL, OFF(legacy_guard), "true", 0, 1,
     "a legacy avatar's generated reply that claims something about the person no memory supports is made again "
     "once with a stricter instruction, else prefixed honestly (held back until judged: not streamed token by "
     "token)"},
    {"provider-workers", SET_LONG, OFF(provider_workers), "32", 0, 1024,
     "threads for replies that wait on a remote model (each holds one while it streams), apart from the workers "
     "(0: they wait on the workers; for comparison only)"},
    {"search-importance-weight", SET_LONG, OFF(search_importance_weight), "10", 0, 1000,
     "percent a memory's importance (0-1) moves its search score: score x (1 + w(importance - 0.5))"},
    {"search-recency-weight", SET_LONG, OFF(search_recency_weight), "0", 0, 1000,
     "percent boost of a brand-new memory over an old one in search (0 = recency ignored)"},
    {"search-recency-half-life", SET_LONG, OFF(search_recency_half_life), "30", 1, 36500,
     "days after which a memory's recency boost has halved"},
    {"search-vector-min-similarity", SET_LONG, OFF(search_vector_min_similarity), "30", 0, 100,
     "percent cosine similarity a memory needs to be found by its vector alone"},
    {"search-index-max-memories", SET_LONG, OFF(search_index_max), "200000", 0, 100000000,
     "largest avatar whose words are indexed in memory for search (larger ones, or all with 0: the database's full-text search)"},
    {"vector-cache-max", SET_LONG, OFF(vector_cache_max), "1073741824", 1L << 20, 1L << 40,
     "bytes of memory vectors held for search across avatars (least recently searched avatars are let go beyond it; one avatar over it is searched by text alone)"},
    {"wordnet-dir", SET_STR, OFF(wordnet_dir), "/usr/share/wordnet", 0, 0,
     "WordNet 3.0 files (Debian wordnet-base) for search's lemmas and synonyms; without them, suffix rules"},
    {"quota-storage", SET_LONG, OFF(quota_storage), "10737418240", 0, 1L << 50,
     "bytes of media a user's avatars may hold together (0 = unlimited)"},
    {"quota-memories", SET_LONG, OFF(quota_memories), "1000000", 0, 1000000000,
     "memories a user's avatars may hold together (0 = unlimited)"},
    {"search-rate", SET_LONG, OFF(search_rate), "20", 0, 100000,
     "memory searches (?q=) per second per user, bursts of 5 s worth; a search costs far more than a read "
     "(0 = only --api-rate)"},
    {"voice-sessions-per-user", SET_LONG, OFF(voice_sessions_per_user), "4", 0, 10000,
     "live voice conversations (WebSockets) one user may hold; more are refused with 429 (0 = no cap)"},
    {"voice-idle-timeout", SET_LONG, OFF(voice_idle_timeout), "60", 1, 86400,
     "seconds a voice conversation may receive nothing (no audio, no event) before it is closed"},
    {"voice-session-max", SET_LONG, OFF(voice_session_max), "3600", 10, 604800,
     "seconds a voice conversation may last"},
    {"capture-sync-ms", SET_LONG, OFF(capture_sync_ms), "200", 1, 10000,
     "device audio is synced to disk in groups every this many ms, and acknowledged once synced"},
    {"capture-silence-close", SET_LONG, OFF(capture_silence_close), "90", 2, 14400,
     "seconds of silence after speech that close a device's conversation (users and devices may set their own)"},
    {"capture-idle-close", SET_LONG, OFF(capture_idle_close), "90", 2, 14400,
     "seconds an open recording waits for its device to come back and resume it; after that it is closed"},
    {"capture-device-ttl", SET_LONG, OFF(capture_device_ttl), "30", 3, 3600,
     "seconds a connected device stays listed by other instances after its instance last refreshed it (every third of it)"},
    {"capture-max-seconds", SET_LONG, OFF(capture_max_seconds), "14400", 1, 14400,
     "seconds of audio after which a recording is closed; the device's stream goes on in a new one"},
    {"capture-payload-max", SET_LONG, OFF(capture_payload_max), "262144", 1024, 262144,
     "bytes of one device audio chunk (payload_length)"},
    {"capture-pending-max", SET_LONG, OFF(capture_pending_max), "4194304", 65536, 1L << 30,
     "bytes of device audio waiting to be synced per device before chunks are refused (too_fast)"},
    {"test-routes", SET_BOOL, OFF(test_routes), "0", 0, 1,
     "mount /api/v1/_test/* (for test suites and benchmarks only)"},
};
#define NSETTINGS (sizeof settings / sizeof settings[0])

static void env_name(const struct setting *s, char *out, size_t n)
{
    size_t at = (size_t)snprintf(out, n, "DOPPEL_");
    for (const char *p = s->name; *p && at + 1 < n; p++)
        out[at++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    out[at] = 0;
}

static int apply(struct config *cfg, const struct setting *s, const char *val, const char *from, char *err,
                 size_t errlen)
{
    char *base = (char *)cfg + s->offset;
    if (s->type == SET_STR) {
        char **field = (char **)(void *)base;
        char *copy = strdup(val);
        if (!copy)
            return DP_ERR_NOMEM;
        free(*field);
        *field = copy;
        return DP_OK;
    }
    if (s->type == SET_BOOL) {
        int v;
        if (!strcmp(val, "1") || !strcmp(val, "true") || !strcmp(val, "yes") || !strcmp(val, "on"))
            v = 1;
        else if (!strcmp(val, "0") || !strcmp(val, "false") || !strcmp(val, "no") || !strcmp(val, "off"))
            v = 0;
        else {
            snprintf(err, errlen, "%s: --%s expects true or false, got \"%s\"", from, s->name, val);
            return DP_ERR_INVALID;
        }
        *(int *)(void *)base = v;
        return DP_OK;
    }
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end || v < s->min || v > s->max) {
        snprintf(err, errlen, "%s: --%s expects an integer in [%ld, %ld], got \"%s\"", from, s->name, s->min, s->max,
                 val);
        return DP_ERR_INVALID;
    }
    *(long *)(void *)base = v;
    return DP_OK;
}

static const struct setting *find(const char *name, size_t len)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strlen(settings[i].name) == len && !strncmp(settings[i].name, name, len))
            return &settings[i];
    return NULL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

/* Config file: "name = value" lines, '#' comments; names as the flags. */
static int load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open config file %s: %s", path, strerror(errno));
        return DP_ERR_INVALID;
    }
    char line[4096];
    int lineno = 0, rc = DP_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        char where[600];
        snprintf(where, sizeof where, "%.500s:%d", path, lineno);
        if (!eq) {
            snprintf(err, errlen, "%s: expected name = value", where);
            rc = DP_ERR_INVALID;
            break;
        }
        *eq = 0;
        char *name = trim(s), *val = trim(eq + 1);
        const struct setting *st = find(name, strlen(name));
        if (!st) {
            snprintf(err, errlen, "%s: unknown setting \"%s\"", where, name);
            rc = DP_ERR_INVALID;
            break;
        }
        if ((rc = apply(cfg, st, val, where, err, errlen)))
            break;
    }
    fclose(f);
    return rc;
}

int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    int rc;
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NSETTINGS; i++)
        if ((rc = apply(cfg, &settings[i], settings[i].def, "default", err, errlen)))
            return rc;

    /* The config file comes first so that env and flags override it. */
    const char *file = getenv("DOPPEL_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            file = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            file = argv[i] + 9;
    }
    if (file && *file && (rc = load_file(cfg, file, err, errlen)))
        return rc;

    for (size_t i = 0; i < NSETTINGS; i++) {
        char env[64];
        env_name(&settings[i], env, sizeof env);
        const char *v = getenv(env);
        if (v && (rc = apply(cfg, &settings[i], v, env, err, errlen)))
            return rc;
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            config_print_help(argv[0]);
            return -1;
        }
        if (strncmp(a, "--", 2)) {
            snprintf(err, errlen, "unexpected argument \"%s\" (see --help)", a);
            return DP_ERR_INVALID;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        if (nlen == 6 && !strncmp(name, "config", 6)) {
            if (!eq)
                i++;
            continue;
        }
        const struct setting *st = find(name, nlen);
        if (!st) {
            snprintf(err, errlen, "unknown flag \"%s\" (see --help)", a);
            return DP_ERR_INVALID;
        }
        const char *val;
        if (eq)
            val = eq + 1;
        else if (st->type == SET_BOOL && (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2)))
            val = "true";
        else if (i + 1 < argc)
            val = argv[++i];
        else {
            snprintf(err, errlen, "flag --%s needs a value", st->name);
            return DP_ERR_INVALID;
        }
        if ((rc = apply(cfg, st, val, "flag", err, errlen)))
            return rc;
    }
    if (strcmp(cfg->log_format, "text") && strcmp(cfg->log_format, "json")) {
        snprintf(err, errlen, "--log-format must be text or json");
        return DP_ERR_INVALID;
    }
    if (strcmp(cfg->log_level, "debug") && strcmp(cfg->log_level, "info") && strcmp(cfg->log_level, "warn") &&
        strcmp(cfg->log_level, "error")) {
        snprintf(err, errlen, "--log-level must be debug, info, warn or error");
        return DP_ERR_INVALID;
    }
    return DP_OK;
}

void config_cleanup(struct config *cfg)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (settings[i].type == SET_STR) {
            char **field = (char **)(void *)((char *)cfg + settings[i].offset);
            free(*field);
            *field = NULL;
        }
}

void config_print_help(const char *cmd)
{
    printf("Usage: %s [--config FILE] [--name value]...\n\nSettings (flag, environment, default):\n", cmd);
    for (size_t i = 0; i < NSETTINGS; i++) {
        char env[64];
        env_name(&settings[i], env, sizeof env);
        printf("  --%-18s %-26s %s\n  %-20s default: %s\n", settings[i].name, env, settings[i].help, "",
               *settings[i].def ? settings[i].def : "(empty)");
    }
    printf("\nA config file holds \"name = value\" lines with the same names (DOPPEL_CONFIG).\n");
}
