/* Trusted proxies: the list's syntax, membership (IPv4, IPv6, CIDR, IPv4-mapped), and the client's
 * address read from X-Forwarded-For only through trusted hops. */
#include <string.h>

#include "../test.h"
#include "core/err.h"
#include "net/proxy.h"

#define OK(x) CHECK_EQ_INT((x), DP_OK)

static struct proxy_list *list(const char *spec)
{
    struct proxy_list *l;
    char msg[160];
    OK(proxy_list_parse(spec, &l, msg, sizeof msg));
    return l;
}

TEST(proxy_list_syntax)
{
    struct proxy_list *l;
    char msg[160];
    OK(proxy_list_parse("", &l, msg, sizeof msg));
    CHECK(l == NULL);
    OK(proxy_list_parse(NULL, &l, msg, sizeof msg));
    CHECK(l == NULL);
    static const char *const bad[] = {"1.2.3.4/33", "::1/129", "nginx", "1.2.3", "10.0.0.0/", "10.0.0.0/8x", "/8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msg[0] = 0;
        CHECK_EQ_INT(proxy_list_parse(bad[i], &l, msg, sizeof msg), DP_ERR_INVALID);
        CHECK(strstr(msg, "not an address") != NULL);
    }
    l = list(" 127.0.0.1, 10.0.0.0/8 ,::1,fd00::/8");
    CHECK(proxy_trusted(l, "127.0.0.1"));
    CHECK(proxy_trusted(l, "10.255.1.2"));
    CHECK(!proxy_trusted(l, "11.0.0.1"));
    CHECK(proxy_trusted(l, "::1"));
    CHECK(proxy_trusted(l, "fdab::1"));
    CHECK(!proxy_trusted(l, "fe80::1"));
    CHECK(proxy_trusted(l, "::ffff:10.1.2.3")); /* what a dual-stack socket reports */
    CHECK(!proxy_trusted(l, "garbage"));
    CHECK(!proxy_trusted(NULL, "127.0.0.1"));
    proxy_list_free(l);
    l = list("192.168.1.128/25");
    CHECK(proxy_trusted(l, "192.168.1.200"));
    CHECK(!proxy_trusted(l, "192.168.1.127"));
    proxy_list_free(l);
}

TEST(proxy_client_address_through_trusted_hops_only)
{
    struct proxy_list *l = list("127.0.0.1,10.0.0.0/8");
    char ip[64];
    /* No list, or a peer that is not trusted: the header is anyone's to write, so it is ignored. */
    proxy_client_ip(NULL, "127.0.0.1", "203.0.113.7", ip, sizeof ip);
    CHECK_EQ_STR(ip, "127.0.0.1");
    proxy_client_ip(l, "198.51.100.1", "203.0.113.7", ip, sizeof ip);
    CHECK_EQ_STR(ip, "198.51.100.1");
    /* A trusted peer: the address it saw. */
    proxy_client_ip(l, "127.0.0.1", "203.0.113.7", ip, sizeof ip);
    CHECK_EQ_STR(ip, "203.0.113.7");
    /* A client that writes its own header cannot pick its address: the rightmost untrusted hop wins. */
    proxy_client_ip(l, "127.0.0.1", "1.1.1.1, 203.0.113.7", ip, sizeof ip);
    CHECK_EQ_STR(ip, "203.0.113.7");
    /* Through two trusted proxies. */
    proxy_client_ip(l, "127.0.0.1", "203.0.113.7,10.0.0.5", ip, sizeof ip);
    CHECK_EQ_STR(ip, "203.0.113.7");
    /* Canonical forms; IPv6. */
    proxy_client_ip(l, "127.0.0.1", " 2001:DB8::0001 ", ip, sizeof ip);
    CHECK_EQ_STR(ip, "2001:db8::1");
    /* Garbage stops the walk at the last address a trusted hop vouched for. */
    proxy_client_ip(l, "127.0.0.1", "unknown", ip, sizeof ip);
    CHECK_EQ_STR(ip, "127.0.0.1");
    proxy_client_ip(l, "127.0.0.1", "203.0.113.7, bogus, 10.0.0.5", ip, sizeof ip);
    CHECK_EQ_STR(ip, "10.0.0.5");
    proxy_client_ip(l, "127.0.0.1", "", ip, sizeof ip);
    CHECK_EQ_STR(ip, "127.0.0.1");
    proxy_client_ip(l, "127.0.0.1", ",,,", ip, sizeof ip);
    CHECK_EQ_STR(ip, "127.0.0.1");
    /* Only trusted hops all the way: the leftmost. */
    proxy_client_ip(l, "127.0.0.1", "10.0.0.1,10.0.0.2", ip, sizeof ip);
    CHECK_EQ_STR(ip, "10.0.0.1");
    proxy_list_free(l);
}
