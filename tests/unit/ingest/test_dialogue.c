/* Unit tests of ingest/dialogue: chat and dialogue transcripts → utterances. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test.h"
#include "brain/memory.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/utf8.h"
#include "ingest/dialogue.h"

_Static_assert(DIALOGUE_TEXT_MAX == MEMORY_TEXT_MAX, "an utterance must fit one memory");

/* Parses s, expecting DP_OK, and checks what holds for every result: texts are valid UTF-8,
 * non-empty and within the cap, offsets inside s and in order, seq 0, 1, 2 …, and each text
 * starts and ends with the bytes its offsets point at. */
static void parse(const char *s, size_t len, struct dialogue *d)
{
    CHECK_EQ_INT(dialogue_parse(s, len, d), DP_OK);
    size_t prev_end = 0;
    for (int i = 0; i < d->n; i++) {
        const struct utterance *u = &d->u[i];
        CHECK_EQ_INT(u->seq, i);
        CHECK(u->speaker && u->speaker[0]);
        CHECK(u->len > 0 && u->len <= DIALOGUE_TEXT_MAX && strlen(u->text) == u->len);
        CHECK(utf8_valid(u->text, u->len));
        CHECK(u->char_start < u->char_end && u->char_end <= len && u->char_start >= prev_end);
        CHECK(u->char_end - u->char_start >= u->len); /* the text is the excerpt, less blank space */
        CHECK(s[u->char_start] == u->text[0]);
        CHECK(s[u->char_end - 1] == u->text[u->len - 1]);
        prev_end = u->char_end;
    }
}

static void parse_str(const char *s, struct dialogue *d)
{
    parse(s, strlen(s), d);
}

/* The source bytes of utterance i. */
static char *source_of(const char *s, const struct utterance *u)
{
    size_t n = u->char_end - u->char_start;
    char *out = malloc(n + 1);
    CHECK(out);
    memcpy(out, s + u->char_start, n);
    out[n] = 0;
    return out;
}

/* The path of the repository file rel: from the working directory (as `make test` runs), else
 * from two levels above the test binary (build/<flavour>/unit_tests). Static storage. */
static const char *repo_path(const char *rel)
{
    static char path[8192];
    snprintf(path, sizeof path, "%s", rel);
    if (access(path, F_OK) == 0)
        return path;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(exe, '/');
            if (slash)
                *slash = 0;
        }
        snprintf(path, sizeof path, "%s/%s", exe, rel);
    }
    return path;
}

/* Reads the repository file rel into a malloc()ed buffer; NULL when it cannot. */
static char *read_repo_file(const char *rel, size_t *len)
{
    FILE *f = fopen(repo_path(rel), "rb");
    if (!f)
        return NULL;
    struct buf b;
    buf_init(&b, 0);
    char chunk[65536];
    size_t k;
    int err = DP_OK;
    while (!err && (k = fread(chunk, 1, sizeof chunk, f)) > 0)
        err = buf_append(&b, chunk, k);
    fclose(f);
    if (!err && !b.data)
        err = buf_append(&b, "", 0);
    if (err) {
        buf_cleanup(&b);
        return NULL;
    }
    return buf_steal(&b, len);
}

static int not_dialogue(const char *s)
{
    struct dialogue d;
    parse_str(s, &d);
    int n = d.n;
    dialogue_cleanup(&d);
    return n == 0;
}

/* ---- formats -------------------------------------------------------------------------------- */

