/* Unit tests of ingest/: sandboxed subprocesses, text extraction, passage splitting, image headers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../support.h"
#include "../test.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/utf8.h"
#include "ingest/extract.h"
#include "ingest/image_info.h"
#include "ingest/passages.h"
#include "ingest/subprocess.h"

/* ---- helpers -------------------------------------------------------------------------------- */

/* The repository root: the working directory (as `make test` runs), else two levels above the
 * test binary (build/<flavour>/unit_tests). */
static const char *repo_path(const char *rel)
{
    static char path[8192];
    snprintf(path, sizeof path, "%s", rel);
    if (access(path, F_OK) == 0)
        return path;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(exe, '/');
            if (slash)
                *slash = 0;
        }
        snprintf(path, sizeof path, "%s/%s", exe, rel);
    }
    return path;
}

static const char *fixture(const char *name)
{
    char rel[512];
    snprintf(rel, sizeof rel, "tests/fixtures/ingest/%s", name);
    return repo_path(rel);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int have_program(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "/usr/bin/%s", name);
    if (access(p, X_OK) == 0)
        return 1;
    snprintf(p, sizeof p, "/bin/%s", name);
    return access(p, X_OK) == 0;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b;
    buf_init(&b, 0);
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&b, chunk, r))
            break;
    fclose(f);
    if (!b.data)
        buf_append(&b, "", 0);
    return buf_steal(&b, len);
}

/* Runs an in-memory converter on a C string; returns the text (caller frees). */
static char *conv(int (*fn)(const char *, size_t, struct buf *), const char *in)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    CHECK_EQ_INT(fn(in, strlen(in), &b), DP_OK);
    if (!b.data)
        buf_append(&b, "", 0);
    CHECK(utf8_valid(b.data, b.len));
    return buf_steal(&b, NULL);
}

#define CHECK_CONV(fn, in, want)                                                                                       \
    do {                                                                                                               \
        char *got_ = conv(fn, in);                                                                                     \
        CHECK_EQ_STR(got_, want);                                                                                      \
        free(got_);                                                                                                    \
    } while (0)

/* ---- subprocess ----------------------------------------------------------------------------- */

TEST(ingest_subproc_captures_stdout)
{
    const char *argv[] = {"echo", "hello", "world", NULL};
    struct buf out;
    buf_init(&out, 1024);
    char err[256];
    CHECK_EQ_INT(subproc_run(argv, NULL, NULL, &out, err, sizeof err), DP_OK);
    CHECK_EQ_STR(out.data, "hello world\n");
    CHECK_EQ_STR(err, "");
    buf_cleanup(&out);
}

TEST(ingest_subproc_output_flood_hits_the_cap)
{
    const char *argv[] = {"sh", "-c", "yes", NULL};
    struct buf out;
    buf_init(&out, 64 * 1024);
    char err[256];
    int64_t t0 = now_ms();
    CHECK_EQ_INT(subproc_run(argv, NULL, NULL, &out, err, sizeof err), DP_ERR_TOO_LARGE);
    CHECK(now_ms() - t0 < 5000);
    CHECK(out.len <= 64 * 1024);
    CHECK(strstr(err, "output exceeds") != NULL);
    buf_cleanup(&out);
}

TEST(ingest_subproc_timeout_kills)
{
    const char *argv[] = {"sleep", "5", NULL};
    struct subproc_limits lim = {.timeout_ms = 1000};
    struct buf out;
    buf_init(&out, 1024);
    char err[256];
    int64_t t0 = now_ms();
    CHECK_EQ_INT(subproc_run(argv, NULL, &lim, &out, err, sizeof err), DP_ERR_TIMEOUT);
    int64_t took = now_ms() - t0;
    CHECK(took >= 900 && took < 3000);
    CHECK(strstr(err, "wall-clock") != NULL);
    buf_cleanup(&out);
}

/* A process that is gone or a zombie waiting for init. */
static int process_dead(pid_t pid)
{
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return 1;
    char path[64], stat[256] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    size_t r = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[r] = 0;
    const char *paren = strrchr(stat, ')');
    return paren && paren[1] == ' ' && paren[2] == 'Z';
}

TEST(ingest_subproc_timeout_kills_the_whole_group)
{
    /* The background sleep holds no pipe open: it must be killed with its group all the same. */
    const char *argv[] = {"sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!; sleep 30", NULL};
    struct subproc_limits lim = {.timeout_ms = 500};
    struct buf out;
    buf_init(&out, 1024);
    CHECK_EQ_INT(subproc_run(argv, NULL, &lim, &out, NULL, 0), DP_ERR_TIMEOUT);
    CHECK(out.data != NULL);
    pid_t bg = (pid_t)atoi(out.data);
    CHECK(bg > 1);
    int dead = 0;
    for (int i = 0; i < 100 && !dead; i++) {
        dead = process_dead(bg);
        if (!dead)
            usleep(20000);
    }
    CHECK(dead);
    buf_cleanup(&out);
}

TEST(ingest_subproc_leftover_background_process_is_killed)
{
    /* The shell exits at once; its background child (stdio elsewhere) must not outlive the call. */
    const char *argv[] = {"sh", "-c", "sleep 30 >/dev/null 2>&1 </dev/null & echo $!", NULL};
    struct buf out;
    buf_init(&out, 1024);
    int64_t t0 = now_ms();
    CHECK_EQ_INT(subproc_run(argv, NULL, NULL, &out, NULL, 0), DP_OK);
    CHECK(now_ms() - t0 < 3000);
    pid_t bg = (pid_t)atoi(out.data);
    CHECK(bg > 1);
    int dead = 0;
    for (int i = 0; i < 100 && !dead; i++) {
        dead = process_dead(bg);
        if (!dead)
            usleep(20000);
    }
    CHECK(dead);
    buf_cleanup(&out);
}

TEST(ingest_subproc_nonzero_exit_gives_stderr)
{
    const char *argv[] = {"sh", "-c", "echo 'boom: bad\ninput' >&2; echo partial; exit 3", NULL};
    struct buf out;
    buf_init(&out, 1024);
    char err[256];
    CHECK_EQ_INT(subproc_run(argv, NULL, NULL, &out, err, sizeof err), DP_ERR_UNSUPPORTED);
    CHECK_EQ_STR(err, "sh exited with status 3: boom: bad input");
    CHECK_EQ_STR(out.data, "partial\n");
    buf_cleanup(&out);
}

TEST(ingest_subproc_stderr_is_capped)
{
    const char *argv[] = {"sh", "-c", "yes error | head -c 100000 >&2; exit 1", NULL};
    struct buf out;
    buf_init(&out, 1024);
    char err[4096];
    CHECK_EQ_INT(subproc_run(argv, NULL, NULL, &out, err, sizeof err), DP_ERR_UNSUPPORTED);
    CHECK(strlen(err) < SUBPROC_STDERR_MAX + 64);
    CHECK(strstr(err, "error error") != NULL);
    buf_cleanup(&out);
}

TEST(ingest_subproc_environment_is_clean)
{
    setenv("DOPPEL_SECRET_TOKEN", "hunter2", 1);
    const char *argv[] = {"env", NULL};
    struct buf out;
    buf_init(&out, 4096);
    CHECK_EQ_INT(subproc_run(argv, NULL, NULL, &out, NULL, 0), DP_OK);
    CHECK_EQ_STR(out.data, "PATH=/usr/bin:/bin\nLANG=C.UTF-8\n");
    buf_cleanup(&out);
}

