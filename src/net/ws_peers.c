/* Open WebSockets per peer address. libmicrohttpd's per-address cap (--max-conns-per-ip) stops
 * counting a socket once it is upgraded and handed over (server_on_upgraded), so the WebSockets
 * are counted here and held to the same cap at the handshake. Loop thread only. */
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "net/server_internal.h"

#define PEER_BUCKETS 4096

struct peer {
    struct peer *next;
    int n;
    char addr[];
};

static struct peer *buckets[PEER_BUCKETS];

static struct peer **slot(const char *addr)
{
    struct peer **p = &buckets[hash_fnv1a(addr, strlen(addr)) % PEER_BUCKETS];
    while (*p && strcmp((*p)->addr, addr))
        p = &(*p)->next;
    return p;
}

int ws_peers_count(const char *addr)
{
    struct peer *p = *slot(addr);
    return p ? p->n : 0;
}

void ws_peers_add(const char *addr)
{
    struct peer **s = slot(addr);
    if (!*s) {
        size_t len = strlen(addr);
        struct peer *p = malloc(sizeof *p + len + 1);
        if (!p)
            return; /* uncounted: ws_peers_del finds nothing to take away */
        p->next = NULL;
        p->n = 0;
        memcpy(p->addr, addr, len + 1);
        *s = p;
    }
    (*s)->n++;
}

void ws_peers_del(const char *addr)
{
    struct peer **s = slot(addr), *p = *s;
    if (!p || --p->n > 0)
        return;
    *s = p->next;
    free(p);
}