TEST(dialogue_plain_name_colon_lines)
{
    const char *s = "Anna: Hi Ben, how was the trip?\n"
                    "Ben: Long. The train stopped twice.\n"
                    "Anna: Oh no. Did you eat?\n"
                    "Ben: Only a sandwich: cheese.\n";
    struct dialogue d;
    parse_str(s, &d);
    CHECK_EQ_INT(d.n, 4);
    CHECK_EQ_INT(d.nspeakers, 2);
    CHECK_EQ_STR(d.speakers[0], "Anna");
    CHECK_EQ_STR(d.speakers[1], "Ben");
    CHECK_EQ_STR(d.u[0].speaker, "Anna");
    CHECK_EQ_STR(d.u[0].text, "Hi Ben, how was the trip?");
    CHECK_EQ_STR(d.u[1].speaker, "Ben");
    CHECK_EQ_STR(d.u[3].text, "Only a sandwich: cheese.");
    for (int i = 0; i < d.n; i++) {
        char *src = source_of(s, &d.u[i]);
        CHECK_EQ_STR(src, d.u[i].text); /* single lines: the text is the source excerpt */
        free(src);
    }
    CHECK_EQ_INT(d.u[0].char_start, 6);
    dialogue_cleanup(&d);
    CHECK(d.u == NULL && d.n == 0 && d.speakers == NULL);
    dialogue_cleanup(&d); /* twice is fine */
}

TEST(dialogue_whatsapp_android)
{
    const char *s = "12/03/2021, 14:20 - Messages and calls are end-to-end encrypted. No one outside of this "
                    "chat, not even WhatsApp, can read or listen to them. Tap to learn more.\n"
                    "12/03/2021, 14:21 - Anna created group \"Family\"\n"
                    "12/03/2021, 14:22 - Anna: Are you coming tonight?\n"
                    "12/03/2021, 14:23 - Ben Miller: Yes, at 8:30.\n"
                    "12/03/2021, 14:23 - Anna: Great\n"
                    "12/03/2021, 14:25 - Ben Miller: <Media omitted>\n"
                    "3/12/21, 2:26\xE2\x80\xAFPM - Anna: US date, narrow space before PM\n";
    struct dialogue d;
    parse_str(s, &d);
    CHECK_EQ_INT(d.n, 4); /* "<Media omitted>" is not something Ben said */
    CHECK_EQ_INT(d.nspeakers, 2);
    CHECK_EQ_STR(d.u[0].speaker, "Anna");
    CHECK_EQ_STR(d.u[0].text, "Are you coming tonight?");
    CHECK_EQ_STR(d.u[1].speaker, "Ben Miller");
    CHECK_EQ_STR(d.u[1].text, "Yes, at 8:30.");
    CHECK_EQ_STR(d.u[3].text, "US date, narrow space before PM");
    dialogue_cleanup(&d);
}

TEST(dialogue_whatsapp_ios)
{
    const char *s = "[12/03/2021, 14:22:05] Anna: Hello!\n"
                    "\xE2\x80\x8E[12/03/2021, 14:22:09] Ben: \xE2\x80\x8Eimage omitted\n"
                    "[12/03/2021, 14:23:00] Anna: Nice picture\n"
                    "[12/03/2021, 14:24:13] Ben: Thanks, it is the harbour\n"
                    "[2021-03-12 14:25] Anna: ISO dates work too\n";
    struct dialogue d;
    parse_str(s, &d);
    CHECK_EQ_INT(d.n, 4); /* "image omitted" stands for a picture: nothing said */
    CHECK_EQ_INT(d.nspeakers, 2);
    CHECK_EQ_STR(d.u[1].speaker, "Anna");
    CHECK_EQ_STR(d.u[1].text, "Nice picture");
    CHECK_EQ_STR(d.u[2].speaker, "Ben");
    CHECK_EQ_STR(d.u[3].text, "ISO dates work too");
    dialogue_cleanup(&d);
}

