/* Trusted reverse proxies (see proxy.h). */
#include "net/proxy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define PROXY_MAX 64    /* entries of --trusted-proxies */
#define XFF_HOPS_MAX 16 /* addresses of X-Forwarded-For looked at, from the right */

struct proxy_net {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network byte order */
    int prefix;             /* bits */
};

struct proxy_list {
    int n;
    struct proxy_net nets[PROXY_MAX];
};

/* An address in text form → family and bytes; 0 when it is not one. IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d, what a dual-stack socket reports) count as their IPv4 address. */
static int parse_addr(const char *s, int *family, unsigned char out[16])
{
    if (inet_pton(AF_INET, s, out) == 1) {
        *family = AF_INET;
        return 1;
    }
    if (inet_pton(AF_INET6, s, out) != 1)
        return 0;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!memcmp(out, mapped, 12)) {
        memmove(out, out + 12, 4);
        *family = AF_INET;
    } else {
        *family = AF_INET6;
    }
    return 1;
}

static int parse_entry(const char *e, struct proxy_net *net)
{
    char a[64];
    const char *slash = strchr(e, '/');
    size_t len = slash ? (size_t)(slash - e) : strlen(e);
    if (len == 0 || len >= sizeof a)
        return 0;
    memcpy(a, e, len);
    a[len] = 0;
    if (!parse_addr(a, &net->family, net->addr))
        return 0;
    int max = net->family == AF_INET ? 32 : 128;
    net->prefix = max;
    if (slash) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || p < 0 || p > max)
            return 0;
        net->prefix = (int)p;
    }
    return 1;
}

int proxy_list_parse(const char *spec, struct proxy_list **out, char *msg, size_t msglen)
{
    *out = NULL;
    if (!spec || !*spec)
        return DP_OK;
    struct proxy_list *l = calloc(1, sizeof *l);
    if (!l)
        return DP_ERR_NOMEM;
    for (const char *p = spec; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (!len)
            break;
        char e[80];
        snprintf(e, sizeof e, "%.*s", (int)(len < sizeof e - 1 ? len : sizeof e - 1), p);
        if (l->n >= PROXY_MAX) {
            snprintf(msg, msglen, "more than %d trusted proxies", PROXY_MAX);
            free(l);
            return DP_ERR_INVALID;
        }
        if (len >= sizeof e || !parse_entry(e, &l->nets[l->n])) {
            snprintf(msg, msglen, "not an address or CIDR block: %.*s", (int)(len < 80 ? len : 80), p);
            free(l);
            return DP_ERR_INVALID;
        }
        l->n++;
        p += len;
    }
    *out = l;
    return DP_OK;
}

void proxy_list_free(struct proxy_list *l)
{
    free(l);
}

static int in_net(const struct proxy_net *net, int family, const unsigned char *a)
{
    if (net->family != family)
        return 0;
    int full = net->prefix / 8, rest = net->prefix % 8;
    if (memcmp(net->addr, a, (size_t)full))
        return 0;
    if (!rest)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (net->addr[full] & mask) == (a[full] & mask);
}

static int trusted_bytes(const struct proxy_list *l, int family, const unsigned char *a)
{
    for (int i = 0; l && i < l->n; i++)
        if (in_net(&l->nets[i], family, a))
            return 1;
    return 0;
}

int proxy_trusted(const struct proxy_list *l, const char *ip)
{
    int family;
    unsigned char a[16];
    return l && ip && parse_addr(ip, &family, a) && trusted_bytes(l, family, a);
}

/* The canonical text of an address given as text; 0 when it is none. */
static int canonical(const char *s, size_t len, char *out, size_t n)
{
    char buf[64];
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= sizeof buf)
        return 0;
    memcpy(buf, s, len);
    buf[len] = 0;
    int family;
    unsigned char a[16];
    if (!parse_addr(buf, &family, a))
        return 0;
    return inet_ntop(family, a, out, (socklen_t)n) != NULL;
}

void proxy_client_ip(const struct proxy_list *l, const char *peer, const char *xff, char *out, size_t n)
{
    snprintf(out, n, "%s", peer ? peer : "");
    if (!xff || !proxy_trusted(l, peer))
        return;
    /* From the right: each trusted hop vouches for the address before it. */
    size_t end = strlen(xff);
    for (int hops = 0; end > 0 && hops < XFF_HOPS_MAX; hops++) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        char ip[64];
        if (!canonical(xff + start, end - start, ip, sizeof ip))
            return; /* garbage: keep the last address we could vouch for */
        snprintf(out, n, "%s", ip);
        if (!proxy_trusted(l, ip))
            return;
        end = start ? start - 1 : 0;
    }
}
