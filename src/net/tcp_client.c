/* Outbound TCP (see tcp_client.h): non-blocking sockets waited on with poll, so that every step
 * keeps its deadline. */
#include "net/tcp_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/timeutil.h"

/* Waits for events on fd until deadline (time_mono seconds): 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, double deadline)
{
    for (;;) {
        double left = deadline - time_mono();
        if (left <= 0)
            return 0;
        struct pollfd p = {fd, events, 0};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r > 0)
            return 1;
    }
}

int tcp_connect(const char *address, long timeout_ms, int *fd, char *why, size_t whylen)
{
    *fd = -1;
    if (!strncmp(address, "tcp://", 6))
        address += 6;
    char host[256];
    const char *colon = strrchr(address, ':');
    const char *port = colon ? colon + 1 : "";
    size_t hl = colon ? (size_t)(colon - address) : 0;
    if (!colon || !*port || hl == 0 || hl >= sizeof host || strspn(port, "0123456789") != strlen(port)) {
        snprintf(why, whylen, "the address must be host:port");
        return DP_ERR_INVALID;
    }
    memcpy(host, address, hl);
    host[hl] = 0;
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') { /* [::1]:10300 */
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = 0;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai) {
        snprintf(why, whylen, "cannot resolve the host: %s", gai_strerror(gai));
        return DP_ERR_UNAVAILABLE;
    }
    double deadline = time_mono() + timeout_ms / 1000.0;
    int err = DP_ERR_UNAVAILABLE;
    snprintf(why, whylen, "cannot connect");
    for (struct addrinfo *a = ai; a && *fd < 0; a = a->ai_next) {
        int s = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (s < 0)
            continue;
        int r = connect(s, a->ai_addr, a->ai_addrlen);
        if (r < 0 && errno == EINPROGRESS) {
            int w = wait_fd(s, POLLOUT, deadline);
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (w == 1 && !getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &sl) && !soerr)
                r = 0;
            else if (w == 0)
                snprintf(why, whylen, "no connection within %ld ms", timeout_ms);
            else
                snprintf(why, whylen, "cannot connect: %s", strerror(soerr ? soerr : errno));
        } else if (r < 0) {
            snprintf(why, whylen, "cannot connect: %s", strerror(errno));
        }
        if (r == 0) {
            int one = 1;
            setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            *fd = s;
            err = DP_OK;
        } else {
            close(s);
        }
    }
    freeaddrinfo(ai);
    return err;
}

int tcp_send_all(int fd, const void *p, size_t n, long timeout_ms)
{
    double deadline = time_mono() + timeout_ms / 1000.0;
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w > 0) {
            c += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return DP_ERR_UNAVAILABLE;
        int r = wait_fd(fd, POLLOUT, deadline);
        if (r == 0)
            return DP_ERR_TIMEOUT;
        if (r < 0)
            return DP_ERR_UNAVAILABLE;
    }
    return DP_OK;
}

long tcp_recv(int fd, void *p, size_t cap, long timeout_ms)
{
    double deadline = time_mono() + timeout_ms / 1000.0;
    for (;;) {
        ssize_t r = recv(fd, p, cap, 0);
        if (r >= 0)
            return (long)r;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        int w = wait_fd(fd, POLLIN, deadline);
        if (w == 0)
            return -2;
        if (w < 0)
            return -1;
    }
}
