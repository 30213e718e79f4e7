/* Fault injection (see fault.h). */
#include "core/fault.h"

#include <stdatomic.h>
#include <string.h>

static struct {
    atomic_long nth;   /* 0: disarmed */
    atomic_long calls; /* counted since armed */
    atomic_int fired;
} sites[FAULT_SITES];

void fault_arm(enum fault_site site, long nth)
{
    atomic_store(&sites[site].nth, 0);
    atomic_store(&sites[site].calls, 0);
    atomic_store(&sites[site].fired, 0);
    atomic_store(&sites[site].nth, nth > 0 ? nth : 0);
}

int fault_hit(enum fault_site site)
{
    long nth = atomic_load_explicit(&sites[site].nth, memory_order_relaxed);
    if (!nth)
        return 0;
    if (atomic_fetch_add(&sites[site].calls, 1) + 1 != nth)
        return 0;
    atomic_store(&sites[site].fired, 1);
    return 1;
}

long fault_calls(enum fault_site site, int *fired)
{
    if (fired)
        *fired = atomic_load(&sites[site].fired);
    return atomic_load(&sites[site].calls);
}

int fault_site_parse(const char *name)
{
    static const char *const names[] = {"db", "blob", "cache"};
    for (int i = 0; i < FAULT_SITES; i++)
        if (name && !strcmp(name, names[i]))
            return i;
    return -1;
}