TEST(ingest_subproc_limits_cwd_and_fds)
{
    /* A descriptor the parent opened without O_CLOEXEC must not reach the child. */
    int leak = open("/dev/null", O_RDONLY);
    CHECK(leak >= 0);
    const char *argv[] = {"sh", "-c", "ulimit -t; ulimit -v; ulimit -f; ulimit -n; ulimit -c; pwd; ls /proc/self/fd",
                          NULL};
    struct buf out;
    buf_init(&out, 4096);
    char err[256];
    CHECK_EQ_INT(subproc_run(argv, NULL, NULL, &out, err, sizeof err), DP_OK);
    /* cpu 30 s, 512 MiB in KiB, no file writes, 32 descriptors, no core; ls sees 0-2 and its own. */
    CHECK_EQ_STR(out.data, "30\n524288\n0\n32\n0\n/\n0\n1\n2\n3\n");
    close(leak);
    buf_cleanup(&out);
}

TEST(ingest_subproc_custom_limits_and_cwd)
{
    const char *argv[] = {"sh", "-c", "ulimit -t; ulimit -v; ulimit -f; pwd", NULL};
    struct subproc_limits lim = {.cpu_seconds = 5, .mem_bytes = 128 << 20, .fsize_bytes = 1 << 20, .cwd = "/tmp"};
    struct buf out;
    buf_init(&out, 4096);
    CHECK_EQ_INT(subproc_run(argv, NULL, &lim, &out, NULL, 0), DP_OK);
    CHECK_EQ_STR(out.data, "5\n131072\n2048\n/tmp\n");
    buf_cleanup(&out);
}

TEST(ingest_subproc_cpu_limit)
{
    const char *argv[] = {"sh", "-c", "while :; do :; done", NULL};
    struct subproc_limits lim = {.cpu_seconds = 1, .timeout_ms = 10000};
    struct buf out;
    buf_init(&out, 1024);
    char err[256];
    int64_t t0 = now_ms();
    CHECK_EQ_INT(subproc_run(argv, NULL, &lim, &out, err, sizeof err), DP_ERR_TIMEOUT);
    CHECK(now_ms() - t0 < 8000);
    CHECK(strstr(err, "CPU limit") != NULL);
    buf_cleanup(&out);
}

TEST(ingest_subproc_memory_limit)
{
    /* dd with a 200 MiB buffer fails under a 64 MiB address-space limit… */
    const char *argv[] = {"dd", "bs=200M", "count=1", "if=/dev/zero", "of=/dev/null", "status=none", NULL};
    struct subproc_limits lim = {.mem_bytes = 64 << 20};
    struct buf out;
    buf_init(&out, 1024);
    char err[256];
    CHECK_EQ_INT(subproc_run(argv, NULL, &lim, &out, err, sizeof err), DP_ERR_UNSUPPORTED);
    CHECK(strstr(err, "memory exhausted") != NULL);
    buf_cleanup(&out);
    /* …and works within the default 512 MiB. */
    buf_init(&out, 1024);
    CHECK_EQ_INT(subproc_run(argv, NULL, NULL, &out, err, sizeof err), DP_OK);
    buf_cleanup(&out);
}

TEST(ingest_subproc_no_file_writes)
{
    const char *dir = test_tmpdir();
    const char *argv[] = {"sh", "-c", "echo data > written.txt", NULL};
    struct subproc_limits lim = {.cwd = dir};
    struct buf out;
    buf_init(&out, 1024);
    CHECK(subproc_run(argv, NULL, &lim, &out, NULL, 0) != DP_OK); /* SIGXFSZ */
    char path[256];
    snprintf(path, sizeof path, "%s/written.txt", dir);
    struct stat sb;
    CHECK(stat(path, &sb) != 0 || sb.st_size == 0);
    unlink(path);
    buf_cleanup(&out);
}

TEST(ingest_subproc_stdin_from_file)
{
    const char *argv[] = {"cat", NULL};
    struct buf out;
    buf_init(&out, 4096);
    CHECK_EQ_INT(subproc_run(argv, fixture("notes.md"), NULL, &out, NULL, 0), DP_OK);
    size_t len;
    char *want = read_all(fixture("notes.md"), &len);
    CHECK(want && out.len == len && memcmp(out.data, want, len) == 0);
    free(want);
    buf_cleanup(&out);
    /* No stdin_path: /dev/null. */
    buf_init(&out, 4096);
    CHECK_EQ_INT(subproc_run(argv, NULL, NULL, &out, NULL, 0), DP_OK);
    CHECK_EQ_INT(out.len, 0);
    buf_cleanup(&out);
    char err[256];
    CHECK_EQ_INT(subproc_run(argv, "/nonexistent/file", NULL, &out, err, sizeof err), DP_ERR_IO);
}

