/* The ceiling of chat fan-out on this machine, for bench/chat.sh: one process on one core doing
 * nothing but what a chat server cannot avoid for a delivery — one send of a message.new-sized
 * WebSocket frame on each receiver's own loopback TCP connection — while a reader process on
 * another core drains them all with epoll, as the load client does. No parsing, no database, no
 * per-receiver frame building: whatever Doppel's fan-out costs above this is its own.
 *
 *   chat-ceiling RECEIVERS MESSAGES SENDER_CPU READER_CPU
 * prints "ceiling: N deliveries/s, X µs CPU per delivery (sender)". */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    sched_setaffinity(0, sizeof s, &s);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
           (double)u.ru_stime.tv_usec / 1e6;
}

/* The reader: connects n sockets and reads until every one is closed. */
static void reader(int port, int n, int cpu, int ready_fd)
{
    pin(cpu);
    int ep = epoll_create1(0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a))
            die("connect");
        struct epoll_event e = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
    }
    if (write(ready_fd, "r", 1) != 1)
        die("ready");
    static char buf[65536];
    struct epoll_event ev[256];
    for (int open = n; open > 0;) {
        int k = epoll_wait(ep, ev, 256, -1);
        for (int i = 0; i < k; i++) {
            ssize_t r = read(ev[i].data.fd, buf, sizeof buf);
            if (r <= 0) {
                close(ev[i].data.fd);
                open--;
            }
        }
    }
    exit(0);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: chat-ceiling RECEIVERS MESSAGES SENDER_CPU READER_CPU\n");
        return 2;
    }
    int n = atoi(argv[1]), msgs = atoi(argv[2]), scpu = atoi(argv[3]), rcpu = atoi(argv[4]);
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 4096) ||
        getsockname(l, (struct sockaddr *)&a, &al))
        die("listen");
    int ready[2];
    if (pipe(ready))
        die("pipe");
    pid_t child = fork();
    if (child == 0)
        reader(ntohs(a.sin_port), n, rcpu, ready[1]);
    pin(scpu);
    int *fd = calloc((size_t)n, sizeof *fd);
    for (int i = 0; i < n; i++) {
        if ((fd[i] = accept(l, NULL, NULL)) < 0)
            die("accept");
        setsockopt(fd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    char r;
    if (read(ready[0], &r, 1) != 1)
        die("reader");
    /* A server text frame of a message.new of a few words: 4-byte header, 330 bytes of JSON. */
    char frame[334];
    memset(frame, 'x', sizeof frame);
    frame[0] = (char)0x81;
    frame[1] = 126;
    frame[2] = 330 >> 8;
    frame[3] = 330 & 0xff;
    double t0 = now_s(), c0 = cpu_s();
    for (int m = 0; m < msgs; m++)
        for (int i = 0; i < n; i++) {
            ssize_t w;
            do
                w = send(fd[i], frame, sizeof frame, MSG_NOSIGNAL);
            while (w < 0 && errno == EINTR);
            if (w != (ssize_t)sizeof frame)
                die("send");
        }
    double el = now_s() - t0, cpu = cpu_s() - c0;
    for (int i = 0; i < n; i++)
        close(fd[i]);
    waitpid(child, NULL, 0);
    double d = (double)n * msgs;
    printf("ceiling: %.0f deliveries/s, %.2f µs CPU per delivery (sender: one send a receiver, nothing else)\n", d / el,
           cpu / d * 1e6);
    return 0;
}
