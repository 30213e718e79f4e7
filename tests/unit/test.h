/* The unit-test framework: TEST(name) registers a test; each runs in its own forked process. */
#ifndef DP_TEST_H
#define DP_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_case {
    const char *name;
    void (*fn)(void);
    struct test_case *next;
};

void test_register(struct test_case *t);

#define TEST(name)                                                                                                     \
    static void test_##name(void);                                                                                     \
    static struct test_case test_case_##name = {#name, test_##name, NULL};                                             \
    __attribute__((constructor)) static void test_reg_##name(void)                                                     \
    {                                                                                                                  \
        test_register(&test_case_##name);                                                                              \
    }                                                                                                                  \
    static void test_##name(void)

/* A failed check prints file:line and ends the (forked) test with status 1. */
#define CHECK(x)                                                                                                       \
    do {                                                                                                               \
        if (!(x)) {                                                                                                    \
            fprintf(stderr, "    %s:%d: check failed: %s\n", __FILE__, __LINE__, #x);                                  \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                                             \
    do {                                                                                                               \
        long long a_ = (long long)(a), b_ = (long long)(b);                                                            \
        if (a_ != b_) {                                                                                                \
            fprintf(stderr, "    %s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b, a_, b_);         \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                                             \
    do {                                                                                                               \
        const char *a_ = (a), *b_ = (b);                                                                               \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                                       \
            fprintf(stderr, "    %s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, #b,              \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                                           \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

/* Skips the current test, saying why (e.g. a server binary is missing). */
#define SKIP(why)                                                                                                      \
    do {                                                                                                               \
        fprintf(stderr, "    skipped: %s\n", why);                                                                     \
        exit(77);                                                                                                      \
    } while (0)

#endif
