/* Events from 1 KiB to 16 MiB, collected from C under every overflow policy into
 * memory://, file:// and a slow host backend, alone and all three together: every
 * destination ends with collected = written + counted drops, every drop reaches the
 * error callback, flush and close return OK within their timeouts, and the critical
 * events all reach the host backend. */
#define _POSIX_C_SOURCE 200809L /* nanosleep, mkdtemp */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

static atomic_long slow_stored, slow_critical;

static viz_status slow_init(void *userdata, const char *url, void **instance) {
    (void)userdata, (void)url, (void)instance;
    return VIZ_STATUS_OK;
}

/* 5 ms a batch: slow enough that the byte budget fills behind it. */
static viz_status slow_store(void *userdata, const viz_event *events, size_t len) {
    (void)userdata;
    struct timespec pause = {0, 5 * 1000 * 1000};
    nanosleep(&pause, NULL);
    for (size_t i = 0; i < len; i++)
        if (strcmp(events[i].tag, "big/critical") == 0) atomic_fetch_add(&slow_critical, 1);
    atomic_fetch_add(&slow_stored, (long)len);
    return VIZ_STATUS_OK;
}

static atomic_ulong reported;

static void on_error(void *userdata, const viz_error_report *r) {
    (void)userdata;
    if (!r->will_retry) atomic_fetch_add(&reported, r->events);
}

static int is_critical(long step, long count) { return step == count / 2 || step == count - 1; }

static void run_case(size_t size, const char *policy, const char *backends, int has_slow) {
    const uint64_t budget = 24u << 20;
    long count = (long)(3 * budget / size);
    if (count < 6) count = 6;
    if (count > 600) count = 600;
    char config[1024];
    snprintf(config, sizeof config,
             "{\"collector\": {\"overflow\": \"%s\", \"max_held_bytes\": %llu, \"block_timeout_ms\": 20000}, "
             "\"backends\": [%s]}",
             policy, (unsigned long long)budget, backends);
    viz_collector *c = NULL;
    expect(viz_collector_new(config, &c), VIZ_STATUS_OK, NULL);
    if (c == NULL) return;
    atomic_store(&reported, 0);
    atomic_store(&slow_stored, 0);
    atomic_store(&slow_critical, 0);
    expect(viz_collector_on_error(c, on_error, NULL, NULL), VIZ_STATUS_OK, NULL);
    uint8_t *payload = malloc(size);
    memset(payload, 0x5a, size);
    uint64_t refused = 0;
    long critical = 0;
    for (long step = 0; step < count; step++) {
        int crit = is_critical(step, count);
        viz_event e = base_event(VIZ_EVENT_KIND_RAW, crit ? "big/critical" : "big/blob", step);
        e.data = payload;
        e.data_len = size;
        e.content_type = "application/octet-stream";
        e.priority = crit ? VIZ_PRIORITY_CRITICAL : VIZ_PRIORITY_NORMAL;
        critical += crit;
        viz_status s = viz_collector_collect(c, &e);
        if (s == VIZ_STATUS_QUEUE_FULL && !crit) {
            refused++;
        } else if (s != VIZ_STATUS_OK) {
            fprintf(stderr, "%zu bytes, %s: collect of step %ld returned %d\n", size, policy, step, (int)s);
            failures++;
        }
    }
    free(payload);
    time_t started = time(NULL);
    expect(viz_collector_flush(c, 20000), VIZ_STATUS_OK, NULL);
    viz_stats st;
    expect(viz_collector_stats(c, &st), VIZ_STATUS_OK, NULL);
    uint64_t dest_dropped[3] = {0, 0, 0};
    uint64_t dest_written[3] = {0, 0, 0};
    uint64_t n = st.destinations;
    for (uint64_t i = 0; i < n && i < 3; i++) {
        viz_destination_stats d;
        expect(viz_collector_destination_stats(c, i, &d), VIZ_STATUS_OK, NULL);
        dest_dropped[i] = d.dropped;
        dest_written[i] = d.written;
    }
    expect(viz_collector_close(c, 20000), VIZ_STATUS_OK, NULL);
    CHECK(time(NULL) - started < 40);
    uint64_t policy_drops = st.dropped_oldest + st.dropped_newest + st.dropped_block_timeout;
    uint64_t all_drops = policy_drops;
    if (refused != st.dropped_newest + st.dropped_block_timeout) {
        fprintf(stderr, "%zu bytes, %s: %llu refused, counters say %llu\n", size, policy, (unsigned long long)refused,
                (unsigned long long)(st.dropped_newest + st.dropped_block_timeout));
        failures++;
    }
    for (uint64_t i = 0; i < n && i < 3; i++) {
        all_drops += dest_dropped[i];
        if (dest_written[i] + dest_dropped[i] + policy_drops != (uint64_t)count) {
            fprintf(stderr, "%zu bytes, %s, destination %llu: %llu written + %llu dropped + %llu by policy != %ld\n",
                    size, policy, (unsigned long long)i, (unsigned long long)dest_written[i],
                    (unsigned long long)dest_dropped[i], (unsigned long long)policy_drops, count);
            failures++;
        }
    }
    if (atomic_load(&reported) != all_drops) {
        fprintf(stderr, "%zu bytes, %s: %llu drops counted, %llu reported\n", size, policy,
                (unsigned long long)all_drops, (unsigned long long)atomic_load(&reported));
        failures++;
    }
    if (strcmp(policy, "block") == 0 && all_drops != 0) {
        fprintf(stderr, "%zu bytes, block: %llu dropped\n", size, (unsigned long long)all_drops);
        failures++;
    }
    if (has_slow && atomic_load(&slow_critical) != critical) {
        fprintf(stderr, "%zu bytes, %s: %ld of %ld critical events arrived\n", size, policy,
                atomic_load(&slow_critical), critical);
        failures++;
    }
}

int main(void) {
    viz_backend_vtable vt = {.init = slow_init, .store_batch = slow_store};
    expect(viz_backend_register("slowhost", &vt, NULL, NULL), VIZ_STATUS_OK, NULL);
    char dir[] = "/tmp/viz-large-events-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    static const size_t sizes[] = {1u << 10, 64u << 10, 256u << 10, 1u << 20, 4u << 20, 16u << 20};
    static const char *policies[] = {"block", "drop_newest", "drop_oldest"};
    int round = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (size_t p = 0; p < 3; p++) {
            char backends[512];
            /* One destination each (memory, file, slow host in turn), then all three. */
            const char *kinds[] = {"\"memory://\"", "file", "\"slowhost://\""};
            for (int k = 0; k < 4; k++) {
                char file[256];
                snprintf(file, sizeof file, "\"file://%s/r%d?fsync=never&compression=none\"", dir, round++);
                if (k < 3)
                    snprintf(backends, sizeof backends, "%s", k == 1 ? file : kinds[k]);
                else
                    snprintf(backends, sizeof backends, "\"memory://\", %s, \"slowhost://\"", file);
                run_case(sizes[s], policies[p], backends, k >= 2);
            }
        }
    }
    expect(viz_backend_unregister("slowhost"), VIZ_STATUS_OK, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    if (failures != 0) {
        fprintf(stderr, "large_events: %d failure(s)\n", failures);
        return 1;
    }
    printf("large_events: ok\n");
    return 0;
}
