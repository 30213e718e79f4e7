/* Circuit breakers of external dependencies (one per provider: "embed:openai", "stt:…", "llm:…").
 * Providers reach them through provider_call (providers/provider_call.h). */
#ifndef DP_CIRCUIT_H
#define DP_CIRCUIT_H

#include <jansson.h>

enum circuit_state { CIRCUIT_CLOSED, CIRCUIT_OPEN, CIRCUIT_HALF_OPEN };
struct circuit;
/* Finds or creates the breaker named name: opens after `failures` consecutive failures,
 * half-opens after cooldown_ms, closes on a success. Process lifetime; thread-safe. */
struct circuit *circuit_get(const char *name, int failures, int cooldown_ms);
/* 1 when a call may go ahead now (closed, or the single trial of a half-open breaker). */
int circuit_allow(struct circuit *c);
void circuit_record(struct circuit *c, int ok);
enum circuit_state circuit_state_of(struct circuit *c);
/* {name: state} of every breaker, for /api/v1/admin/stats. */
json_t *circuits_json(void);

#endif
