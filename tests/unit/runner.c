/* Unit-test runner: forks each registered test; prints "N passed, N failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static struct test_case *tests_head, **tests_tail = &tests_head;

void test_register(struct test_case *t)
{
    *tests_tail = t;
    tests_tail = &t->next;
}

/* Usage: unit_tests [substring]  — runs the tests whose name contains substring. */
int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0, skipped = 0;
    for (struct test_case *t = tests_head; t; t = t->next) {
        if (filter && !strstr(t->name, filter))
            continue;
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(60);
            t->fn();
            exit(0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            passed++;
            printf("ok   %s\n", t->name);
        } else if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
            skipped++;
            printf("skip %s\n", t->name);
        } else {
            failed++;
            if (WIFSIGNALED(st))
                printf("FAIL %s (signal %d)\n", t->name, WTERMSIG(st));
            else
                printf("FAIL %s (exit %d)\n", t->name, WEXITSTATUS(st));
        }
    }
    if (skipped)
        printf("%d skipped\n", skipped);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
