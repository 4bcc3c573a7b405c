/* A training loop in C: scalars every step, a histogram every 1000 steps, through
 * libviz. Run: bash examples/c/run.sh [steps] */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "viz.h"

/* Prints the failing call and viz's message, then exits. */
static void check(viz_status status, const char *what) {
    if (status != VIZ_STATUS_OK) {
        char message[512];
        viz_last_error_message(message, sizeof message);
        fprintf(stderr, "%s failed (status %d): %s\n", what, (int)status, message);
        exit(1);
    }
}

/* A live watch's state: updated on viz's watch thread, read after the collector closed. */
struct watched {
    atomic_long histograms;
    atomic_llong last_step;
};

static void on_histograms(void *userdata, const viz_event *events, size_t len) {
    struct watched *w = userdata;
    atomic_fetch_add(&w->histograms, (long)len);
    if (len > 0) atomic_store(&w->last_step, events[len - 1].step);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    long steps = argc > 1 ? atol(argv[1]) : 100000;
    if (viz_abi_version() != VIZ_ABI_VERSION) {
        fprintf(stderr, "libviz ABI %u, header ABI %u\n", viz_abi_version(), VIZ_ABI_VERSION);
        return 1;
    }

    viz_collector *collector = NULL;
    check(viz_collector_new("{\"backends\": [\"memory://?capacity=100000\"]}", &collector), "viz_collector_new");

    /* A live watch on the histograms, as they are delivered. */
    static struct watched watched;
    viz_subscription *watch = NULL;
    check(viz_collector_subscribe(collector, "{\"kinds\": [\"histogram\"]}", on_histograms, &watched, NULL, &watch),
          "viz_collector_subscribe");

    /* Intern tags once, outside the loop: the hot path then passes an integer. */
    uint32_t loss, accuracy, lr;
    check(viz_collector_tag_intern(collector, "train/loss", &loss), "viz_collector_tag_intern");
    check(viz_collector_tag_intern(collector, "train/accuracy", &accuracy), "viz_collector_tag_intern");
    check(viz_collector_tag_intern(collector, "train/learning_rate", &lr), "viz_collector_tag_intern");

    double weights[256];
    long events = 0;
    double start = now();
    for (long step = 0; step < steps; step++) {
        double t = (double)step / (double)steps;
        check(viz_collector_collect_scalar_id(collector, loss, step, 2.5 * exp(-4.0 * t) + 0.05), "collect loss");
        check(viz_collector_collect_scalar_id(collector, accuracy, step, 1.0 - 0.9 * exp(-5.0 * t)), "collect accuracy");
        check(viz_collector_collect_scalar_id(collector, lr, step, 1e-3 * (1.0 - t)), "collect lr");
        events += 3;
        if (step % 1000 == 0) {
            for (int i = 0; i < 256; i++) weights[i] = sin((double)(i + step)) * (1.0 - t);
            viz_event histogram;
            memset(&histogram, 0, sizeof histogram);
            histogram.kind = VIZ_EVENT_KIND_HISTOGRAM;
            histogram.tag = "train/weights";
            histogram.step = step;
            histogram.values = weights;
            histogram.values_len = 256;
            histogram.bins = 30;
            check(viz_collector_collect(collector, &histogram), "collect histogram");
            events += 1;
        }
    }
    double loop = now() - start;
    check(viz_collector_flush(collector, 60000), "viz_collector_flush");
    double total = now() - start;

    viz_stats stats;
    check(viz_collector_stats(collector, &stats), "viz_collector_stats");
    printf("libviz %s (ABI %u)\n", viz_version(), viz_abi_version());
    printf("steps %ld, events %ld\n", steps, events);
    printf("loop %.3f s: %.2f M events/s collected; %.3f s until flush confirmed\n", loop,
           (double)events / loop / 1e6, total);
    printf("stats: collected %llu, written %llu, dropped %llu, deliveries %llu, peak queue %llu\n",
           (unsigned long long)stats.collected, (unsigned long long)stats.written,
           (unsigned long long)(stats.dropped_oldest + stats.dropped_newest + stats.dropped_block_timeout),
           (unsigned long long)stats.deliveries, (unsigned long long)stats.peak_queue_len);
    for (uint64_t i = 0; i < stats.destinations; i++) {
        viz_destination_stats d;
        check(viz_collector_destination_stats(collector, i, &d), "viz_collector_destination_stats");
        printf("  %s: written %llu, dropped %llu, retries %llu, failed calls %llu\n", d.name,
               (unsigned long long)d.written, (unsigned long long)d.dropped,
               (unsigned long long)d.retries, (unsigned long long)d.failed_batches);
    }
    /* A query: the three latest losses, read through a cursor. */
    viz_cursor *cursor = NULL;
    check(viz_collector_query(collector, 0, "{\"tags\": [\"train/loss\"], \"order\": \"step_desc\", \"limit\": 3}",
                              &cursor),
          "viz_collector_query");
    viz_event_list *latest = NULL;
    check(viz_cursor_next(cursor, 3, &latest), "viz_cursor_next");
    for (size_t i = 0; i < viz_event_list_len(latest); i++) {
        const viz_event *e = viz_event_list_get(latest, i);
        printf("latest: step %lld loss %.4f\n", (long long)e->step, e->scalar);
    }
    viz_event_list_free(latest);
    viz_cursor_free(cursor);
    check(viz_collector_close(collector, 10000), "viz_collector_close");
    printf("watched live: %ld histograms, the last at step %lld\n", atomic_load(&watched.histograms),
           (long long)atomic_load(&watched.last_step));
    viz_subscription_free(watch);
    return stats.written == (unsigned long long)events ? 0 : 1;
}
