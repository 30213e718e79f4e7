/* Apposition inside a passage: a person named beside the noun that says who they are to the
 * speaker ("my sister Rose", "your grandmother, Margaret O'Neill,", "Margaret, my wife,") is that
 * noun for the rest of the passage, so "What happened to your sister Rose?" meets "Rose became a
 * nun" two sentences later as well as the sentence that introduces her. */
#ifndef DP_RECALL_ALIAS_H
#define DP_RECALL_ALIAS_H
#include <stddef.h>

#include "core/text.h"

struct recall_alias {
    char noun[TEXT_KEY_MAX + 1]; /* the person noun, keyed (sister, grandmother, wife) */
    char name[TEXT_KEY_MAX + 1]; /* the name's first word, keyed as search keys it */
    size_t at, end;              /* where the apposition stands in the text (bytes) */
};

#define RECALL_ALIASES 8
/* The appositions of text, at most max (each noun once): a possessive (my, your, our, his, her)
 * and a noun that WordNet knows as a kind of person, next to a capitalised name — after it
 * ("my sister Rose"), or set off by a comma before or after ("your grandmother, Margaret",
 * "Margaret, my wife"). Returns how many. */
int recall_aliases(const char *text, struct recall_alias *out, int max);

/* 1 when text[0..n) holds a word keyed as a's name. */
int recall_alias_named(const struct recall_alias *a, const char *text, size_t n);
#endif