TEST(dialogue_chat_app_notices_are_not_said)
{
    /* What WhatsApp writes in a person's name when exporting: none of it becomes an utterance. */
    const char *s =
        "[12/03/2021, 14:20:00] Family: \xE2\x80\x8EMessages and calls are end-to-end encrypted. No one outside "
        "of this chat, not even WhatsApp, can read or listen to them.\n"
        "[12/03/2021, 14:21:00] Anna: Morning all\n"
        "\xE2\x80\x8E[12/03/2021, 14:21:30] Ben: \xE2\x80\x8E<attached: 00000012-PHOTO-2021-03-12-14-21-30.jpg>\n"
        "[12/03/2021, 14:22:00] Ben: \xE2\x80\x8EThis message was deleted.\n"
        "[12/03/2021, 14:22:10] Anna: You deleted this message\n"
        "[12/03/2021, 14:22:20] Ben: \xE2\x80\x8EMissed voice call, \xE2\x80\x8ETap to call back\n"
        "[12/03/2021, 14:22:30] Anna: Missed group video call\n"
        "[12/03/2021, 14:22:40] Ben: Voice call \xE2\x80\xA2 12 min\n"
        "[12/03/2021, 14:22:50] Anna: Report.pdf \xE2\x80\xA2 3 pages \xE2\x80\x8E"
        "document omitted\n"
        "[12/03/2021, 14:23:00] Ben: sticker omitted\n"
        "[12/03/2021, 14:23:10] Anna: GIF omitted\n"
        "[12/03/2021, 14:23:20] Ben: Contact card omitted\n"
        "[12/03/2021, 14:23:30] Anna: null\n"
        "[12/03/2021, 14:23:40] Ben: Waiting for this message. This may take a while.\n"
        "[12/03/2021, 14:23:50] Anna: See you at the harbour <This message was edited>\n"
        "[12/03/2021, 14:24:00] Ben: I will bring the bread\n"
        "[12/03/2021, 14:24:10] Anna: The video call was fun\n"
        "[12/03/2021, 14:24:20] Ben: Voice calls are better\n";
    struct dialogue d;
    parse_str(s, &d);
    CHECK_EQ_INT(d.n, 5);
    CHECK_EQ_INT(d.nspeakers, 2); /* "Family" said nothing */
    CHECK_EQ_STR(d.u[0].text, "Morning all");
    CHECK_EQ_STR(d.u[1].speaker, "Anna");
    CHECK_EQ_STR(d.u[1].text, "See you at the harbour");
    CHECK_EQ_STR(d.u[2].text, "I will bring the bread");
    CHECK_EQ_STR(d.u[3].text, "The video call was fun");
    CHECK_EQ_STR(d.u[4].text, "Voice calls are better");
    dialogue_cleanup(&d);

    /* Android: "<Media omitted>", a file with its caption on the next line. */
    const char *a = "12/03/2021, 14:22 - Anna: Are you coming tonight?\n"
                    "12/03/2021, 14:23 - Ben: <Media omitted>\n"
                    "12/03/2021, 14:24 - Ben: IMG-20210312-WA0001.jpg (file attached)\n"
                    "the harbour at dawn\n"
                    "12/03/2021, 14:25 - Anna: Beautiful\n"
                    "12/03/2021, 14:26 - Ben: <Media omitted>\n"
                    "12/03/2021, 14:27 - Anna: Another one?\n"
                    "12/03/2021, 14:28 - Ben: Yes\n";
    parse_str(a, &d);
    CHECK_EQ_INT(d.n, 5);
    CHECK_EQ_STR(d.u[1].speaker, "Ben");
    CHECK_EQ_STR(d.u[1].text, "the harbour at dawn"); /* the caption is Ben's */
    CHECK_EQ_STR(d.u[2].text, "Beautiful");
    CHECK_EQ_STR(d.u[3].text, "Another one?");
    dialogue_cleanup(&d);

    /* Plain "Name: text" transcripts too. */
    const char *p = "Anna: Hello\nBen: <Media omitted>\nBen: Hi Anna\nAnna: How are you?\nBen: Fine\n"
                    "Anna: Good\n";
    parse_str(p, &d);
    CHECK_EQ_INT(d.n, 5);
    CHECK_EQ_STR(d.u[1].text, "Hi Anna");
    dialogue_cleanup(&d);
}

