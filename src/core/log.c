/* Log writer: formats one line (text or JSON) and writes it to stderr atomically. */
#include "core/log.h"

#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int log_min_level = LOG_INFO;
static int log_json;
static _Thread_local char log_rid[64];

static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_setup(int json, enum log_level level)
{
    log_json = json;
    log_min_level = level;
}

int log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

void log_set_request_id(const char *rid)
{
    if (!rid) {
        log_rid[0] = 0;
        return;
    }
    snprintf(log_rid, sizeof log_rid, "%s", rid);
}

/* Appends s to out as JSON string content (without quotes); stops at the buffer end. */
static size_t json_escape_into(char *out, size_t cap, size_t at, const char *s)
{
    for (; *s && at + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[at++] = '\\';
            out[at++] = (char)c;
        } else if (c < 0x20) {
            at += (size_t)snprintf(out + at, cap - at, "\\u%04x", c);
        } else {
            out[at++] = (char)c;
        }
    }
    return at;
}

void log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
{
    char msg[2048], out[4608], ts[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03dZ", (int)(tv.tv_usec / 1000));
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;

    size_t at;
    if (log_json) {
        at = (size_t)snprintf(out, sizeof out, "{\"time\":\"%s\",\"level\":\"%s\",\"src\":\"%s:%d\",", ts,
                              level_names[level], base, line);
        if (log_rid[0])
            at += (size_t)snprintf(out + at, sizeof out - at, "\"request_id\":\"%s\",", log_rid);
        at += (size_t)snprintf(out + at, sizeof out - at, "\"msg\":\"");
        at = json_escape_into(out, sizeof out, at, msg);
        at += (size_t)snprintf(out + at, sizeof out - at, "\"}\n");
    } else {
        at = (size_t)snprintf(out, sizeof out, "%s %-5s %s%s%s%s\n", ts, level_names[level], log_rid[0] ? "[" : "",
                              log_rid, log_rid[0] ? "] " : "", msg);
    }
    if (at >= sizeof out)
        at = sizeof out - 1, out[at - 1] = '\n';
    /* One write() per line keeps lines whole when threads log at once. */
    ssize_t w = write(STDERR_FILENO, out, at);
    (void)w;
}
