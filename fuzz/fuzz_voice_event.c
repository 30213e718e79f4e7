/* libFuzzer target: voice_event_parse on arbitrary text. Whatever it accepts is a known event with
 * a format and rate the session supports, and a conversation id that is an id; whatever it refuses
 * names an error code and says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "voice/voice_event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct voice_event ev;
    const char *code = NULL;
    char msg[200] = "";
    int rc = voice_event_parse((const char *)data, size, &ev, &code, msg, sizeof msg);
    if (rc) {
        if (!code || !*code || !*msg || strlen(msg) >= sizeof msg)
            abort();
        return 0;
    }
    if (ev.type < VOICE_EV_SESSION_START || ev.type > VOICE_EV_SESSION_END)
        abort();
    if (!voice_rate_supported(ev.audio.format, ev.audio.rate) ||
        !voice_rate_supported(ev.reply_audio.format, ev.reply_audio.rate))
        abort();
    if (*ev.conversation_id && !id_valid(ev.conversation_id))
        abort();
    return 0;
}
