/* Circuit breakers of external dependencies: closed → open after N consecutive failures →
 * half-open after a cooldown (one trial call) → closed on its success, open again on failure. */
#include "providers/circuit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/timeutil.h"

struct circuit {
    char *name;
    int failures;    /* consecutive failures that open the breaker */
    int cooldown_ms; /* open → half-open after this long */
    enum circuit_state state;
    int consecutive;  /* failures in a row while closed */
    double opened_at; /* time_mono() when it last opened */
    double trial_at;  /* time_mono() when the half-open trial was let through; 0 = none */
    struct circuit *next;
};

/* One lock for every breaker: calls are rare next to the network calls they guard. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct circuit *circuits;
static struct metric *m_state;
static pthread_once_t metric_once = PTHREAD_ONCE_INIT;

static void metric_init(void)
{
    const char *l[] = {"name"};
    m_state = metric_new(METRIC_GAUGE, "doppel_circuit_state", "circuit breaker state (0 closed, 1 open, 2 half-open)",
                         1, l, NULL, 0);
}

static const char *state_name(enum circuit_state s)
{
    return s == CIRCUIT_OPEN ? "open" : s == CIRCUIT_HALF_OPEN ? "half_open" : "closed";
}

/* Moves c to state s; lock held. */
static void set_state(struct circuit *c, enum circuit_state s)
{
    if (c->state == s)
        return;
    DP_LOG(s == CIRCUIT_OPEN ? LOG_WARN : LOG_INFO, "[circuit] %s: %s → %s", c->name, state_name(c->state),
           state_name(s));
    c->state = s;
    if (s == CIRCUIT_OPEN)
        c->opened_at = time_mono();
    if (s != CIRCUIT_HALF_OPEN)
        c->trial_at = 0;
    const char *l[] = {c->name};
    metric_set(m_state, l, (double)s);
}

struct circuit *circuit_get(const char *name, int failures, int cooldown_ms)
{
    DP_ASSERT(name && failures >= 1 && cooldown_ms >= 0);
    pthread_once(&metric_once, metric_init);
    pthread_mutex_lock(&lock);
    struct circuit *c = circuits;
    while (c && strcmp(c->name, name))
        c = c->next;
    if (!c) {
        c = calloc(1, sizeof *c);
        DP_ASSERT(c);
        c->name = strdup(name);
        DP_ASSERT(c->name);
        c->failures = failures;
        c->cooldown_ms = cooldown_ms;
        c->state = CIRCUIT_CLOSED;
        c->next = circuits;
        circuits = c;
        const char *l[] = {name};
        metric_set(m_state, l, CIRCUIT_CLOSED);
    }
    pthread_mutex_unlock(&lock);
    return c;
}

int circuit_allow(struct circuit *c)
{
    pthread_mutex_lock(&lock);
    double now = time_mono(), cooldown = c->cooldown_ms / 1000.0;
    int allow = 0;
    if (c->state == CIRCUIT_CLOSED) {
        allow = 1;
    } else if (c->state == CIRCUIT_OPEN) {
        if (now - c->opened_at >= cooldown) {
            set_state(c, CIRCUIT_HALF_OPEN);
            c->trial_at = now;
            allow = 1;
        }
    } else if (!c->trial_at || now - c->trial_at >= cooldown) {
        /* No trial out, or one whose caller never reported back within a cooldown: let another go. */
        c->trial_at = now;
        allow = 1;
    }
    pthread_mutex_unlock(&lock);
    return allow;
}

void circuit_record(struct circuit *c, int ok)
{
    pthread_mutex_lock(&lock);
    if (c->state == CIRCUIT_CLOSED) {
        c->consecutive = ok ? 0 : c->consecutive + 1;
        if (c->consecutive >= c->failures)
            set_state(c, CIRCUIT_OPEN);
    } else if (c->state == CIRCUIT_HALF_OPEN) {
        c->consecutive = 0;
        set_state(c, ok ? CIRCUIT_CLOSED : CIRCUIT_OPEN);
    }
    /* Open: a late result of a call let through before it opened changes nothing. */
    pthread_mutex_unlock(&lock);
}

enum circuit_state circuit_state_of(struct circuit *c)
{
    pthread_mutex_lock(&lock);
    enum circuit_state s = c->state;
    pthread_mutex_unlock(&lock);
    return s;
}

json_t *circuits_json(void)
{
    json_t *o = json_object();
    pthread_mutex_lock(&lock);
    for (struct circuit *c = circuits; c && o; c = c->next)
        json_object_set_new(o, c->name, json_string(state_name(c->state)));
    pthread_mutex_unlock(&lock);
    return o;
}