TEST(dialogue_is_notice_cases)
{
    static const char *const yes[] = {
        "<Media omitted>",
        "  <media omitted>  ",
        "<Médias omis>",
        "image omitted",
        "\xE2\x80\x8Evideo omitted",
        "audio omitted",
        "This message was deleted",
        "This message was deleted.",
        "You deleted this message.",
        "Missed voice call",
        "Missed video call",
        "Missed group voice call",
        "Video call, 3 min",
        "Voice call (12:03)",
        "<attached: 0001-AUDIO-2021.opus>",
        "notes.pdf (file attached)",
        "null",
        "Messages to this group are now secured with end-to-end encryption. Tap for more info.",
        "Your security code with Anna changed.",
        "Live location shared",
        NULL};
    static const char *const no[] = {"",
                                     "the image omitted from the album",
                                     "my document omitted two pages",
                                     "Video calls are fun",
                                     "Missed voice calls are annoying",
                                     "<attached",
                                     "Nullable types",
                                     "This message was deleted by mistake? No",
                                     "Messages are fun",
                                     "media omitted",
                                     "Voice call me later",
                                     NULL};
    for (int i = 0; yes[i]; i++)
        if (!dialogue_is_notice(yes[i], strlen(yes[i])))
            CHECK_EQ_STR(yes[i], "(a notice)");
    for (int i = 0; no[i]; i++)
        if (dialogue_is_notice(no[i], strlen(no[i])))
            CHECK_EQ_STR(no[i], "(not a notice)");
}

TEST(dialogue_screenplay_and_interview_style)
{
    const char *s = "INT. KITCHEN - NIGHT\n"
                    "ANNA: Who left the door open?\n"
                    "BEN: Not me.\n"
                    "Anna: Then it was the cat.\n" /* another spelling of ANNA */
                    "ben: Cats cannot open doors.\n"
                    "ANNA: This one can.\n";
    struct dialogue d;
    parse_str(s, &d);
    CHECK_EQ_INT(d.n, 5);
    CHECK_EQ_INT(d.nspeakers, 2);
    CHECK_EQ_STR(d.u[2].speaker, "ANNA");
    CHECK_EQ_STR(d.u[3].speaker, "BEN");
    CHECK(d.u[0].speaker == d.u[2].speaker); /* one name string per speaker */
    dialogue_cleanup(&d);

    const char *q = "Q: When did you start painting?\nA: At six, with my grandmother.\n"
                    "Q: What did she teach you?\nA: Patience, mostly.\n";
    parse_str(q, &d);
    CHECK_EQ_INT(d.n, 4);
    CHECK_EQ_STR(d.u[1].speaker, "A");
    dialogue_cleanup(&d);
}

TEST(dialogue_full_width_colon_and_cjk_names)
{
    const char *s = "\xE5\xB0\x8F\xE6\x98\x8E\xEF\xBC\x9A\xE4\xBD\xA0\xE5\xA5\xBD\n" /* 小明：你好 */
                    "\xE5\xB0\x8F\xE7\xBA\xA2\xEF\xBC\x9A\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x81\n"
                    "\xE5\xB0\x8F\xE6\x98\x8E\xEF\xBC\x9A\xE5\x90\x83\xE4\xBA\x86\xE5\x90\x97\n"
                    "\xE5\xB0\x8F\xE7\xBA\xA2\xEF\xBC\x9A\xE5\x90\x83\xE4\xBA\x86\n";
    struct dialogue d;
    parse_str(s, &d);
    CHECK_EQ_INT(d.n, 4);
    CHECK_EQ_STR(d.u[0].speaker, "\xE5\xB0\x8F\xE6\x98\x8E");
    CHECK_EQ_STR(d.u[0].text, "\xE4\xBD\xA0\xE5\xA5\xBD");
    dialogue_cleanup(&d);
}