TEST(ingest_subproc_missing_program_and_bad_args)
{
    struct buf out;
    buf_init(&out, 1024);
    char err[256];
    const char *missing[] = {"doppel-no-such-program", NULL};
    CHECK_EQ_INT(subproc_run(missing, NULL, NULL, &out, err, sizeof err), DP_ERR_UNAVAILABLE);
    CHECK(strstr(err, "not installed") != NULL);
    const char *abs_missing[] = {"/nonexistent/prog", NULL};
    CHECK_EQ_INT(subproc_run(abs_missing, NULL, NULL, &out, err, sizeof err), DP_ERR_UNAVAILABLE);
    const char *empty[] = {NULL};
    CHECK_EQ_INT(subproc_run(empty, NULL, NULL, &out, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_INT(subproc_run(NULL, NULL, NULL, &out, err, sizeof err), DP_ERR_INVALID);
    const char *nocwd[] = {"true", NULL};
    struct subproc_limits lim = {.cwd = "/nonexistent/dir"};
    CHECK_EQ_INT(subproc_run(nocwd, NULL, &lim, &out, err, sizeof err), DP_ERR_IO);
    CHECK(strstr(err, "chdir") != NULL);
    buf_cleanup(&out);
}

TEST(ingest_subproc_killed_by_signal)
{
    const char *argv[] = {"sh", "-c", "echo dying >&2; kill -SEGV $$", NULL};
    struct buf out;
    buf_init(&out, 1024);
    char err[256];
    CHECK_EQ_INT(subproc_run(argv, NULL, NULL, &out, err, sizeof err), DP_ERR_UNSUPPORTED);
    CHECK_EQ_STR(err, "sh: killed by signal SEGV: dying");
    buf_cleanup(&out);
}

/* Copies a fixture into dir (readable by anyone). */
static void copy_fixture(const char *dir, const char *name)
{
    size_t n;
    char *p = read_all(fixture(name), &n);
    CHECK(p != NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(p, 1, n, f) == n);
    fclose(f);
    chmod(path, 0644);
    free(p);
}

/* RLIMIT_NPROC binds only unprivileged users: as root, this (forked) test becomes nobody. */
static void become_unprivileged(void)
{
    if (geteuid() != 0)
        return;
    if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
        SKIP("cannot switch to an unprivileged user to test RLIMIT_NPROC");
}

static void nproc_checks(const char *dir)
{
    become_unprivileged();
    const char *argv[] = {"sh", "-c", "/bin/echo forked", NULL};
    struct buf out;
    buf_init(&out, 1024);
    CHECK_EQ_INT(subproc_run(argv, NULL, NULL, &out, NULL, 0), DP_OK);
    CHECK_EQ_STR(out.data, "forked\n");
    buf_cleanup(&out);
    struct subproc_limits lim = {.nproc = 1};
    buf_init(&out, 1024);
    char err[256];
    CHECK(subproc_run(argv, NULL, &lim, &out, err, sizeof err) != DP_OK);
    CHECK(out.len == 0);
    buf_cleanup(&out);

    /* The decoders run with nproc 1: they must not need a second task. */
    static const char docx[] = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    const char *files[][2] = {
        {"two-page.pdf", "application/pdf"}, {"sample.docx", docx}, {"sample.epub", "application/epub+zip"}};
    for (int i = 0; i < 3; i++) {
        if (!have_program(i == 0 ? "pdftotext" : "unzip"))
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, files[i][0]);
        struct extracted x;
        int rc = extract_text(path, files[i][1], NULL, &x, err, sizeof err);
        if (rc)
            fprintf(stderr, "    %s: %s\n", files[i][0], err);
        CHECK_EQ_INT(rc, DP_OK);
        CHECK(x.len > 20);
        extracted_cleanup(&x);
    }
}

TEST(ingest_subproc_rlimit_nproc_forbids_fork)
{
    const char *dir = test_tmpdir();
    chmod(dir, 0755);
    const char *names[] = {"two-page.pdf", "sample.docx", "sample.epub"};
    for (int i = 0; i < 3; i++)
        copy_fixture(dir, names[i]);
    /* In a child, so that this process keeps the rights to clean up. */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        nproc_checks(dir);
        exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    for (int i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    CHECK(WIFEXITED(st));
    if (WEXITSTATUS(st) == 77)
        SKIP("cannot switch to an unprivileged user");
    CHECK_EQ_INT(WEXITSTATUS(st), 0);
}

struct thread_arg {
    int id, ok;
};

static void *echo_thread(void *p)
{
    struct thread_arg *a = p;
    a->ok = 1;
    for (int i = 0; i < 20; i++) {
        char word[32];
        snprintf(word, sizeof word, "t%d-%d", a->id, i);
        const char *argv[] = {"echo", word, NULL};
        struct buf out;
        buf_init(&out, 256);
        int64_t t0 = now_ms();
        int rc = subproc_run(argv, NULL, NULL, &out, NULL, 0);
        /* A pipe leaked into another thread's sleeping child would hold this call up. */
        if (rc || !out.data || strncmp(out.data, word, strlen(word)) != 0 || now_ms() - t0 > 700)
            a->ok = 0;
        buf_cleanup(&out);
    }
    return NULL;
}

static void *sleep_thread(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 4; i++) {
        const char *argv[] = {"sleep", "1", NULL};
        struct buf out;
        buf_init(&out, 256);
        a->ok = subproc_run(argv, NULL, NULL, &out, NULL, 0) == DP_OK;
        buf_cleanup(&out);
    }
    return NULL;
}

TEST(ingest_subproc_concurrent_threads)
{
    pthread_t th[5];
    struct thread_arg args[5];
    for (int i = 0; i < 5; i++) {
        args[i] = (struct thread_arg){i, 0};
        CHECK(pthread_create(&th[i], NULL, i == 0 ? sleep_thread : echo_thread, &args[i]) == 0);
    }
    for (int i = 0; i < 5; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 5; i++)
        CHECK(args[i].ok);
}

/* ---- extraction: in-memory converters ------------------------------------------------------- */

TEST(ingest_plain_normalises)
{
    CHECK_CONV(extract_plain, "", "");
    CHECK_CONV(extract_plain, " \n\t\r\n ", "");
    CHECK_CONV(extract_plain, "\xef\xbb\xbf  one \t two  \r\nthree\r\r\n\n\n\nfour\fFIVE\x01x\xc2\xa0y\x7f",
               "one two\nthree\n\nfour\n\nFIVEx y");
    CHECK_CONV(extract_plain,
               "a\xc2\x85\xef\xbb\xbf"
               "b",
               "ab"); /* C1 control, stray BOM */
}

TEST(ingest_plain_latin1_and_cp1252)
{
    CHECK_CONV(extract_plain, "caf\xe9 \x80 \x93x\x94 \x96 \x81 \xff", "café € “x” – ÿ");
    /* One invalid byte makes the whole text Windows-1252 (mixed encodings are not guessed). */
    CHECK_CONV(extract_plain, "\xc3\xa9 \xe9", "Ã© é");
    CHECK_CONV(extract_plain, "ok \xc3\xa9", "ok é");
}

TEST(ingest_plain_utf16)
{
    struct buf b;
    buf_init(&b, 1024);
    CHECK_EQ_INT(extract_plain("\xff\xfeh\0i\0", 6, &b), DP_OK);
    CHECK_EQ_STR(b.data, "hi");
    b.len = 0;
    /* Big-endian, a surrogate pair (U+1F600) and a lone surrogate (U+FFFD). */
    const char be[] = "\xfe\xff\0A\xd8\x3d\xde\x00\xdc\x00\0B";
    CHECK_EQ_INT(extract_plain(be, sizeof be - 1, &b), DP_OK);
    CHECK_EQ_STR(b.data, "A\xf0\x9f\x98\x80\xef\xbf\xbd"
                         "B");
    buf_cleanup(&b);
}

TEST(ingest_html_strips)
{
    CHECK_CONV(extract_html, "<p>Hello <b>big</b> world</p>", "Hello big world");
    CHECK_CONV(extract_html, "<script>alert('<p>x</p>')</script>ok<style>p{}</style>", "ok");
    CHECK_CONV(extract_html, "<SCRIPT>x</ScRiPt >visible", "visible");
    CHECK_CONV(extract_html, "a<!-- hidden -->b<!---->c<!-->d", "abcd");
    CHECK_CONV(extract_html, "a < b and c<3 and </ x", "a < b and c<3 and </ x");
    CHECK_CONV(extract_html, "<head><title>T</title><meta charset=utf-8></head><body>B</body>", "B");
    CHECK_CONV(extract_html, "<html><head><title>T</title><body>no head end", "no head end");
    CHECK_CONV(extract_html, "<p>one</p><p>two</p><h2>Head</h2>three<br>four", "one\n\ntwo\n\nHead\n\nthree\nfour");
    CHECK_CONV(extract_html, "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc");
    CHECK_CONV(extract_html, "<a href=\"x>y\" title='>'>link</a>", "link");
    CHECK_CONV(extract_html, "<pre>  a\n    b</pre>c\n   d", "a\nb\n\nc d");
    CHECK_CONV(extract_html, "<![CDATA[cdata]]>x<?php echo 1 ?>y<!DOCTYPE html>z", "xyz");
}

TEST(ingest_html_entities)
{
    CHECK_CONV(extract_html, "&amp;&lt;&gt;&quot;&#39;&apos;", "&<>\"''");
    CHECK_CONV(extract_html, "a&nbsp;b &#233; &#xE9; &#XE9; &eacute; &euro; &hellip;", "a b é é é é € …");
    CHECK_CONV(extract_html, "&#0; &#xD800; &#x110000; &#99999999999;",
               "\xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd");
    CHECK_CONV(extract_html, "&#150; &#65", "– A"); /* Windows-1252 range; no semicolon */
    CHECK_CONV(extract_html, "&bogus; & &; &#; &#x; AT&T", "&bogus; & &; &#; &#x; AT&T");
    CHECK_CONV(extract_html, "&shy;soft&zwj;", "soft");
}

TEST(ingest_html_invalid_utf8_is_cp1252)
{
    CHECK_CONV(extract_html, "<p>caf\xe9</p>", "café");
    CHECK_CONV(extract_html, "\xef\xbb\xbf<p>bom</p>", "bom");
}

TEST(ingest_html_unclosed_constructs)
{
    CHECK_CONV(extract_html, "a<!-- never closed", "a");
    CHECK_CONV(extract_html, "a<script>never closed", "a");
    CHECK_CONV(extract_html, "a<b", "a");
    CHECK_CONV(extract_html, "a<div class=\"x", "a");
    CHECK_CONV(extract_html, "a<", "a<");
    CHECK_CONV(extract_html, "a&", "a&");
    CHECK_CONV(extract_html, "a&#x", "a&#x");
}

TEST(ingest_markdown_drops_markup)
{
    CHECK_CONV(extract_markdown, "# Title #\nBody", "Title\n\nBody");
    CHECK_CONV(extract_markdown, "Setext\n======\n\nText", "Setext\n\nText");
    CHECK_CONV(extract_markdown, "**bold** __also__ *em* _em_ ~~del~~", "bold also em em del");
    CHECK_CONV(extract_markdown, "snake_case_name and 2 * 3 and a*b", "snake_case_name and 2 * 3 and a*b");
    CHECK_CONV(extract_markdown, "[text](http://x.y/(z)) and ![alt](i.png) and [ref][1] and [plain]",
               "text and alt and ref and [plain]");
    CHECK_CONV(extract_markdown, "[![badge](b.svg)](http://ci)", "badge");
    CHECK_CONV(extract_markdown, "`code *x*` and ``a ` b``", "code *x* and a ` b");
    CHECK_CONV(extract_markdown, "\\*not em\\* \\# x", "*not em* # x");
    CHECK_CONV(extract_markdown, "<https://a.b/c> <b>bold</b> a < b", "https://a.b/c bold a < b");
    CHECK_CONV(extract_markdown, "- one\n* two\n+ three\n1. four\n- [ ] task", "one\ntwo\nthree\n1. four\ntask");
    CHECK_CONV(extract_markdown, "> quote\n> > nested", "quote\nnested");
    CHECK_CONV(extract_markdown, "```c\nint *p = a_b;\n```\n~~~\n# not heading\n~~~", "int *p = a_b;\n\n# not heading");
    CHECK_CONV(extract_markdown, "| a | b |\n|:--|--:|\n| c | d |", "a b\nc d");
    CHECK_CONV(extract_markdown, "text\n\n[1]: http://x \"t\"\n\n---\n\nmore", "text\n\nmore");
    CHECK_CONV(extract_markdown, "Fish &amp; chips", "Fish & chips");
    CHECK_CONV(extract_markdown, "    indented *code*", "indented *code*");
}

TEST(ingest_markdown_pathological_input_is_fast)
{
    size_t n = 4 << 20;
    char *p = malloc(n + 1);
    CHECK(p);
    const char *unit = "[](([*_`~<&";
    for (size_t i = 0; i < n; i++)
        p[i] = unit[i % strlen(unit)];
    p[n] = 0;
    struct buf b;
    buf_init(&b, 64 << 20);
    int64_t t0 = now_ms();
    CHECK_EQ_INT(extract_markdown(p, n, &b), DP_OK);
    CHECK(now_ms() - t0 < 5000);
    for (size_t i = 0; i < n; i++)
        p[i] = "[[[[]]"[i % 6];
    b.len = 0;
    t0 = now_ms();
    CHECK_EQ_INT(extract_markdown(p, n, &b), DP_OK);
    CHECK(now_ms() - t0 < 5000);
    buf_cleanup(&b);
    free(p);
}

TEST(ingest_docx_xml)
{
    CHECK_CONV(extract_docx_xml,
               "<?xml version=\"1.0\"?><w:document><w:body><w:p><w:r><w:t>A &amp; B</w:t></w:r></w:p><w:p/>"
               "<w:p><w:r><w:t xml:space=\"preserve\">x </w:t><w:t><![CDATA[<y>]]></w:t><w:noBreakHyphen/>"
               "<w:t>z</w:t><w:br/><w:t>next</w:t></w:r></w:p><!-- <w:t>comment</w:t> --></w:body></w:document>",
               "A & B\n\nx <y>-z\nnext");
    CHECK_CONV(extract_docx_xml, "<w:t>unterminated", "unterminated");
    CHECK_CONV(extract_docx_xml, "text outside w:t <w:t", "");
}

TEST(ingest_converters_respect_the_cap)
{
    struct buf b;
    buf_init(&b, 10);
    CHECK_EQ_INT(extract_plain("0123456789abc", 13, &b), DP_ERR_TOO_LARGE);
    buf_cleanup(&b);
    buf_init(&b, 10);
    CHECK_EQ_INT(extract_html("<p>0123456789abc</p>", 20, &b), DP_ERR_TOO_LARGE);
    buf_cleanup(&b);
    buf_init(&b, 10);
    CHECK_EQ_INT(extract_markdown("# 0123456789abc", 15, &b), DP_ERR_TOO_LARGE);
    buf_cleanup(&b);
    buf_init(&b, 10);
    CHECK_EQ_INT(extract_docx_xml("<w:t>0123456789abc</w:t>", 24, &b), DP_ERR_TOO_LARGE);
    buf_cleanup(&b);
}

/* ---- extraction: files ---------------------------------------------------------------------- */

static char *extract_ok(const char *name, const char *mime, const char *filename, struct extracted *x)
{
    char err[512];
    int rc = extract_text(fixture(name), mime, filename, x, err, sizeof err);
    if (rc)
        fprintf(stderr, "    extract_text(%s): %s: %s\n", name, dp_strerror(rc), err);
    CHECK_EQ_INT(rc, DP_OK);
    CHECK(x->text != NULL && strlen(x->text) == x->len);
    CHECK(utf8_valid(x->text, x->len));
    return x->text;
}

TEST(ingest_extract_latin1_file)
{
    struct extracted x;
    CHECK_EQ_STR(extract_ok("latin1.txt", "text/plain; charset=iso-8859-1", "notes.txt", &x),
                 "Café crème brûlée coûte 5 €.\nNaïve “quotes” – done.");
    CHECK_EQ_INT(x.npages, 0);
    CHECK(x.page_starts == NULL);
    extracted_cleanup(&x);
    CHECK_EQ_STR(extract_ok("utf16.txt", "text/plain", NULL, &x), "Hi é");
    extracted_cleanup(&x);
    extracted_cleanup(&x); /* twice is fine */
}

TEST(ingest_extract_html_file)
{
    struct extracted x;
    const char *t = extract_ok("page.html", "text/html", "page.html", &x);
    CHECK_EQ_STR(t, "Main Heading\n\n"
                    "Fish & chips <3 > \"quoted\" 'single' a b café ☺ €\n\n"
                    "First\nsecond line\n\n"
                    "One\nTwo\n\n"
                    "Attribute with a > inside\n\n"
                    "keep\nlines");
    extracted_cleanup(&x);
}

TEST(ingest_extract_markdown_file)
{
    struct extracted x;
    /* libmagic calls Markdown text/plain: the file name decides. */
    const char *t = extract_ok("notes.md", "text/plain", "notes.md", &x);
    CHECK_EQ_STR(t, "Trip Notes\n\n"
                    "Some bold and italic and code and a link here.\n"
                    "An image alt text and a_snake_case_name and 2 * 3 = 6.\n\n"
                    "Packing List\n\n"
                    "tent\nstove\n\n"
                    "fenced code stays\n\n"
                    "quoted line\n\n"
                    "a b\nc d");
    extracted_cleanup(&x);
    t = extract_ok("notes.md", "text/markdown", NULL, &x);
    CHECK(strncmp(t, "Trip Notes\n", 11) == 0);
    extracted_cleanup(&x);
}

TEST(ingest_extract_pdf_pages)
{
    if (!have_program("pdftotext"))
        SKIP("pdftotext (poppler-utils) is not installed");
    struct extracted x;
    const char *t = extract_ok("two-page.pdf", "application/pdf", "doc.pdf", &x);
    CHECK_EQ_STR(t, "Page one: the quick brown fox.\nIt jumps over the lazy dog.\n\n"
                    "Page two begins here.\nThe end of the document.");
    CHECK_EQ_INT(x.npages, 2);
    CHECK_EQ_INT(x.page_starts[0], 0);
    CHECK(strncmp(t + x.page_starts[1], "Page two begins here.", 21) == 0);
    extracted_cleanup(&x);
}

TEST(ingest_extract_pdf_rejoins_lines_broken_inside_sentences)
{
    if (!have_program("pdftotext"))
        SKIP("pdftotext (poppler-utils) is not installed");
    struct extracted x;
    const char *t = extract_ok("wrapped.pdf", "application/pdf", "wrapped.pdf", &x);
    CHECK_EQ_STR(t, "The Lighthouse Years\n\n"
                    "When my grandfather took the post at Skagen Point in 1931, the lamp still burned paraffin and "
                    "the keeper climbed the hundred and twelve steps four times a night to trim the wick. He kept a "
                    "log of every ship that passed, and on calm evenings he wrote letters to my grandmother in "
                    "Bergen, who answered every one of them. The letters arrived with the supply boat, which came "
                    "on Thursdays when the weather allowed and on Saturdays when it did not. He called the boat the "
                    "unreliable messenger, a name it kept for forty years and the whole family still uses today.\n\n"
                    "The storm of 1953 is the one everybody remembers. For three days the waves broke over the "
                    "gallery and the keepers could not leave the tower.\n\n"
                    "What he packed for a winter on the point:\n"
                    "- two wool sweaters knitted by his mother\n"
                    "- a tin of coffee and a tin of tobacco\n\n"
                    "Skagen Point Lighthouse\nFyrvej 1\nSkagen");
    CHECK_EQ_INT(x.npages, 1);
    extracted_cleanup(&x);
}

/* extract_rejoin_lines on a copy of s; the result in a static buffer. */
static const char *rejoin(const char *s)
{
    static char b[2048];
    snprintf(b, sizeof b, "%s", s);
    size_t n = extract_rejoin_lines(b, strlen(b));
    CHECK(n <= strlen(s));
    b[n] = 0;
    return b;
}

TEST(ingest_rejoin_lines)
{
    /* inside a sentence, before a lower-case word */
    CHECK_EQ_STR(rejoin("the cat sat\non the mat."), "the cat sat on the mat.");
    /* a sentence end, a paragraph break, a clause end stay */
    CHECK_EQ_STR(rejoin("It rained.\nWe stayed in.\n\nNext day\nwas dry"),
                 "It rained.\nWe stayed in.\n\nNext day was dry");
    CHECK_EQ_STR(rejoin("He said \"go.\"\nthen left"), "He said \"go.\"\nthen left");
    CHECK_EQ_STR(rejoin("He asked (why?)\nand left"), "He asked (why?)\nand left");
    CHECK_EQ_STR(rejoin("Items:\nmilk"), "Items:\nmilk");
    CHECK_EQ_STR(rejoin("she wrote \xE2\x80\x9Cyes\xE2\x80\x9D\nand smiled"),
                 "she wrote \xE2\x80\x9Cyes\xE2\x80\x9D and smiled");
    /* hyphenation */
    CHECK_EQ_STR(rejoin("an exam-\nple of it"), "an example of it");
    CHECK_EQ_STR(rejoin("the pre-\nRaphaelite painters"), "the pre-Raphaelite painters");
    /* lists */
    CHECK_EQ_STR(rejoin("we took\n- bread\n- cheese\n\xE2\x80\xA2 wine\n1. one\n2) two\na) three\n(iv) four"),
                 "we took\n- bread\n- cheese\n\xE2\x80\xA2 wine\n1. one\n2) two\na) three\n(iv) four");
    /* before a capital: only a full-width line was wrapped */
    const char *full = "This line runs all the way to the right margin of the page and on\n"
                       "Monday it went on, while this one is short\n"
                       "Then a new line";
    CHECK_EQ_STR(rejoin(full), "This line runs all the way to the right margin of the page and on "
                               "Monday it went on, while this one is short\nThen a new line");
    CHECK_EQ_STR(rejoin("Chapter One\nIt was night"), "Chapter One\nIt was night");
    /* Latin-1 lower case continues too; empty and one-line input */
    CHECK_EQ_STR(rejoin("caf\xC3\xA9\n\xC3\xA9t\xC3\xA9 chaud"), "caf\xC3\xA9 \xC3\xA9t\xC3\xA9 chaud");
    CHECK_EQ_STR(rejoin(""), "");
    CHECK_EQ_STR(rejoin("one line"), "one line");
    CHECK_EQ_STR(rejoin("a\n"), "a\n");
}

TEST(ingest_extract_pdf_refused)
{
    if (!have_program("pdftotext"))
        SKIP("pdftotext (poppler-utils) is not installed");
    struct extracted x;
    char err[512];
    CHECK_EQ_INT(extract_text(fixture("not-a.pdf"), "application/pdf", NULL, &x, err, sizeof err), DP_ERR_UNSUPPORTED);
    CHECK(strstr(err, "pdftotext exited with status") != NULL);
    CHECK(x.text == NULL && x.len == 0);
    CHECK_EQ_INT(extract_text(fixture("page.html"), "application/pdf", NULL, &x, err, sizeof err), DP_ERR_UNSUPPORTED);
}

TEST(ingest_extract_docx)
{
    if (!have_program("unzip"))
        SKIP("unzip is not installed");
    struct extracted x;
    const char *t = extract_ok("sample.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                               "s.docx", &x);
    CHECK_EQ_STR(t, "Docx Title\n\n"
                    "Hello bold world & friends.\n\n"
                    "item one\nitem two\n\n"
                    "cell A cell B\n\n"
                    "Before tab\nafter break.");
    CHECK_EQ_INT(x.npages, 0);
    extracted_cleanup(&x);
    /* As libmagic may call it, or with no type at all. */
    CHECK(strncmp(extract_ok("sample.docx", "application/zip", "S.DOCX", &x), "Docx Title", 10) == 0);
    extracted_cleanup(&x);
    CHECK(strncmp(extract_ok("sample.docx", NULL, "s.docx", &x), "Docx Title", 10) == 0);
    extracted_cleanup(&x);
    /* A ZIP without word/document.xml. */
    char err[512];
    CHECK_EQ_INT(extract_text(fixture("sample.epub"), NULL, "x.docx", &x, err, sizeof err), DP_ERR_UNSUPPORTED);
    CHECK(strstr(err, "unzip") != NULL);
}

TEST(ingest_extract_epub_spine_order)
{
    if (!have_program("unzip"))
        SKIP("unzip is not installed");
    struct extracted x;
    const char *t = extract_ok("sample.epub", "application/epub+zip", "book.epub", &x);
    /* Spine: odd[3].xhtml (found through "text/../"), a-first.xhtml, "chapter%20two.xhtml"; the
     * nav document is skipped, and so are scripts, styles and titles. */
    CHECK_EQ_STR(t, "Chapter One\n\nReading starts here.\n\n"
                    "Chapter Two In Spine\n\nThe second chapter in reading order.\n\n"
                    "Chapter Three\n\nThe last chapter & the end.");
    extracted_cleanup(&x);
}

TEST(ingest_extract_epub_without_opf_uses_file_order)
{
    if (!have_program("unzip"))
        SKIP("unzip is not installed");
    struct extracted x;
    const char *t = extract_ok("nospine.epub", "application/zip", "book.epub", &x);
    CHECK_EQ_STR(t, "Chapter One\n\nReading starts here.\n\n"
                    "Chapter Two In Spine\n\nThe second chapter in reading order.");
    extracted_cleanup(&x);
}

TEST(ingest_extract_unknown_and_missing)
{
    struct extracted x;
    char err[512];
    CHECK_EQ_INT(extract_text(fixture("tiny.png"), "image/png", "a.png", &x, err, sizeof err), DP_ERR_UNSUPPORTED);
    CHECK(strstr(err, "image/png") != NULL);
    CHECK_EQ_INT(extract_text(fixture("sample.epub"), "application/zip", "a.zip", &x, err, sizeof err),
                 DP_ERR_UNSUPPORTED);
    CHECK_EQ_INT(extract_text(fixture("notes.md"), NULL, NULL, &x, err, sizeof err), DP_ERR_UNSUPPORTED);
    CHECK_EQ_INT(extract_text(fixture("notes.md"), "application/x-sh", "notes.md", &x, NULL, 0), DP_ERR_UNSUPPORTED);
    CHECK_EQ_INT(extract_text("/nonexistent/file.txt", "text/plain", NULL, &x, err, sizeof err), DP_ERR_IO);
    CHECK(x.text == NULL);
}

TEST(ingest_extract_input_cap)
{
    char path[] = "/tmp/doppel-ingest-big-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, (off_t)EXTRACT_MAX_INPUT + 1) == 0); /* sparse */
    close(fd);
    struct extracted x;
    char err[256];
    CHECK_EQ_INT(extract_text(path, "text/plain", NULL, &x, err, sizeof err), DP_ERR_TOO_LARGE);
    unlink(path);
}

/* ---- passages ------------------------------------------------------------------------------- */

static int count_ws_words(const char *t, size_t a, size_t b)
{
    int n = 0, in = 0;
    for (size_t i = a; i < b; i++) {
        int ws = t[i] == ' ' || t[i] == '\n' || t[i] == '\t' || t[i] == '\r' || t[i] == '\f' || t[i] == '\v';
        if (!ws && !in)
            n++;
        in = !ws;
    }
    return n;
}

static int is_space_c(char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static uint32_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) % n;
}

/* A long deterministic document: ATX-headed sections of paragraphs of sentences of 3–45 words. */
static char *make_doc(uint32_t seed, int sections, size_t *len)
{
    static const char *const vocab[] = {"river",  "stone",  "light",  "garden",     "letter", "morning",  "quiet",
                                        "houses", "we",     "walked", "along",      "the",    "old",      "road",
                                        "and",    "talked", "about",  "everything", "that",   "mattered", "then"};
    rng_state = seed;
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "Opening words before any heading. They are a section too.\n\n");
    for (int s = 0; s < sections; s++) {
        buf_printf(&b, "## Section %d of the story\n\n", s + 1);
        int paras = 1 + (int)rnd(8);
        for (int p = 0; p < paras; p++) {
            int sentences = 1 + (int)rnd(9);
            for (int k = 0; k < sentences; k++) {
                int words = 3 + (int)rnd(43);
                for (int w = 0; w < words; w++) {
                    const char *v = vocab[rnd(sizeof vocab / sizeof vocab[0])];
                    if (w == 0)
                        buf_printf(&b, "%c%s", v[0] - 32, v + 1);
                    else
                        buf_printf(&b, "%s%s", rnd(12) == 0 ? "\n" : " ", v);
                }
                buf_printf(&b, "%s", k + 1 < sentences ? ". " : ".");
            }
            buf_printf(&b, "\n\n");
        }
    }
    return buf_steal(&b, len);
}

