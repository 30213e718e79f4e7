/* Sandboxed child processes for decoding untrusted media: rlimits, timeout, capped output. */
#include "ingest/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"

#define DEF_CPU_SECONDS 30u
#define DEF_MEM_BYTES ((size_t)512 << 20)
#define DEF_NOFILE 32u
#define DEF_TIMEOUT_MS 30000u
#define MAX_ARGS 256
#define FD_FLOOR 10 /* the child moves its pipe ends up here before dup2()ing them onto 0..2 */

/* What the child reports through the status pipe when it fails before execve(). */
enum child_stage { STAGE_SETUP = 1, STAGE_CHDIR, STAGE_EXEC };

struct child_plan {
    const char *path; /* resolved program path */
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int in_fd, out_fd, err_fd, status_fd;
    struct rlimit cpu, as, fsize, nofile, nproc;
    int set_nproc;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* Lowers one limit in the child: never raises the hard limit (that needs privilege). */
static void child_limit(int resource, const struct rlimit *want)
{
    struct rlimit cur, r = *want;
    if (getrlimit(resource, &cur) == 0) {
        if (cur.rlim_max != RLIM_INFINITY && r.rlim_max > cur.rlim_max)
            r.rlim_max = cur.rlim_max;
        if (r.rlim_cur > r.rlim_max)
            r.rlim_cur = r.rlim_max;
    }
    setrlimit(resource, &r);
}

static _Noreturn void child_fail(int status_fd, int stage)
{
    int msg[2] = {stage, errno};
    ssize_t w = write(status_fd, msg, sizeof msg);
    (void)w;
    _exit(127);
}

/* The child between fork() and execve(): async-signal-safe calls only (the parent may have other
 * threads, whose locks were copied in whatever state they were in). */
static _Noreturn void child_run(const struct child_plan *p)
{
    int st = fcntl(p->status_fd, F_DUPFD_CLOEXEC, FD_FLOOR);
    int in = fcntl(p->in_fd, F_DUPFD, FD_FLOOR);
    int out = fcntl(p->out_fd, F_DUPFD, FD_FLOOR);
    int er = fcntl(p->err_fd, F_DUPFD, FD_FLOOR);
    if (st < 0)
        _exit(127);
    if (in < 0 || out < 0 || er < 0)
        child_fail(st, STAGE_SETUP);
    if (setsid() < 0)
        child_fail(st, STAGE_SETUP);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(er, 2) < 0)
        child_fail(st, STAGE_SETUP);
    /* Everything but 0..2 and the status pipe (close-on-exec) goes. */
    if (close_range(3, (unsigned)st - 1, 0) < 0 || close_range((unsigned)st + 1, ~0u, 0) < 0) {
        for (int fd = 3; fd < 65536; fd++)
            if (fd != st)
                close(fd);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        sigaction(s, &sa, NULL); /* fails harmlessly for SIGKILL, SIGSTOP and libc's own */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    child_limit(RLIMIT_CORE, &(struct rlimit){0, 0});
    child_limit(RLIMIT_CPU, &p->cpu);
    child_limit(RLIMIT_AS, &p->as);
    child_limit(RLIMIT_FSIZE, &p->fsize);
    child_limit(RLIMIT_NOFILE, &p->nofile);
    if (p->set_nproc)
        child_limit(RLIMIT_NPROC, &p->nproc);

    if (chdir(p->cwd) < 0)
        child_fail(st, STAGE_CHDIR);
    execve(p->path, p->argv, p->envp);
    child_fail(st, STAGE_EXEC);
}

/* Finds a bare program name in /usr/bin:/bin (the PATH the child gets too). */
static int resolve_program(const char *name, char *path, size_t pathlen)
{
    if (strchr(name, '/')) {
        if ((size_t)snprintf(path, pathlen, "%s", name) >= pathlen)
            return DP_ERR_INVALID;
        return access(path, X_OK) == 0 ? DP_OK : DP_ERR_UNAVAILABLE;
    }
    static const char *const dirs[] = {"/usr/bin", "/bin"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if ((size_t)snprintf(path, pathlen, "%s/%s", dirs[i], name) >= pathlen)
            return DP_ERR_INVALID;
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, X_OK) == 0)
            return DP_OK;
    }
    return DP_ERR_UNAVAILABLE;
}

/* Kills the child's whole process group (and the child itself, should it not have called
 * setsid() yet). Only called while the child is unreaped, so its pid cannot have been reused. */
