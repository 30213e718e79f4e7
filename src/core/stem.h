/* Word keys of text that is not English: Snowball stemmers (libstemmer) by language, and a guess
 * of the language a text is written in.
 *
 * English words are keyed by their WordNet lemma (text_word_key); in German, Spanish, French,
 * Italian, Portuguese and Dutch a word is keyed by its Snowball stem, taken from the word
 * lower-cased with its accents (the stemmers know "häuser", "canción"), then folded, so that a
 * visitor typing without accents still meets it ("Häuser" and "hauser" → "haus"). */
#ifndef DP_STEM_H
#define DP_STEM_H

#include <stddef.h>

#include "core/text.h"

enum text_lang { LANG_EN = 0, LANG_DE, LANG_ES, LANG_FR, LANG_IT, LANG_PT, LANG_NL, LANG_COUNT };

/* The key of the word w[0..len) (valid UTF-8) in language lang into out (TEXT_KEY_MAX bytes, not
 * NUL-terminated): text_word_key for English (or when the stemmer cannot be had), the folded
 * Snowball stem otherwise. Returns its length. */
size_t text_word_key_in(enum text_lang lang, const unsigned char *w, size_t len, char out[TEXT_KEY_MAX]);

/* Counts, per language, the words of text that are among its commonest function words (der,
 * und, el, los, le, les, il, de, het …) into counts[LANG_COUNT] (added to what is there). */
void text_lang_count(const char *text, long counts[LANG_COUNT]);

/* The language of counts (text_lang_count): the one with most function words, English unless
 * another has more than English and at least 5. */
enum text_lang text_lang_pick(const long counts[LANG_COUNT]);

/* The language of an ISO 639-1 code ("en", "de", "es", "fr", "it", "pt", "nl"); -1 for any other
 * ("auto": guessed from the text). */
int text_lang_from_code(const char *code);

/* The language's name ("english", "german" …), as Snowball names its stemmers. */
const char *text_lang_name(enum text_lang lang);

#endif
