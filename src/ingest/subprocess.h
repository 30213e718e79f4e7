/* Runs an untrusted-input decoder (pdftotext, unzip …) as a sandboxed child process. */
#ifndef DP_INGEST_SUBPROCESS_H
#define DP_INGEST_SUBPROCESS_H

#include <stddef.h>

#include "core/buf.h"

/* Limits of one child process; a zero field means "the default" shown in brackets. */
struct subproc_limits {
    unsigned cpu_seconds; /* RLIMIT_CPU: SIGXCPU at this, SIGKILL one second later [30] */
    size_t mem_bytes;     /* RLIMIT_AS: address space [512 MiB] */
    size_t fsize_bytes;   /* RLIMIT_FSIZE: largest file the child may write [0: none at all] */
    unsigned nofile;      /* RLIMIT_NOFILE: open descriptors [32] */
    unsigned nproc;       /* RLIMIT_NPROC, 0 = left as it is. The kernel counts every task of the
                             user (all the server's threads too) and ignores it for root, so set it
                             (e.g. to 1) only to forbid a single-threaded tool any fork */
    unsigned timeout_ms;  /* wall clock from fork to exit [30000] */
    const char *cwd;      /* working directory of the child [/] */
};

#define SUBPROC_DEFAULT_OUTPUT_MAX ((size_t)64 << 20) /* used when out->max is 0 */
#define SUBPROC_STDERR_MAX 1024                       /* stderr bytes kept for messages */

/* Runs argv[0] (a bare program name looked up in /usr/bin:/bin, or a path containing '/') with
 * argv — never through a shell — and waits for it.
 *
 * The child gets: stdin from stdin_path (opened read-only by the parent) or /dev/null; stdout
 * appended to *out; stderr captured (its first SUBPROC_STDERR_MAX bytes, for messages); a new
 * session and process group; no other descriptors; the environment PATH=/usr/bin:/bin and
 * LANG=C.UTF-8 only; cwd lim->cwd or "/"; default signal dispositions and an empty signal mask;
 * the rlimits of *lim (lim may be NULL: all defaults) plus RLIMIT_CORE 0.
 *
 * out must be initialised by the caller (buf_init(out, max)); output is appended to it. When it
 * would grow past out->max (a max of 0 is first set to SUBPROC_DEFAULT_OUTPUT_MAX) the whole
 * process group is killed. On error *out may hold partial output; the caller always
 * buf_cleanup()s it.
 *
 * Returns DP_OK when the child exited with status 0, else:
 *   DP_ERR_TOO_LARGE    output exceeded out->max
 *   DP_ERR_TIMEOUT      the wall-clock timeout passed, or the CPU limit killed it (SIGXCPU)
 *   DP_ERR_UNSUPPORTED  non-zero exit or death by another signal: the input was refused
 *   DP_ERR_UNAVAILABLE  the program is not installed (or could not be executed)
 *   DP_ERR_IO (also: stdin_path cannot be opened), DP_ERR_NOMEM, DP_ERR_INVALID (bad argv)
 * and, when err is not NULL, writes a one-line message (program, exit status or signal, the start
 * of its stderr) into err[0..errlen). err is set to "" on success.
 *
 * Thread-safe and without global state: it never touches SIGCHLD handling and reaps only its own
 * pid (waitpid on that pid; a process-wide SIGCHLD of SIG_IGN, which makes the kernel reap
 * children unasked, would turn every run into DP_ERR_IO); every descriptor it creates is
 * O_CLOEXEC so concurrent calls do not leak pipes into each other's children. Blocks the calling
 * thread for up to timeout_ms: call it on a worker, never on the event loop.
 *
 * Rather than execvp() (which reads the caller's PATH and may allocate after fork()), the
 * program is looked up in the parent in the same fixed PATH the child gets, then execve()d. A
 * grandchild that keeps stdout or stderr open keeps the call waiting until the timeout. */
int subproc_run(const char *const argv[], const char *stdin_path, const struct subproc_limits *lim, struct buf *out,
                char *err, size_t errlen);

#endif