/* The properties every split must have. first_of_section[i] tells whether passage i begins a
 * section (its excerpt starts with a heading). */
static void check_split(const char *t, size_t len, const struct passage *p, int n, int check_min)
{
    /* Coverage: every non-space byte is inside some passage. */
    size_t covered = 0; /* all bytes before this are covered or white space */
    for (int i = 0; i < n; i++) {
        CHECK(p[i].char_start < p[i].char_end && p[i].char_end <= len);
        for (size_t k = covered; k < p[i].char_start; k++)
            CHECK(is_space_c(t[k]));
        if (p[i].char_end > covered)
            covered = p[i].char_end;
        /* Word boundaries, no split UTF-8 sequences. */
        CHECK(p[i].char_start == 0 || is_space_c(t[p[i].char_start - 1]));
        CHECK(!is_space_c(t[p[i].char_start]));
        CHECK(p[i].char_end == len || is_space_c(t[p[i].char_end]));
        CHECK(!is_space_c(t[p[i].char_end - 1]));
        /* Sizes. */
        CHECK_EQ_INT(p[i].words, count_ws_words(t, p[i].char_start, p[i].char_end));
        CHECK(p[i].words <= PASSAGE_MAX_WORDS);
        int last_of_section = i + 1 == n || t[p[i + 1].char_start] == '#';
        if (check_min && !last_of_section)
            CHECK(p[i].words >= PASSAGE_MIN_WORDS);
        /* The text: context, then the excerpt. */
        CHECK_EQ_INT(p[i].len, strlen(p[i].text));
        CHECK(p[i].len == p[i].context_len + (p[i].char_end - p[i].char_start));
        CHECK(memcmp(p[i].text + p[i].context_len, t + p[i].char_start, p[i].char_end - p[i].char_start) == 0);
        CHECK(utf8_valid(p[i].text, p[i].len));
        if (i > 0) {
            CHECK(p[i].char_start > p[i - 1].char_start); /* progress, in order */
            CHECK(p[i].char_end > p[i - 1].char_end);
            int new_section = t[p[i].char_start] == '#';
            if (new_section) {
                CHECK(p[i].char_start >= p[i - 1].char_end);
                CHECK_EQ_INT(p[i].context_len, 0);
            } else if (p[i].char_start < p[i - 1].char_end) {
                CHECK(count_ws_words(t, p[i].char_start, p[i - 1].char_end) <= PASSAGE_OVERLAP_WORDS);
            }
        }
    }
    for (size_t k = covered; k < len; k++)
        CHECK(is_space_c(t[k]));
}