TEST(dialogue_non_ascii_names_and_case)
{
    const char *s = "Zo\xC3\xAB: Bonjour!\n"
                    "Jos\xC3\xA9 Mar\xC3\xAD"
                    "a: Hola, Zo\xC3\xAB.\n"
                    "ZO\xC3\x8B: Comment vas-tu?\n" /* ZOË is Zoë */
                    "JOS\xC3\x89 MAR\xC3\x8D"
                    "A: Muy bien.\n"
                    "Zo\xC3\xAB: Parfait.\n";
    struct dialogue d;
    parse_str(s, &d);
    CHECK_EQ_INT(d.n, 5);
    CHECK_EQ_INT(d.nspeakers, 2);
    CHECK_EQ_STR(d.speakers[0], "Zo\xC3\xAB");
    CHECK_EQ_STR(d.speakers[1], "Jos\xC3\xA9 Mar\xC3\xAD"
                                "a");
    CHECK_EQ_STR(d.u[2].speaker, "Zo\xC3\xAB");
    CHECK_EQ_STR(d.u[3].speaker, "Jos\xC3\xA9 Mar\xC3\xAD"
                                 "a");
    CHECK_EQ_STR(d.u[3].text, "Muy bien.");
    dialogue_cleanup(&d);
}

TEST(dialogue_continuation_lines_and_blank_lines)
{
    const char *s = "Conversation at the bakery\n" /* before the first speaker: not stored */
                    "\n"
                    "Anna: I would like bread.\n"
                    "The dark one, please.\n"
                    "\n"
                    "And two rolls.\n"
                    "Baker: Anything else?\n"
                    "\n\n"
                    "Anna: No, thanks.\n"
                    "Baker: That is four euros.\n"
                    "Anna: Here you are.\n";
    struct dialogue d;
    parse_str(s, &d);
    CHECK_EQ_INT(d.n, 5);
    CHECK_EQ_STR(d.u[0].text, "I would like bread.\nThe dark one, please.\nAnd two rolls.");
    char *src = source_of(s, &d.u[0]);
    CHECK_EQ_STR(src, "I would like bread.\nThe dark one, please.\n\nAnd two rolls.");
    free(src);
    CHECK_EQ_STR(d.u[1].text, "Anything else?");
    dialogue_cleanup(&d);
}

TEST(dialogue_whatsapp_multiline_message_keeps_its_note_line)
{
    /* In a timestamped chat a "Note: …" line inside a message is part of it, not a speaker. */
    const char *s = "01/02/2022, 10:00 - Anna: Shopping list:\n"
                    "Note: oat milk, not soy\n"
                    "eggs\n"
                    "01/02/2022, 10:01 - Ben: Ok\n"
                    "01/02/2022, 10:02 - Anna: And bread\n"
                    "01/02/2022, 10:03 - Ben removed Carl\n"
                    "this line follows a system line and belongs to nobody\n"
                    "01/02/2022, 10:04 - Ben: Got it\n";
    struct dialogue d;
    parse_str(s, &d);
    CHECK_EQ_INT(d.n, 4);
    CHECK_EQ_INT(d.nspeakers, 2);
    CHECK_EQ_STR(d.u[0].text, "Shopping list:\nNote: oat milk, not soy\neggs");
    CHECK_EQ_STR(d.u[2].text, "And bread");
    CHECK_EQ_STR(d.u[3].text, "Got it");
    dialogue_cleanup(&d);
}

TEST(dialogue_crlf_line_ends)
{
    const char *s = "Anna: One\r\nBen: Two\r\n  more\r\nAnna: Three \r\nBen: Four\r\n";
    struct dialogue d;
    parse_str(s, &d);
    CHECK_EQ_INT(d.n, 4);
    CHECK_EQ_STR(d.u[0].text, "One");
    CHECK_EQ_STR(d.u[1].text, "Two\nmore");
    CHECK_EQ_STR(d.u[2].text, "Three");
    CHECK(!strchr(d.u[3].text, '\r'));
    dialogue_cleanup(&d);
}

TEST(dialogue_fixture_chat_txt)
{
    size_t len;
    char *s = read_repo_file("tests/fixtures/ingest/chat.txt", &len);
    CHECK(s);
    struct dialogue d;
    parse(s, len, &d);
    CHECK_EQ_INT(d.n, 23); /* 24 lines with a speaker, one of them "<Media omitted>" */
    CHECK_EQ_INT(d.nspeakers, 3);
    CHECK_EQ_STR(d.speakers[0], "Lily");
    CHECK_EQ_STR(d.speakers[1], "Grandpa Joe");
    CHECK_EQ_STR(d.speakers[2], "Tom");
    CHECK_EQ_STR(d.u[4].speaker, "Grandpa Joe");
    CHECK(strstr(d.u[4].text, "Worms") == d.u[4].text && strstr(d.u[4].text, "\nYour grandmother"));
    dialogue_cleanup(&d);
    free(s);
}

