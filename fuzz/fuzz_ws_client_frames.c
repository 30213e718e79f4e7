/* libFuzzer target: what a server sends the WebSocket client (net/ws_client.c over wslay), after
 * the handshake. The input is written into the server end of a socketpair whose other end the
 * client adopts, then that end is shut; the client reads messages until the connection ends. Every
 * message it hands over must be whole (NUL-terminated, at most WS_CLIENT_MSG_MAX), and the
 * connection must end (an error, never a hang) once the bytes run out. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "net/ws_client.h"

#define FUZZ_INPUT_MAX (256 * 1024) /* written in one go: the socket buffers hold it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_INPUT_MAX)
        return 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
        abort();
    int buf = 2 * FUZZ_INPUT_MAX;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(sv[1], data + off, size - off);
        if (w <= 0)
            break; /* what does not fit is not sent: the client sees a shorter stream */
        off += (size_t)w;
    }
    shutdown(sv[1], SHUT_WR);
    struct ws_client *c;
    if (ws_client_adopt(sv[0], &c))
        abort();
    for (int i = 0; i < 100000; i++) {
        int text;
        char *p;
        size_t n;
        int err = ws_client_recv(c, 0, &text, &p, &n);
        if (err == DP_OK) {
            if (n > WS_CLIENT_MSG_MAX || p[n] != 0)
                abort();
            free(p);
            continue;
        }
        if (err == DP_ERR_IO)
            break;
        if (err == DP_ERR_TIMEOUT && i > 1000)
            abort(); /* the bytes ran out long ago and the connection still has not ended */
    }
    ws_client_free(c);
    close(sv[1]);
    return 0;
}