TEST(ingest_passages_properties_on_long_documents)
{
    for (uint32_t seed = 1; seed <= 6; seed++) {
        size_t len;
        char *t = make_doc(seed, 12, &len);
        struct passage *p;
        int n;
        CHECK_EQ_INT(passages_split(t, len, NULL, 0, &p, &n), DP_OK);
        CHECK(n > 10);
        check_split(t, len, p, n, 1);
        /* Overlap: within a section, consecutive passages share text most of the time. */
        int same_section = 0, overlapping = 0;
        for (int i = 1; i < n; i++) {
            if (t[p[i].char_start] == '#')
                continue;
            same_section++;
            overlapping += p[i].char_start < p[i - 1].char_end;
            CHECK(p[i].context_len > 0);
            CHECK(strncmp(p[i].text, "Section ", 8) == 0); /* the heading as context, without #s */
        }
        CHECK(same_section > 0 && overlapping * 10 >= same_section * 8);
        /* Deterministic. */
        struct passage *q;
        int m;
        CHECK_EQ_INT(passages_split(t, len, NULL, 0, &q, &m), DP_OK);
        CHECK_EQ_INT(m, n);
        for (int i = 0; i < n; i++)
            CHECK(q[i].char_start == p[i].char_start && q[i].char_end == p[i].char_end &&
                  strcmp(q[i].text, p[i].text) == 0);
        passages_free(q, m);
        passages_free(p, n);
        free(t);
    }
}

