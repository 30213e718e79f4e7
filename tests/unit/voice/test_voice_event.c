/* Tests of src/voice/voice_event: the client's events, their defaults and every refusal's code. */
#include <string.h>

#include "../test.h"
#include "core/err.h"
#include "voice/voice_event.h"

static int parse(const char *text, struct voice_event *ev, const char **code)
{
    char msg[200];
    *code = NULL;
    return voice_event_parse(text, strlen(text), ev, code, msg, sizeof msg);
}

TEST(voice_event_session_start_and_its_defaults)
{
    struct voice_event ev;
    const char *code;
    CHECK_EQ_INT(parse("{\"type\":\"session.start\"}", &ev, &code), DP_OK);
    CHECK_EQ_INT(ev.type, VOICE_EV_SESSION_START);
    CHECK_EQ_INT(ev.audio.format, VOICE_PCM16);
    CHECK_EQ_INT(ev.audio.rate, 16000);
    CHECK_EQ_INT(ev.reply_audio.format, VOICE_PCM16);
    CHECK_EQ_INT(ev.manual, 0);
    CHECK_EQ_STR(ev.conversation_id, "");
    CHECK_EQ_INT(
        parse("{\"type\":\"session.start\",\"audio\":{\"format\":\"opus\"},\"reply_audio\":{\"format\":\"opus\","
              "\"rate\":24000},\"turn_detection\":\"manual\",\"conversation_id\":"
              "\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\"}",
              &ev, &code),
        DP_OK);
    CHECK_EQ_INT(ev.audio.format, VOICE_OPUS);
    CHECK_EQ_INT(ev.audio.rate, 48000);
    CHECK_EQ_INT(ev.reply_audio.rate, 24000);
    CHECK_EQ_INT(ev.manual, 1);
    CHECK_EQ_STR(ev.conversation_id, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    /* PCM at a sound card's rate either way (resampled by the session) */
    CHECK_EQ_INT(parse("{\"type\":\"session.start\",\"audio\":{\"format\":\"pcm16\",\"rate\":44100},"
                       "\"reply_audio\":{\"format\":\"pcm16\",\"rate\":48000}}",
                       &ev, &code),
                 DP_OK);
    CHECK_EQ_INT(ev.audio.rate, 44100);
    CHECK_EQ_INT(ev.reply_audio.rate, 48000);
    CHECK(voice_rate_supported(VOICE_PCM16, 8000) && voice_rate_supported(VOICE_PCM16, 22050));
    CHECK(!voice_rate_supported(VOICE_PCM16, 12000) && !voice_rate_supported(VOICE_OPUS, 44100));
}

TEST(voice_event_the_other_events)
{
    struct voice_event ev;
    const char *code;
    CHECK_EQ_INT(parse("{\"type\":\"input.commit\"}", &ev, &code), DP_OK);
    CHECK_EQ_INT(ev.type, VOICE_EV_INPUT_COMMIT);
    CHECK_EQ_INT(parse("{\"type\":\"response.cancel\",\"extra\":1}", &ev, &code), DP_OK);
    CHECK_EQ_INT(ev.type, VOICE_EV_RESPONSE_CANCEL);
    CHECK_EQ_INT(parse("{\"type\":\"session.end\"}", &ev, &code), DP_OK);
    CHECK_EQ_INT(ev.type, VOICE_EV_SESSION_END);
}

TEST(voice_event_refusals_name_their_code)
{
    static const struct {
        const char *text, *code;
    } bad[] = {
        {"", "invalid_json"},
        {"not json", "invalid_json"},
        {"{\"type\":\"a\",\"type\":\"b\"}", "invalid_json"},
        {"[1]", "invalid_event"},
        {"{}", "invalid_event"},
        {"{\"type\":7}", "invalid_event"},
        {"{\"type\":\"response.create\"}", "unknown_event"},
        {"{\"type\":\"session.start\",\"audio\":\"pcm16\"}", "invalid_event"},
        {"{\"type\":\"session.start\",\"audio\":{\"format\":\"mp3\"}}", "unsupported_audio"},
        {"{\"type\":\"session.start\",\"audio\":{\"format\":\"pcm16\",\"rate\":44000}}", "unsupported_audio"},
        {"{\"type\":\"session.start\",\"audio\":{\"rate\":-5}}", "invalid_event"},
        {"{\"type\":\"session.start\",\"audio\":{\"rate\":1.5}}", "invalid_event"},
        {"{\"type\":\"session.start\",\"reply_audio\":{\"format\":\"opus\",\"rate\":44100}}", "unsupported_audio"},
        {"{\"type\":\"session.start\",\"turn_detection\":\"push\"}", "invalid_event"},
        {"{\"type\":\"session.start\",\"conversation_id\":\"../x\"}", "invalid_event"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct voice_event ev;
        const char *code;
        if (parse(bad[i].text, &ev, &code) == DP_OK)
            fprintf(stderr, "    accepted: %s\n", bad[i].text);
        CHECK(code != NULL);
        if (strcmp(code, bad[i].code))
            fprintf(stderr, "    %s: %s (wanted %s)\n", bad[i].text, code, bad[i].code);
        CHECK_EQ_STR(code, bad[i].code);
    }
    char big[VOICE_EVENT_MAX + 64];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = 0;
    memcpy(big, "{\"type\":\"input.commit\"}", 23);
    struct voice_event ev;
    const char *code;
    CHECK_EQ_INT(parse(big, &ev, &code), DP_ERR_TOO_LARGE);
    CHECK_EQ_STR(code, "too_large");
}