static void kill_group(pid_t pid)
{
    if (kill(-pid, SIGKILL) < 0)
        kill(pid, SIGKILL);
}

static int reap(pid_t pid, int *status)
{
    for (;;) {
        if (waitpid(pid, status, 0) == pid)
            return DP_OK;
        if (errno != EINTR)
            return DP_ERR_IO;
    }
}

/* Waits until the child has exited (leaving it a zombie, so its pid and process group id stay
 * ours), at most until deadline. 1 when it exited, 0 on timeout. */
static int wait_exit(pid_t pid, int64_t deadline)
{
    int delay = 1;
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        int r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
        if (r == 0 && si.si_pid == pid)
            return 1;
        if (r < 0 && errno == ECHILD)
            return 1; /* should not happen: nobody else reaps our pid */
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        sleep_ms(delay < left ? delay : (int)left);
        if (delay < 20)
            delay *= 2;
    }
}

/* Copies the kept stderr into a single line: control bytes become spaces, ends trimmed. */
static void one_line(const char *in, size_t n, char *outl, size_t outlen)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < outlen; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x20 || c == 0x7f)
            c = ' ';
        if (c == ' ' && (j == 0 || outl[j - 1] == ' '))
            continue;
        outl[j++] = (char)c;
    }
    while (j > 0 && outl[j - 1] == ' ')
        j--;
    outl[j] = 0;
}

