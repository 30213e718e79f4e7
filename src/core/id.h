/* Opaque, time-sortable ids (UUIDv7, RFC 9562). */
#ifndef DP_ID_H
#define DP_ID_H

#define ID_LEN 37 /* 36 characters + NUL */

/* Writes a new UUIDv7 (lower-case, hyphenated); monotonic within this process. */
void id_new(char out[ID_LEN]);
/* A UUIDv7 for labelling (request ids): the same shape, its random bits from a per-thread
 * generator seeded once from the system — cheap, but not for anything that must be unguessable. */
void id_new_label(char out[ID_LEN]);
/* 1 when s is a well-formed lower-case hyphenated UUID, else 0. */
int id_valid(const char *s);

#endif
