/* The avatar's own voice for what was written about it: a biography or a fact in the third
 * person ("Henry was born in Scranton. He kept the medal in a cigar box.") said in the first
 * person when the recall brain quotes it ("I was born in Scranton. I kept the medal …"). */
#ifndef DP_RECALL_PERSON_H
#define DP_RECALL_PERSON_H

/* text with the avatar (name: its full name, e.g. "Henry Walsh" or "Grandpa Joe") turned into the
 * first person: the name (the full name or its given name, after a title) as a subject → "I", as
 * an object → "me", with "'s" → "my"; after the name has come, the pronouns that refer to it (the
 * first of he/she used after it) likewise; the verb right after a new "I" agrees ("is" → "am",
 * "has" → "have", "drinks" → "drink"). NULL when text does not name the avatar (nothing to
 * change) or out of memory; else malloc'd. A name after "is", "was", "named" or "called" stays
 * ("My name is Henry Walsh"). */
char *recall_first_person(const char *text, const char *name);

#endif
