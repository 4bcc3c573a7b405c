/* viz_collector_collect_scalar_id called from C through libviz.so: per-call latency (rdtsc)
 * and the untimed mean, with no consumer (Manual strategy, staging of 1) as in the
 * Rust bench's `ffi` section. Run: bash benches/c/run.sh */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <x86intrin.h>

#include "viz.h"

#define PER_ROUND 9000
#define ROUNDS 100

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void) {
    const char *config =
        "{\"collector\": {\"strategy\": \"manual\", \"buffer_capacity\": 1, \"batch_size\": 1,"
        " \"max_queue_length\": 9002}, \"backends\": [\"memory://?capacity=1\"]}";
    /* Calibrate the TSC against the monotonic clock. */
    double t0 = now_ns();
    unsigned long long c0 = __rdtsc();
    struct timespec pause = {0, 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
    double ticks_per_ns = (double)(__rdtsc() - c0) / (now_ns() - t0);

    static double samples[ROUNDS * PER_ROUND], timer[1000000];
    double means[ROUNDS];
    size_t n = 0;
    for (int round = 0; round <= ROUNDS; round++) {
        for (int timed = 1; timed >= 0; timed--) {
            viz_collector *c = NULL;
            uint32_t tag = 0;
            if (viz_collector_new(config, &c) != VIZ_STATUS_OK || viz_collector_tag_intern(c, "bench/c", &tag) != VIZ_STATUS_OK) {
                fprintf(stderr, "setup failed\n");
                return 1;
            }
            viz_collector_collect_scalar_id(c, tag, -2, 0.5);
            nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL);
            viz_collector_collect_scalar_id(c, tag, -1, 0.5);
            double start = now_ns();
            for (int64_t step = 0; step < PER_ROUND; step++) {
                if (timed) {
                    unsigned long long a = __rdtsc();
                    viz_status s = viz_collector_collect_scalar_id(c, tag, step, 0.5);
                    unsigned long long b = __rdtsc();
                    if (s != VIZ_STATUS_OK) return 1;
                    if (round > 0) samples[n++] = (double)(b - a) / ticks_per_ns;
                } else if (viz_collector_collect_scalar_id(c, tag, step, 0.5) != VIZ_STATUS_OK) {
                    return 1;
                }
            }
            if (!timed && round > 0) means[round - 1] = (now_ns() - start) / PER_ROUND;
            viz_collector_close(c, 10000);
        }
    }
    for (size_t i = 0; i < 1000000; i++) {
        unsigned long long a = __rdtsc();
        unsigned long long b = __rdtsc();
        timer[i] = (double)(b - a) / ticks_per_ns;
    }
    qsort(samples, n, sizeof samples[0], cmp);
    qsort(means, ROUNDS, sizeof means[0], cmp);
    qsort(timer, 1000000, sizeof timer[0], cmp);
    printf("timer alone:                   p50 %.0f ns  p99 %.0f ns\n", timer[500000], timer[990000]);
    printf("viz_collector_collect_scalar_id from C:  p50 %.0f ns  p99 %.0f ns  p99.9 %.0f ns  (n=%zu)\n", samples[n / 2],
           samples[n * 99 / 100], samples[n * 999 / 1000], n);
    printf("untimed tight-loop mean:       %.1f ns per call (median of %d rounds)\n", means[ROUNDS / 2], ROUNDS);
    return 0;
}
