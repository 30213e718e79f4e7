/* Slow-client defences that libmicrohttpd 0.9.75 lacks: a total deadline for a request's headers
 * and a minimum request-body rate. Internal to net/ (used by server.c). Loop thread only. */
#ifndef DP_GUARD_H
#define DP_GUARD_H

#include <stdint.h>
#include <uv.h>

struct metric;

struct guard_conn;

/* The header clocks of one server: connections waiting for a request's headers, oldest first. */
struct guard {
    uv_timer_t timer;        /* fires at the oldest deadline; closed by the owner (uv_close) */
    double header_timeout;   /* seconds from accept (or the end of the last response) to headers */
    struct guard_conn *head; /* waiting connections in deadline order */
    struct guard_conn **tail;
    struct metric *closed; /* counter with one label, the reason ("headers"); may be NULL */
};

/* closed (may be NULL) counts connections closed by the deadline, label reason="headers". */
void guard_init(struct guard *g, uv_loop_t *loop, double header_timeout, struct metric *closed);

/* A new TCP connection (fd): its header clock starts now. NULL when out of memory (then the
 * connection is simply not watched). Free with guard_conn_close when the connection is gone. */
struct guard_conn *guard_conn_open(struct guard *g, int fd);
void guard_conn_close(struct guard_conn *gc);
/* A request's headers are complete: its clock stops while the request runs. */
void guard_headers_done(struct guard_conn *gc);
/* The response is sent: the clock restarts for the next request on this connection (an idle
 * keep-alive connection waits for headers as well). */
void guard_request_done(struct guard_conn *gc);
/* The connection became a WebSocket: never watched again. */
void guard_upgraded(struct guard_conn *gc);

/* The body rate of one request, measured over windows of a few seconds; time the server itself
 * spent not reading (a chunk being written by a worker) does not count against the client. */
struct body_meter {
    double mark;    /* start of the current window */
    uint64_t bytes; /* bytes received in it */
    double paused;  /* seconds of it the server was not reading */
};

void body_meter_start(struct body_meter *m, double now);
void body_meter_pause(struct body_meter *m, double seconds);
/* Adds n bytes received at now. Returns 1 when a whole window (window seconds of reading) went
 * by below min_rate bytes/s; else 0 (a window that passed starts the next one). */
int body_meter_add(struct body_meter *m, uint64_t n, double now, long min_rate, double window);

#endif