TEST(ingest_passages_empty_and_short)
{
    struct passage *p;
    int n;
    CHECK_EQ_INT(passages_split("", 0, NULL, 0, &p, &n), DP_OK);
    CHECK(p == NULL && n == 0);
    CHECK_EQ_INT(passages_split(" \n\n\t ", 5, NULL, 0, &p, &n), DP_OK);
    CHECK(p == NULL && n == 0);
    const char *t = "  Just one short line.  ";
    CHECK_EQ_INT(passages_split(t, strlen(t), NULL, 0, &p, &n), DP_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(p[0].text, "Just one short line.");
    CHECK_EQ_INT(p[0].char_start, 2);
    CHECK_EQ_INT(p[0].char_end, 22);
    CHECK_EQ_INT(p[0].page, 0);
    CHECK_EQ_INT(p[0].words, 4);
    passages_free(p, n);
    passages_free(NULL, 0);
}

/* n sentences of 10 words each, as one paragraph per `per_para` sentences. */
static void add_sentences(struct buf *b, int n, int per_para, const char *word)
{
    for (int i = 0; i < n; i++) {
        buf_printf(b, "Sentence %d", i);
        for (int w = 0; w < 7; w++)
            buf_printf(b, " %s", word);
        buf_printf(b, " end.%s", (i + 1) % per_para == 0 ? "\n\n" : " ");
    }
}

TEST(ingest_passages_headings_start_passages)
{
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "# Intro\n\nA short intro.\n\n# Long Part\n\n");
    add_sentences(&b, 60, 5, "words"); /* 600 words */
    buf_printf(&b, "### Last\n\nThe end.");
    struct passage *p;
    int n;
    CHECK_EQ_INT(passages_split(b.data, b.len, NULL, 0, &p, &n), DP_OK);
    check_split(b.data, b.len, p, n, 1);
    CHECK(n >= 4);
    CHECK_EQ_STR(p[0].text, "# Intro\n\nA short intro.");
    CHECK_EQ_INT(p[0].context_len, 0);
    CHECK(strncmp(p[1].text, "# Long Part\n\nSentence 0 ", 24) == 0);
    CHECK(strncmp(p[2].text, "Long Part\n\n", 11) == 0); /* context prepended */
    CHECK_EQ_INT(p[2].context_len, 11);
    CHECK_EQ_STR(p[n - 1].text, "### Last\n\nThe end.");
    passages_free(p, n);
    buf_cleanup(&b);
}