/* ---- documents stay documents --------------------------------------------------------------- */

TEST(dialogue_documents_are_not_dialogues)
{
    /* A few label lines in prose. */
    CHECK(not_dialogue("Trip Notes\n\nWe left early and drove north along the coast.\n\n"
                       "Note: the ferry leaves at nine.\n\nThe weather was mild and the sea calm.\n\n"
                       "Warning: bring cash, the kiosk takes no cards.\n\nWe arrived before noon.\n\n"
                       "Note: book the return early.\n\nIn the evening we ate fish by the harbour.\n"));
    /* A form: every line has a label, but no label speaks twice. */
    CHECK(not_dialogue("Name: John Smith\nAddress: 1 Elm Street\nPhone: 555 0100\nEmail: john at example\n"
                       "Occupation: baker\nNote: prefers mornings\n"));
    /* One speaker only. */
    CHECK(not_dialogue("Anna: one\nAnna: two\nAnna: three\nAnna: four\n"));
    /* Too few utterances. */
    CHECK(not_dialogue("Anna: hi\nBen: hello\nAnna: bye\n"));
    /* URLs, times and long or odd prefixes are not speakers. */
    CHECK(not_dialogue("http: the protocol\nhttps: the secure one\nhttp: again\nhttps: again\n"));
    CHECK(not_dialogue("See http://example.com/a\nSee https://example.com/b\nAt 10:30 we met\nAt 11:45 we left\n"));
    CHECK(not_dialogue("The people in this story and me: a list\nThe people in this story and me: again\n"
                       "One two three four five: six\nOne two three four five: seven\n"));
    CHECK(not_dialogue("- Anna: one\n- Ben: two\n- Anna: three\n- Ben: four\n"));
    CHECK(not_dialogue("1. Anna: one\n2. Ben: two\n3. Anna: three\n4. Ben: four\n"));
    /* Plain prose. */
    CHECK(not_dialogue("It was a dark and stormy night.\nThe rain fell in torrents.\n"));
    /* A schedule: times and dashes, but nobody speaks. */
    CHECK(not_dialogue("9:00 - Breakfast\n10:00 - Walk\n12:30 - Lunch\n15:00 - Tea\n"));
}

TEST(dialogue_share_threshold)
{
    /* 4 of 6 lines start an utterance (67 %): a dialogue; 4 of 7 (57 %): not. */
    const char *yes = "A preamble line\nAnna: one\nBen: two\nAnna: three\nBen: four\nand a continuation\n";
    const char *no = "A preamble line\nAnother one\nAnna: one\nBen: two\nAnna: three\nBen: four\nmore\n";
    CHECK(!not_dialogue(yes));
    CHECK(not_dialogue(no));
}

/* ---- input edges and caps ------------------------------------------------------------------- */

TEST(dialogue_empty_and_invalid_input)
{
    struct dialogue d;
    CHECK_EQ_INT(dialogue_parse("", 0, &d), DP_OK);
    CHECK_EQ_INT(d.n, 0);
    CHECK(d.u == NULL);
    CHECK(not_dialogue("\n\n\n  \n\t\n"));
    CHECK(not_dialogue("Anna:\nBen:\nAnna:\nBen:\n")); /* speakers but no text */
    const char nul[] = "Anna: one\nBen: t\0wo\nAnna: three\nBen: four\n";
    CHECK_EQ_INT(dialogue_parse(nul, sizeof nul - 1, &d), DP_OK);
    CHECK_EQ_INT(d.n, 0);
    CHECK(not_dialogue("Anna: one\nBen: t\xC3\x28wo\nAnna: three\nBen: four\n"));
    /* The length is respected: a text cut in the middle of a name line. */
    const char *s = "Anna: one\nBen: two\nAnna: three\nBen: four\nAnna: fi";
    parse(s, strlen(s) - 4, &d);
    CHECK_EQ_INT(d.n, 4);
    dialogue_cleanup(&d);
}

