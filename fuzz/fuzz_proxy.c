/* libFuzzer target: X-Forwarded-For through trusted proxies (proxy_client_ip) and the
 * --trusted-proxies list parser. The first line of the input is the list, the rest the header.
 * Checks that the answer is always the peer or an address of the header that parses back. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    in[size] = 0;
    char *nl = strchr(in, '\n');
    const char *xff = nl ? nl + 1 : "";
    if (nl)
        *nl = 0;
    struct proxy_list *l = NULL;
    char msg[160];
    if (proxy_list_parse(in, &l, msg, sizeof msg) != 0)
        l = NULL;
    static const char *const peers[] = {"127.0.0.1", "10.1.2.3", "::1", "203.0.113.9"};
    for (size_t i = 0; i < sizeof peers / sizeof peers[0]; i++) {
        char ip[64];
        proxy_client_ip(l, peers[i], xff, ip, sizeof ip);
        unsigned char buf[16];
        if (strcmp(ip, peers[i]) && inet_pton(AF_INET, ip, buf) != 1 && inet_pton(AF_INET6, ip, buf) != 1)
            abort(); /* only ever the peer or a well-formed address */
        if (strcmp(ip, peers[i]) && !proxy_trusted(l, peers[i]))
            abort(); /* an untrusted peer's header is never believed */
    }
    proxy_list_free(l);
    free(in);
    return 0;
}