TEST(ingest_passages_title_lines_and_lists)
{
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "Chapter One\n\n");
    add_sentences(&b, 40, 4, "alpha");
    buf_printf(&b, "Chapter Two\n\nShort tail text.\n\n");
    /* Five short lines in a row: a list, not five headings. */
    buf_printf(&b, "Apples\n\nPears\n\nPlums\n\nFigs\n\nDates\n\nFinal words of the text.");
    struct passage *p;
    int n;
    CHECK_EQ_INT(passages_split(b.data, b.len, NULL, 0, &p, &n), DP_OK);
    CHECK(n >= 3);
    CHECK(strncmp(p[0].text, "Chapter One\n\nSentence 0 ", 24) == 0);
    CHECK(strncmp(p[1].text, "Chapter One\n\n", 13) == 0 && p[1].context_len == 13);
    int two = -1;
    for (int i = 0; i < n; i++)
        if (strncmp(b.data + p[i].char_start, "Chapter Two", 11) == 0)
            two = i;
    CHECK(two > 0);
    CHECK(p[two].char_start >= p[two - 1].char_end); /* a new section: no overlap */
    CHECK(strstr(p[n - 1].text, "Apples") && strstr(p[n - 1].text, "Dates") && strstr(p[n - 1].text, "Final words"));
    passages_free(p, n);
    buf_cleanup(&b);

    /* A running header repeated on every page is text, not a new section each time. */
    buf_init(&b, 0);
    for (int page = 0; page < 4; page++) {
        buf_printf(&b, "Annual Report\n\n");
        add_sentences(&b, 9, 3, "beta");
    }
    CHECK_EQ_INT(passages_split(b.data, b.len, NULL, 0, &p, &n), DP_OK);
    for (int i = 1; i < n; i++) {
        CHECK(p[i].char_start < p[i - 1].char_end); /* one section: every passage overlaps */
        CHECK(strncmp(p[i].text, "Annual Report\n\n", 15) == 0);
    }
    CHECK(n >= 2);
    passages_free(p, n);
    buf_cleanup(&b);
}

TEST(ingest_passages_pages)
{
    struct buf b;
    buf_init(&b, 0);
    size_t starts[3];
    for (int pg = 0; pg < 3; pg++) {
        if (pg)
            buf_printf(&b, "\n\n");
        starts[pg] = b.len;
        add_sentences(&b, 25, 5, pg == 0 ? "one" : pg == 1 ? "two" : "three");
    }
    struct passage *p;
    int n;
    CHECK_EQ_INT(passages_split(b.data, b.len, starts, 3, &p, &n), DP_OK);
    check_split(b.data, b.len, p, n, 1);
    CHECK(n >= 3);
    CHECK_EQ_INT(p[0].page, 1);
    for (int i = 0; i < n; i++) {
        int want = p[i].char_start >= starts[2] ? 3 : p[i].char_start >= starts[1] ? 2 : 1;
        CHECK_EQ_INT(p[i].page, want);
    }
    CHECK_EQ_INT(p[n - 1].page, 3);
    passages_free(p, n);
    /* Invalid page tables. */
    size_t bad[2] = {10, 5};
    CHECK_EQ_INT(passages_split(b.data, b.len, bad, 2, &p, &n), DP_ERR_INVALID);
    CHECK_EQ_INT(passages_split(b.data, b.len, NULL, 2, &p, &n), DP_ERR_INVALID);
    CHECK_EQ_INT(passages_split(b.data, b.len, starts, -1, &p, &n), DP_ERR_INVALID);
    CHECK(p == NULL && n == 0);
    buf_cleanup(&b);
}

TEST(ingest_passages_with_extracted_pdf_pages)
{
    if (!have_program("pdftotext"))
        SKIP("pdftotext (poppler-utils) is not installed");
    struct extracted x;
    extract_ok("two-page.pdf", "application/pdf", NULL, &x);
    struct passage *p;
    int n;
    CHECK_EQ_INT(passages_split(x.text, x.len, x.page_starts, x.npages, &p, &n), DP_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(p[0].page, 1);
    CHECK_EQ_INT(p[0].char_end, x.len);
    passages_free(p, n);
    extracted_cleanup(&x);
}

TEST(ingest_passages_long_sentences_and_cjk)
{
    /* One 1000-word sentence without punctuation: pieces, each passage within bounds. */
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "%sword%d", i ? " " : "", i);
    struct passage *p;
    int n;
    CHECK_EQ_INT(passages_split(b.data, b.len, NULL, 0, &p, &n), DP_OK);
    check_split(b.data, b.len, p, n, 1);
    CHECK(n >= 4);
    passages_free(p, n);
    buf_cleanup(&b);

    /* CJK without spaces: every character is a word; cuts only between characters. */
    buf_init(&b, 0);
    for (int i = 0; i < 400; i++)
        buf_printf(&b, "漢字仮名交じり文。");
    CHECK_EQ_INT(passages_split(b.data, b.len, NULL, 0, &p, &n), DP_OK);
    CHECK(n >= 10);
    size_t covered = 0;
    for (int i = 0; i < n; i++) {
        CHECK(utf8_valid(p[i].text, p[i].len));
        CHECK(p[i].words <= PASSAGE_MAX_WORDS);
        CHECK(p[i].char_start <= covered);
        covered = p[i].char_end;
        CHECK((p[i].char_start % 3) == 0 && (p[i].char_end % 3) == 0);
    }
    CHECK_EQ_INT(covered, b.len);
    passages_free(p, n);
    buf_cleanup(&b);

    /* A long run of two-byte characters without spaces is cut at character boundaries. */
    buf_init(&b, 0);
    for (int i = 0; i < 40000; i++)
        buf_printf(&b, "é");
    CHECK_EQ_INT(passages_split(b.data, b.len, NULL, 0, &p, &n), DP_OK);
    CHECK(n >= 1);
    for (int i = 0; i < n; i++) {
        CHECK(utf8_valid(p[i].text, p[i].len));
        CHECK(p[i].words <= PASSAGE_MAX_WORDS);
    }
    CHECK_EQ_INT(p[n - 1].char_end, b.len);
    passages_free(p, n);
    buf_cleanup(&b);
}