TEST(dialogue_speaker_name_limits)
{
    /* 40 bytes and 4 words are a name; 41 bytes or 5 words are not. */
    const char *s40 = "Abcdefghij Abcdefghij Abcdefghij Abcdefg: one\nBen: two\n"
                      "Abcdefghij Abcdefghij Abcdefghij Abcdefg: three\nBen: four\n";
    struct dialogue d;
    parse_str(s40, &d);
    CHECK_EQ_INT(d.n, 4);
    CHECK_EQ_INT(strlen(d.u[0].speaker), 40);
    dialogue_cleanup(&d);
    CHECK(not_dialogue("Abcdefghij Abcdefghij Abcdefghij Abcdefgh: one\nBen: two\n"
                       "Abcdefghij Abcdefghij Abcdefghij Abcdefgh: three\nBen: four\n"));
    CHECK(not_dialogue("Ann Bea Cat Dan Eve: one\nBen: two\nAnn Bea Cat Dan Eve: three\nBen: four\n"));
    /* Spaces inside a name are normalised: "Grandpa  Joe" is "Grandpa Joe". */
    parse_str("Grandpa Joe: one\nLily: two\nGrandpa \t Joe: three\nLily: four\n", &d);
    CHECK_EQ_INT(d.nspeakers, 2);
    CHECK_EQ_STR(d.u[2].speaker, "Grandpa Joe");
    dialogue_cleanup(&d);
}

TEST(dialogue_long_utterances_are_split)
{
    /* A 50,000-byte message of two-byte characters without spaces, then one with spaces. */
    struct buf b;
    buf_init(&b, 0);
    CHECK_EQ_INT(buf_append(&b, "Anna: ", 6), DP_OK);
    for (int i = 0; i < 25000; i++)
        CHECK_EQ_INT(buf_append(&b, "\xC3\xA9", 2), DP_OK);
    CHECK_EQ_INT(buf_append(&b, "\nBen: short\nAnna: ", 18), DP_OK);
    for (int i = 0; i < 9000; i++)
        CHECK_EQ_INT(buf_append(&b, "word ", 5), DP_OK);
    CHECK_EQ_INT(buf_append(&b, "end\nBen: bye\n", 13), DP_OK);
    struct dialogue d;
    parse(b.data, b.len, &d);
    CHECK_EQ_INT(d.n, 8);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_STR(d.u[i].speaker, "Anna");
        CHECK(d.u[i].len <= DIALOGUE_TEXT_MAX);
    }
    CHECK_EQ_INT(d.u[0].len + d.u[1].len + d.u[2].len, 50000);
    CHECK_EQ_INT(d.u[1].char_start, d.u[0].char_end);
    CHECK_EQ_STR(d.u[3].text, "short");
    /* The spaced one is cut at spaces: 45,003 bytes in three pieces, each ending in a word. */
    CHECK_EQ_STR(d.u[4].speaker, "Anna");
    CHECK_EQ_STR(d.u[6].speaker, "Anna");
    CHECK_EQ_INT(d.u[4].len + d.u[5].len + d.u[6].len, 45003 - 2); /* less the spaces at the cuts */
    CHECK(d.u[4].text[d.u[4].len - 1] == 'd' && d.u[5].text[0] == 'w');
    CHECK_EQ_STR(d.u[7].text, "bye");
    dialogue_cleanup(&d);
    buf_cleanup(&b);

    /* Continuation lines that together pass the cap start a new utterance of the same speaker. */
    buf_init(&b, 0);
    CHECK_EQ_INT(buf_append(&b, "Ben: hi\nAnna: start\n", 20), DP_OK);
    for (int i = 0; i < 3; i++) { /* three lines of 8,000 bytes */
        CHECK_EQ_INT(buf_printf(&b, "line%d", i), DP_OK);
        for (int k = 0; k < 1598; k++)
            CHECK_EQ_INT(buf_append(&b, " word", 5), DP_OK);
        CHECK_EQ_INT(buf_append(&b, "\n", 1), DP_OK);
    }
    CHECK_EQ_INT(buf_append(&b, "Ben: wow\nAnna: yes\nBen: ok\n", 27), DP_OK);
    parse(b.data, b.len, &d);
    CHECK_EQ_INT(d.n, 6);
    CHECK_EQ_STR(d.u[1].speaker, "Anna");
    CHECK_EQ_STR(d.u[2].speaker, "Anna");
    CHECK(strncmp(d.u[1].text, "start\nline0 word", 16) == 0);
    CHECK(strncmp(d.u[2].text, "line2 word", 10) == 0); /* cut at a line end */
    CHECK_EQ_STR(d.u[3].text, "wow");
    dialogue_cleanup(&d);
    buf_cleanup(&b);
}