int subproc_run(const char *const argv[], const char *stdin_path, const struct subproc_limits *lim, struct buf *out,
                char *err, size_t errlen)
{
    set_err(err, errlen, "%s", "");
    if (!argv || !argv[0] || !argv[0][0] || !out) {
        set_err(err, errlen, "subproc_run: no program");
        return DP_ERR_INVALID;
    }
    size_t argc = 0;
    while (argv[argc])
        if (++argc > MAX_ARGS) {
            set_err(err, errlen, "%s: too many arguments", argv[0]);
            return DP_ERR_INVALID;
        }

    static const struct subproc_limits defaults = {0};
    if (!lim)
        lim = &defaults;
    unsigned cpu = lim->cpu_seconds ? lim->cpu_seconds : DEF_CPU_SECONDS;
    size_t mem = lim->mem_bytes ? lim->mem_bytes : DEF_MEM_BYTES;
    unsigned nofile = lim->nofile ? lim->nofile : DEF_NOFILE;
    unsigned timeout = lim->timeout_ms ? lim->timeout_ms : DEF_TIMEOUT_MS;
    if (!out->max)
        out->max = SUBPROC_DEFAULT_OUTPUT_MAX;

    const char *name = argv[0];
    char path[512];
    int rc = resolve_program(name, path, sizeof path);
    if (rc) {
        set_err(err, errlen, "%s is not installed (looked in /usr/bin:/bin)", name);
        return rc;
    }

    static char *const envp[] = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", NULL};
    struct child_plan plan = {
        .path = path,
        .argv = (char *const *)argv,
        .envp = envp,
        .cwd = lim->cwd ? lim->cwd : "/",
        .cpu = {cpu, cpu + 1},
        .as = {mem, mem},
        .fsize = {lim->fsize_bytes, lim->fsize_bytes},
        .nofile = {nofile, nofile},
        .nproc = {lim->nproc, lim->nproc},
        .set_nproc = lim->nproc != 0,
    };

    int in_fd = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (in_fd < 0) {
        set_err(err, errlen, "%s: cannot open input: %s", name, strerror(errno));
        return DP_ERR_IO;
    }
    int outp[2] = {-1, -1}, errp[2] = {-1, -1}, stp[2] = {-1, -1};
    if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(stp, O_CLOEXEC) < 0) {
        set_err(err, errlen, "%s: pipe: %s", name, strerror(errno));
        rc = DP_ERR_IO;
        goto out_close_fds;
    }
    plan.in_fd = in_fd;
    plan.out_fd = outp[1];
    plan.err_fd = errp[1];
    plan.status_fd = stp[1];

    int64_t deadline = now_ms() + timeout;
    pid_t pid = fork();
    if (pid < 0) {
        set_err(err, errlen, "%s: fork: %s", name, strerror(errno));
        rc = errno == ENOMEM ? DP_ERR_NOMEM : DP_ERR_IO;
        goto out_close_fds;
    }
    if (pid == 0)
        child_run(&plan);

    /* Parent: keep only the read ends. */
    close(outp[1]), outp[1] = -1;
    close(errp[1]), errp[1] = -1;
    close(stp[1]), stp[1] = -1;
    close(in_fd), in_fd = -1;

    /* The status pipe reaches EOF at a successful execve (close-on-exec) or carries why not. */
    int msg[2] = {0, 0};
    ssize_t got;
    do
        got = read(stp[0], msg, sizeof msg);
    while (got < 0 && errno == EINTR);
    int status = 0;
    if (got == (ssize_t)sizeof msg) {
        reap(pid, &status);
        set_err(err, errlen, "%s: %s failed: %s", name,
                msg[0] == STAGE_EXEC    ? "execve"
                : msg[0] == STAGE_CHDIR ? "chdir"
                                        : "setup",
                strerror(msg[1]));
        rc = msg[0] == STAGE_EXEC ? DP_ERR_UNAVAILABLE : DP_ERR_IO;
        goto out_close_fds;
    }

    fcntl(outp[0], F_SETFL, O_NONBLOCK);
    fcntl(errp[0], F_SETFL, O_NONBLOCK);
    char errkeep[SUBPROC_STDERR_MAX];
    size_t errkept = 0;
    struct pollfd pfd[2] = {{outp[0], POLLIN, 0}, {errp[0], POLLIN, 0}};
    int open_pipes = 2, killed = 0;
    char chunk[16384];
    while (open_pipes > 0 && !killed) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            kill_group(pid);
            killed = 1;
            rc = DP_ERR_TIMEOUT;
            set_err(err, errlen, "%s: killed after %u ms (wall-clock limit)", name, timeout);
            break;
        }
        int pr = poll(pfd, 2, (int)left);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            kill_group(pid);
            killed = 1;
            rc = DP_ERR_IO;
            set_err(err, errlen, "%s: poll: %s", name, strerror(errno));
            break;
        }
        for (int i = 0; i < 2 && !killed; i++) {
            if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t r = read(pfd[i].fd, chunk, sizeof chunk);
            if (r < 0) {
                if (errno == EINTR || errno == EAGAIN)
                    continue;
                r = 0; /* treat a read error as end of stream */
            }
            if (r == 0) {
                pfd[i].fd = -1;
                open_pipes--;
                continue;
            }
            if (i == 0) {
                int e = buf_append(out, chunk, (size_t)r);
                if (e) {
                    kill_group(pid);
                    killed = 1;
                    rc = e;
                    if (e == DP_ERR_TOO_LARGE)
                        set_err(err, errlen, "%s: output exceeds %zu bytes", name, out->max);
                    else
                        set_err(err, errlen, "%s: %s", name, dp_strerror(e));
                }
            } else if (errkept < sizeof errkeep) {
                size_t take = (size_t)r < sizeof errkeep - errkept ? (size_t)r : sizeof errkeep - errkept;
                memcpy(errkeep + errkept, chunk, take);
                errkept += take;
            }
        }
    }

    if (!killed && !wait_exit(pid, deadline)) {
        killed = 1;
        rc = DP_ERR_TIMEOUT;
        set_err(err, errlen, "%s: killed after %u ms (wall-clock limit)", name, timeout);
    }
    /* Whatever is left of the group (a background grandchild holding no pipe) goes too. */
    kill_group(pid);
    if (reap(pid, &status)) {
        if (!rc) {
            rc = DP_ERR_IO;
            set_err(err, errlen, "%s: waitpid: %s", name, strerror(errno));
        }
        goto out_close_fds;
    }
    if (killed)
        goto out_close_fds;

    char line[SUBPROC_STDERR_MAX + 1];
    one_line(errkeep, errkept, line, sizeof line);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        rc = DP_OK;
    } else if (WIFEXITED(status)) {
        rc = DP_ERR_UNSUPPORTED;
        set_err(err, errlen, "%s exited with status %d%s%s", name, WEXITSTATUS(status), line[0] ? ": " : "", line);
    } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU) {
        rc = DP_ERR_TIMEOUT;
        set_err(err, errlen, "%s: killed at the CPU limit (%u s)", name, cpu);
    } else {
        const char *sig = WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status)) : NULL;
        rc = DP_ERR_UNSUPPORTED;
        set_err(err, errlen, "%s: killed by signal %s%s%s", name, sig ? sig : "?", line[0] ? ": " : "", line);
    }

out_close_fds:
    if (in_fd >= 0)
        close(in_fd);
    for (int i = 0; i < 2; i++) {
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
        if (stp[i] >= 0)
            close(stp[i]);
    }
    return rc;
}