TEST(ingest_passages_sentence_boundaries)
{
    /* 30 sentences of ~12 words with abbreviations: passages end at sentence ends, never after
     * "Dr." or an initial. */
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < 40; i++)
        buf_printf(&b, "Then Dr. Smith met J. R. Jones, e.g. at the U.S. office on day %d of many. ", i);
    struct passage *p;
    int n;
    CHECK_EQ_INT(passages_split(b.data, b.len, NULL, 0, &p, &n), DP_OK);
    check_split(b.data, b.len, p, n, 1);
    CHECK(n >= 2);
    for (int i = 0; i < n; i++) {
        CHECK(strncmp(b.data + p[i].char_end - 8, "of many.", 8) == 0 || p[i].char_end == b.len - 1);
        CHECK(strncmp(b.data + p[i].char_start, "Then Dr.", 8) == 0);
    }
    passages_free(p, n);
    buf_cleanup(&b);
}

/* ---- images --------------------------------------------------------------------------------- */

static void check_image(const char *name, enum image_format f, const char *mime, uint32_t w, uint32_t h,
                        size_t max_prefix)
{
    size_t n;
    uint8_t *p = (uint8_t *)read_all(fixture(name), &n);
    CHECK(p != NULL && n > 0);
    struct image_info info;
    CHECK_EQ_INT(image_info(p, n, &info), DP_OK);
    CHECK_EQ_INT(info.format, f);
    CHECK_EQ_STR(info.mime, mime);
    CHECK_EQ_INT(info.width, w);
    CHECK_EQ_INT(info.height, h);
    /* Truncation: some prefix is enough; every shorter one is refused, every longer one works. */
    size_t need = 0;
    while (need <= n && image_info(p, need, &info) != DP_OK) {
        CHECK_EQ_INT(info.width, 0);
        need++;
    }
    CHECK(need <= max_prefix);
    for (size_t k = need; k <= n; k++) {
        CHECK_EQ_INT(image_info(p, k, &info), DP_OK);
        CHECK_EQ_INT(info.width, w);
    }
    free(p);
}

TEST(ingest_image_png)
{
    check_image("tiny.png", IMAGE_PNG, "image/png", 7, 5, 29);
}

TEST(ingest_image_jpeg)
{
    check_image("tiny.jpg", IMAGE_JPEG, "image/jpeg", 9, 4, 400);
    check_image("progressive.jpg", IMAGE_JPEG, "image/jpeg", 6, 11, 400);
}

TEST(ingest_image_gif)
{
    check_image("tiny.gif", IMAGE_GIF, "image/gif", 3, 2, 13);
}

TEST(ingest_image_webp)
{
    check_image("lossy.webp", IMAGE_WEBP, "image/webp", 1, 1, 30);
    check_image("lossless.webp", IMAGE_WEBP, "image/webp", 1, 1, 25);
    check_image("alpha.webp", IMAGE_WEBP, "image/webp", 1, 1, 30);
}

TEST(ingest_image_garbage)
{
    struct image_info info;
    CHECK_EQ_INT(image_info(NULL, 0, &info), DP_ERR_INVALID);
    CHECK_EQ_INT(image_info((const uint8_t *)"", 0, &info), DP_ERR_INVALID);
    CHECK_EQ_INT(image_info((const uint8_t *)"hello world, not an image", 25, &info), DP_ERR_INVALID);
    /* PNG whose first chunk is not IHDR, or with a zero width. */
    const uint8_t png_bad[] = "\x89PNG\r\n\x1a\n\0\0\0\x0dIDAT\0\0\0\x07\0\0\0\x05\x08\x02\0\0\0";
    CHECK_EQ_INT(image_info(png_bad, sizeof png_bad - 1, &info), DP_ERR_INVALID);
    const uint8_t png_zero[] = "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\0\0\0\0\x05\x08\x02\0\0\0";
    CHECK_EQ_INT(image_info(png_zero, sizeof png_zero - 1, &info), DP_ERR_INVALID);
    /* JPEG: a segment length under 2, one running past the end, scan data before a frame. */
    const uint8_t j1[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x01, 0xff, 0xc0};
    CHECK_EQ_INT(image_info(j1, sizeof j1, &info), DP_ERR_INVALID);
    const uint8_t j2[] = {0xff, 0xd8, 0xff, 0xe0, 0xff, 0xff, 0x00};
    CHECK_EQ_INT(image_info(j2, sizeof j2, &info), DP_ERR_INVALID);
    const uint8_t j3[] = {0xff, 0xd8, 0xff, 0xda, 0x00, 0x08, 1, 2, 3, 4, 5, 6};
    CHECK_EQ_INT(image_info(j3, sizeof j3, &info), DP_ERR_INVALID);
    const uint8_t j4[] = {0xff, 0xd8, 0xff, 0xc0, 0x00, 0x08, 8, 0, 0, 0, 5, 1}; /* height 0 (DNL) */
    CHECK_EQ_INT(image_info(j4, sizeof j4, &info), DP_ERR_INVALID);
    const uint8_t j5[] = {0xff, 0xd8, 0xff, 0xff, 0xff, 0xc2, 0x00, 0x08, 8, 0, 3, 0, 5, 1}; /* fill bytes */
    CHECK_EQ_INT(image_info(j5, sizeof j5, &info), DP_OK);
    CHECK(info.width == 5 && info.height == 3);
    /* GIF with another version, WebP with an unknown chunk. */
    CHECK_EQ_INT(image_info((const uint8_t *)"GIF88a\x01\0\x01\0\0\0\0", 13, &info), DP_ERR_INVALID);
    CHECK_EQ_INT(image_info((const uint8_t *)"RIFF\x20\0\0\0WEBPVP8Z\x10\0\0\0\0\0\0\0\0\0\0\0\0\0", 30, &info),
                 DP_ERR_INVALID);
    CHECK_EQ_INT(image_info((const uint8_t *)"RIFF\x20\0\0\0WAVEfmt \x10\0\0\0\0\0\0\0\0\0\0\0\0\0", 30, &info),
                 DP_ERR_INVALID);
    CHECK_EQ_INT(info.format, IMAGE_UNKNOWN);
    CHECK(info.mime == NULL);
}

/* ---- fuzz corpora --------------------------------------------------------------------------- */

/* Calls fn on every file of fuzz/corpus/<target>; returns how many. */
static int replay(const char *target, void (*fn)(const uint8_t *, size_t))
{
    char rel[256];
    snprintf(rel, sizeof rel, "fuzz/corpus/%s", target);
    char dirpath[8192];
    snprintf(dirpath, sizeof dirpath, "%s", repo_path(rel));
    DIR *d = opendir(dirpath);
    if (!d)
        return 0;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[8192 + 256];
        snprintf(path, sizeof path, "%s/%s", dirpath, e->d_name);
        size_t n;
        char *p = read_all(path, &n);
        if (!p)
            continue;
        fn((const uint8_t *)p, n);
        free(p);
        count++;
    }
    closedir(d);
    return count;
}

static void html_one(const uint8_t *p, size_t n)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    int rc = extract_html((const char *)p, n, &b);
    CHECK(rc == DP_OK || rc == DP_ERR_TOO_LARGE);
    CHECK(b.len == 0 || utf8_valid(b.data, b.len));
    buf_cleanup(&b);
    buf_init(&b, 1 << 20);
    rc = extract_markdown((const char *)p, n, &b);
    CHECK(rc == DP_OK || rc == DP_ERR_TOO_LARGE);
    CHECK(b.len == 0 || utf8_valid(b.data, b.len));
    buf_cleanup(&b);
}

static void image_one(const uint8_t *p, size_t n)
{
    struct image_info info;
    if (image_info(p, n, &info) == DP_OK)
        CHECK(info.width > 0 && info.height > 0 && info.mime != NULL);
}

TEST(ingest_fuzz_corpora_replay)
{
    CHECK(replay("fuzz_ingest_html", html_one) > 0);
    CHECK(replay("fuzz_ingest_image", image_one) > 0);
}