TEST(dialogue_too_many_utterances)
{
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < DIALOGUE_MAX_UTTERANCES / 2 + 1; i++)
        CHECK_EQ_INT(buf_append(&b, "A: x\nB: y\n", 10), DP_OK);
    struct dialogue d;
    CHECK_EQ_INT(dialogue_parse(b.data, b.len, &d), DP_ERR_TOO_LARGE);
    CHECK_EQ_INT(d.n, 0);
    CHECK(d.u == NULL && d.speakers == NULL);
    buf_cleanup(&b);
}

TEST(dialogue_many_speakers)
{
    /* Thousands of distinct names (a group chat export): the name table grows and finds each. */
    struct buf b;
    buf_init(&b, 0);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 5000; i++)
            CHECK_EQ_INT(buf_printf(&b, "[01/01/2020, 10:00] %s%d: hello %d\n", round ? "USER " : "user ", i, round),
                         DP_OK);
    struct dialogue d;
    parse(b.data, b.len, &d);
    CHECK_EQ_INT(d.n, 10000);
    CHECK_EQ_INT(d.nspeakers, 5000);
    CHECK_EQ_STR(d.u[5000 + 123].speaker, "user 123");
    dialogue_cleanup(&d);
    buf_cleanup(&b);
}

TEST(dialogue_fuzz_corpus_replay)
{
    /* The seeds (and any reproducers) of fuzz/fuzz_dialogue.c, under this build's sanitizers. */
    DIR *d = opendir(repo_path("fuzz/corpus/fuzz_dialogue"));
    CHECK(d);
    int files = 0, dialogues = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char rel[512];
        snprintf(rel, sizeof rel, "fuzz/corpus/fuzz_dialogue/%s", e->d_name);
        size_t len;
        char *s = read_repo_file(rel, &len);
        CHECK(s);
        struct dialogue dl;
        parse(s, len, &dl);
        dialogues += dl.n > 0;
        dialogue_cleanup(&dl);
        free(s);
        files++;
    }
    closedir(d);
    CHECK(files >= 10);
    CHECK(dialogues >= 5);
}

TEST(dialogue_speaker_is_self_knows_a_contact_name_by_the_first_name_not_the_family_name)
{
    CHECK(dialogue_speaker_is_self("Grandpa Henry", "Henry Walsh"));
    CHECK(dialogue_speaker_is_self("henry", "Henry Walsh"));
    CHECK(dialogue_speaker_is_self("Henry Walsh", "Henry Walsh"));
    CHECK(!dialogue_speaker_is_self("Katie Walsh", "Henry Walsh"));
    CHECK(!dialogue_speaker_is_self("Katie", "Henry Walsh"));
    CHECK(dialogue_speaker_is_self("Joe", "Grandpa Joe"));
    CHECK(dialogue_speaker_is_self("Grandpa Joe", "Grandpa Joe"));
    CHECK(!dialogue_speaker_is_self("Grandpa Henry", "Grandpa Joe"));
}
