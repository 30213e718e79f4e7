/* Wyoming events as a service sends them: data in the header or in a block of its own (merged),
 * payloads, events split anywhere, and what is not the protocol. */
#include <string.h>

#include "providers/wyoming_client.h"
#include "../test.h"

TEST(wyoming_client_parses_events_with_data_blocks_and_payloads)
{
    const char in[] = "{\"type\":\"audio-start\",\"data\":{\"rate\":1},\"data_length\":37,\"payload_length\":0}\n"
                      "{\"rate\":22050,\"width\":2,\"channels\":1}"
                      "{\"type\":\"audio-chunk\",\"payload_length\":4}\nABCD"
                      "{\"type\":\"synthesize-stopped\"}\n";
    size_t len = sizeof in - 1, at = 0, used;
    struct wyc_event ev;
    char why[128];
    CHECK_EQ_INT(wyc_parse((const uint8_t *)in, len, &ev, &used, why, sizeof why), WYC_EVENT);
    CHECK_EQ_STR(ev.type, "audio-start");
    CHECK_EQ_INT(json_integer_value(json_object_get(ev.data, "rate")), 22050); /* the block wins */
    CHECK_EQ_INT(json_integer_value(json_object_get(ev.data, "channels")), 1);
    CHECK(!ev.payload);
    wyc_event_clear(&ev);
    at += used;
    CHECK_EQ_INT(wyc_parse((const uint8_t *)in + at, len - at, &ev, &used, why, sizeof why), WYC_EVENT);
    CHECK_EQ_STR(ev.type, "audio-chunk");
    CHECK(ev.payload_len == 4 && !memcmp(ev.payload, "ABCD", 4));
    wyc_event_clear(&ev);
    at += used;
    /* Every cut short of the whole last event asks for more. */
    for (size_t k = 0; k < len - at; k++)
        CHECK_EQ_INT(wyc_parse((const uint8_t *)in + at, k, &ev, &used, why, sizeof why), WYC_MORE);
    CHECK_EQ_INT(wyc_parse((const uint8_t *)in + at, len - at, &ev, &used, why, sizeof why), WYC_EVENT);
    CHECK_EQ_STR(ev.type, "synthesize-stopped");
    CHECK(json_is_object(ev.data));
    wyc_event_clear(&ev);
    CHECK_EQ_INT(at + used, len);
}

TEST(wyoming_client_refuses_what_is_not_the_protocol)
{
    const char *bad[] = {"not json\n",
                         "{\"data\":{}}\n",
                         "{\"type\":\"x\",\"payload_length\":-1}\n",
                         "{\"type\":\"x\",\"payload_length\":99999999999}\n",
                         "{\"type\":\"x\",\"data\":[1]}\n",
                         "{\"type\":\"x\",\"data_length\":3}\n[1]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct wyc_event ev;
        size_t used;
        char why[128] = "";
        CHECK_EQ_INT(wyc_parse((const uint8_t *)bad[i], strlen(bad[i]), &ev, &used, why, sizeof why), WYC_ERROR);
        CHECK(why[0]);
        CHECK(!ev.data);
    }
}
