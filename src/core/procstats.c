/* Process metrics read from /proc/self at scrape time. */
#include "core/procstats.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/metrics.h"
#include "core/timeutil.h"

static struct metric *m_rss, *m_vsz, *m_cpu, *m_fds, *m_max_fds, *m_start;
static double cpu_reported;

/* Reads virtual and resident sizes in bytes; zeros when /proc is unavailable. */
static void read_statm(double *vsz, double *rss)
{
    long pages_total = 0, pages_rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages_total, &pages_rss) != 2)
            pages_total = pages_rss = 0;
        fclose(f);
    }
    double page = (double)sysconf(_SC_PAGESIZE);
    *vsz = (double)pages_total * page;
    *rss = (double)pages_rss * page;
}

long procstats_rss_bytes(void)
{
    double vsz, rss;
    read_statm(&vsz, &rss);
    return (long)rss;
}

static void collect(void *arg)
{
    (void)arg;
    double vsz, rss;
    read_statm(&vsz, &rss);
    metric_set(m_rss, NULL, rss);
    metric_set(m_vsz, NULL, vsz);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 (double)ru.ru_stime.tv_usec / 1e6;
    /* A counter only goes up: add the increase since the last scrape. */
    if (cpu > cpu_reported) {
        metric_add(m_cpu, NULL, cpu - cpu_reported);
        cpu_reported = cpu;
    }
    int fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        while (readdir(d))
            fds++;
        closedir(d);
        fds -= 3; /* ".", ".." and the directory's own descriptor */
    }
    metric_set(m_fds, NULL, fds);
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl))
        metric_set(m_max_fds, NULL, (double)rl.rlim_cur);
}

void procstats_register(void)
{
    m_rss =
        metric_new(METRIC_GAUGE, "process_resident_memory_bytes", "Resident memory size in bytes.", 0, NULL, NULL, 0);
    m_vsz = metric_new(METRIC_GAUGE, "process_virtual_memory_bytes", "Virtual memory size in bytes.", 0, NULL, NULL, 0);
    m_cpu = metric_new(METRIC_COUNTER, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                       0, NULL, NULL, 0);
    m_fds = metric_new(METRIC_GAUGE, "process_open_fds", "Number of open file descriptors.", 0, NULL, NULL, 0);
    m_max_fds =
        metric_new(METRIC_GAUGE, "process_max_fds", "Maximum number of open file descriptors.", 0, NULL, NULL, 0);
    m_start = metric_new(METRIC_GAUGE, "process_start_time_seconds",
                         "Start time of the process since unix epoch in seconds.", 0, NULL, NULL, 0);
    metric_set(m_start, NULL, (double)time_now_ms() / 1000.0);
    metrics_on_collect(collect, NULL);
}
