/* Exact vector scan: time to compare one query with every vector of an avatar (100k memories at
 * 384, 768 and 1536 dims), with the 8-sum dot product of src/brain/vectors.c against a plain
 * one-sum loop (the peer: what the compiler makes of the obvious code). Prints figures only.
 * Build and run: bash bench/vectors.sh */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "brain/vectors.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static float plain_dot(const float *a, const float *b, int dims)
{
    float s = 0;
    for (int i = 0; i < dims; i++)
        s += a[i] * b[i];
    return s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median ms of `runs` full scans with dot. */
static double scan(float (*dot)(const float *, const float *, int), const float *m, const float *q, int n, int dims,
                   float *sink)
{
    enum { RUNS = 15 };
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ms();
        float best = -2;
        for (int i = 0; i < n; i++) {
            float s = dot(q, m + (size_t)i * (size_t)dims, dims);
            best = s > best ? s : best;
        }
        t[r] = now_ms() - t0;
        *sink += best;
    }
    qsort(t, RUNS, sizeof *t, cmp_double);
    return t[RUNS / 2];
}

int main(void)
{
    const int n = 100000, dims_list[] = {384, 768, 1536};
    float sink = 0;
    printf("exact scan of %d vectors (float32), one query, median of 15 runs\n", n);
    printf("%6s %10s %12s %12s %10s\n", "dims", "MiB", "8-sum ms", "plain ms", "GB/s");
    for (size_t d = 0; d < sizeof dims_list / sizeof *dims_list; d++) {
        int dims = dims_list[d];
        float *m = malloc((size_t)n * (size_t)dims * sizeof *m), *q = malloc((size_t)dims * sizeof *q);
        if (!m || !q)
            return 1;
        srand(1);
        for (size_t i = 0; i < (size_t)n * (size_t)dims; i++)
            m[i] = (float)rand() / RAND_MAX - 0.5f;
        for (int i = 0; i < dims; i++)
            q[i] = (float)rand() / RAND_MAX - 0.5f;
        double ours = scan(vectors_dot, m, q, n, dims, &sink), plain = scan(plain_dot, m, q, n, dims, &sink);
        double mib = (double)n * dims * 4 / 1048576;
        printf("%6d %10.0f %12.2f %12.2f %10.1f\n", dims, mib, ours, plain, mib * 1.048576 / ours);
        free(m);
        free(q);
    }
    return sink == 12345 ? 1 : 0; /* keeps the scans from being optimised away */
}
