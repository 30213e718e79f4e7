/* Every route of the API contract (shared/API.md) not built yet: each answers 501 not_implemented
 * and shows in the OpenAPI document as such. A route moves to its resource file when it lands. */
#include "api/app.h"

#define NI ROUTE_NOT_IMPLEMENTED
#define NI_WS (ROUTE_NOT_IMPLEMENTED | ROUTE_WEBSOCKET)
#define R(m, p, f, tag, s) {m, p, f, 0, NULL, tag, s, NULL, NULL, NULL}

const struct route not_implemented_routes[] = {
    /* Avatars */
    R("POST", "/api/v1/avatars/{id}/training/voice", NI, "avatars", "Add a voice sample"),
    /* Media and knowledge */
    R("POST", "/api/v1/transcriptions", NI, "media", "Transcribe an audio file"),
    /* Talking to an avatar */
    R("GET", "/api/v1/avatars/{id}/voice", NI_WS, "voice", "Real-time voice conversation (WebSocket)"),
    /* Device capture */
    R("POST", "/api/v1/recordings/{id}/reprocess", NI, "capture", "Re-run transcription and extraction"),
    /* OpenAI-compatible facade */
    R("POST", "/v1/audio/transcriptions", NI, "openai", "Speech to text"),
    R("POST", "/v1/audio/speech", NI, "openai", "Text to speech in an avatar's voice"),
    {0},
};
