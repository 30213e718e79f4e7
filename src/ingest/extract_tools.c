/* What the extractors that run decoders share: error texts, paths as program arguments, the
 * decoders' sandbox limits, a monotonic clock for time budgets, and reading one member of a ZIP
 * archive through unzip. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/utf8.h"
#include "ingest/extract.h"
#include "ingest/extract_impl.h"
#include "ingest/subprocess.h"

/* The extension of a file name ("" when none). */
const char *ex_extension(const char *filename)
{
    if (!filename)
        return "";
    const char *slash = strrchr(filename, '/');
    const char *base = slash ? slash + 1 : filename;
    const char *dot = strrchr(base, '.');
    return dot && dot != base ? dot + 1 : "";
}

void ex_set_err(char *err, size_t errlen, const char *msg, const char *detail)
{
    if (err && errlen)
        snprintf(err, errlen, "%s%s%s", msg, detail && detail[0] ? ": " : "", detail ? detail : "");
}

/* A path as a program argument: absolute, since the child runs in "/" (which also keeps a name
 * starting with '-' from reading as an option). */
int ex_path_arg(const char *path, char *out, size_t outlen)
{
    char cwd[PATH_ARG_MAX];
    if (path[0] != '/' && !getcwd(cwd, sizeof cwd))
        return DP_ERR_INVALID;
    int n = path[0] == '/' ? snprintf(out, outlen, "%s", path) : snprintf(out, outlen, "%s/%s", cwd, path);
    return n > 0 && (size_t)n < outlen ? DP_OK : DP_ERR_INVALID;
}

int64_t ex_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ex_decoder_limits(struct subproc_limits *lim)
{
    memset(lim, 0, sizeof *lim);
    lim->cpu_seconds = 30;
    lim->mem_bytes = (size_t)512 << 20;
    lim->nofile = 32;
    lim->timeout_ms = 30000;
    /* pdftotext and unzip are single-threaded and never fork: any new task is refused. */
    lim->nproc = 1;
}

/* unzip reads member names as wildcard patterns: escape the pattern characters (and a leading
 * '-', which would read as an option). */
static int member_arg(const char *name, char *out, size_t outlen)
{
    size_t k = 0;
    for (size_t i = 0; name[i]; i++) {
        char c = name[i];
        int esc = c == '*' || c == '?' || c == '[' || c == ']' || c == '\\' || (i == 0 && c == '-');
        if (k + 2 + (size_t)esc >= outlen)
            return DP_ERR_INVALID;
        if (esc)
            out[k++] = '\\';
        out[k++] = c;
    }
    out[k] = 0;
    return DP_OK;
}

int ex_unzip_member(const char *zip, const char *member, size_t max, int64_t deadline, struct buf *out, char *err,
                    size_t errlen)
{
    char zarg[PATH_ARG_MAX], marg[PATH_ARG_MAX];
    if (ex_path_arg(zip, zarg, sizeof zarg) || member_arg(member, marg, sizeof marg)) {
        ex_set_err(err, errlen, "name too long", NULL);
        return DP_ERR_INVALID;
    }
    const char *argv[] = {"unzip", "-p", "-qq", zarg, marg, NULL};
    struct subproc_limits lim;
    ex_decoder_limits(&lim);
    int64_t left = deadline - ex_now_ms();
    if (left <= 0) {
        ex_set_err(err, errlen, "unzip: time budget exhausted", NULL);
        return DP_ERR_TIMEOUT;
    }
    if (left < lim.timeout_ms)
        lim.timeout_ms = (unsigned)left;
    buf_init(out, max);
    return subproc_run(argv, NULL, &lim, out, err, errlen);
}
