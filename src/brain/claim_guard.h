/* The legacy guard's judge: does a reply assert something about the person that nothing they
 * left behind supports? A legacy avatar speaks for someone who can no longer correct it, so a
 * language model's invented memory ("I grew up in Lisbon") is worse than no answer. */
#ifndef DP_CLAIM_GUARD_H
#define DP_CLAIM_GUARD_H

#include <stddef.h>

/* The first sentence of reply that makes an unsupported claim about the speaker, copied into
 * out (cap bytes; "" when none); returns 1 when there is one. A claim is a first-person
 * statement (I, my, we …; not a question, not "I don't remember") with at least two words that
 * say something (stop words and pronouns aside); it is supported when at least half of those
 * words (by their word key: grew ~ grow) appear in one of support[0..n) — the memories the model
 * was offered and the persona card. */
int claim_guard_unsupported(const char *reply, const char *const *support, int n, char *out, size_t cap);

#endif
