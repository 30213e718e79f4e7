/* Trusted reverse proxies: behind one, every connection comes from the proxy's address, so the
 * client's is read from the X-Forwarded-For it appends — but only when the connection comes from
 * a proxy the operator named (--trusted-proxies), since anyone else can write that header. */
#ifndef DP_PROXY_H
#define DP_PROXY_H

#include <stddef.h>

struct proxy_list;

/* Parses a comma-separated list of IPv4/IPv6 addresses and CIDR blocks ("127.0.0.1,10.0.0.0/8,
 * ::1"). Empty or NULL: none (*out NULL). DP_ERR_INVALID (with the bad entry in msg) otherwise. */
int proxy_list_parse(const char *spec, struct proxy_list **out, char *msg, size_t msglen);
void proxy_list_free(struct proxy_list *l);

/* 1 when ip (text form) is one of l's; 0 for anything else (also a NULL list or a bad address). */
int proxy_trusted(const struct proxy_list *l, const char *ip);

/* The client's address of a request that came from peer with the X-Forwarded-For header xff (may
 * be NULL): when peer is trusted, the rightmost address of xff that is not itself a trusted proxy
 * (the one the last trusted hop saw); else, or when xff holds nothing usable, peer. out gets the
 * canonical text form. */
void proxy_client_ip(const struct proxy_list *l, const char *peer, const char *xff, char *out, size_t n);

#endif
