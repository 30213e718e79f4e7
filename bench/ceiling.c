/* The ceiling for bench/http.sh: a minimal libmicrohttpd server answering {"status":"ok"} from memory.
 *
 * One internal epoll thread, keep-alive, no logging, no routing: whatever Doppel adds on top of
 * libmicrohttpd shows up as the gap between this and Doppel's /health.
 * Usage: ceiling PORT   (prints "listening PORT" on stdout once bound, runs until SIGTERM/SIGINT). */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char body[] = "{\"status\":\"ok\"}";
static struct MHD_Response *ok;
static volatile sig_atomic_t stop;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload_data;
    static int first_call_marker;
    /* libmicrohttpd 0.9.75 answers "Connection: close" to a response queued on the first call
     * for a request (STACK.md trap 1): the first call only marks the request. */
    if (!*con_cls) {
        *con_cls = &first_call_marker;
        return MHD_YES;
    }
    *upload_data_size = 0;
    return MHD_queue_response(c, MHD_HTTP_OK, ok);
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    ok = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(ok, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD, (uint16_t)atoi(argv[1]), NULL, NULL, on_request, NULL,
                         MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "ceiling: cannot listen on port %s\n", argv[1]);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("listening %s\n", argv[1]);
    fflush(stdout);
    while (!stop)
        pause();
    MHD_stop_daemon(d);
    MHD_destroy_response(ok);
    return 0;
}
