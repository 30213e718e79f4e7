/* Social turns of a conversation with the recall brain: "I miss you", thanks, goodbyes, "how are
 * you?", "I love you". They are not questions about the past, so the memories are not searched
 * for them and "I don't remember" is never the answer: the brain answers warmly and briefly,
 * inventing no fact (it says how it feels about the visitor, never what happened). */
#ifndef DP_RECALL_SOCIAL_H
#define DP_RECALL_SOCIAL_H

/* The reply to the social phrases of msg (normalised: folded, apostrophes dropped, one space
 * between words; see recall.c), or NULL when msg is not a social turn: it holds one of the
 * phrases and asks nothing else (no question mark but the one of "how are you?"). The reply is a
 * static string; formality (0–1, the person's register) picks between a casual and a formal
 * wording. */
const char *recall_social_reply(const char *msg, int has_question, double formality);

#endif
