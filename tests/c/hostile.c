/* Hostile input through the C ABI: sizes that would make viz allocate more than the
 * process has, configs with absurd sizes, wall times viz_collector_collect refuses, and
 * histograms of finite values at the edges of double. Each must be an error naming
 * the field (or a valid event), never an abort. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

int main(void) {
    viz_collector *c = NULL;
    expect(viz_collector_new("{\"backends\": [\"memory://\"]}", &c), VIZ_STATUS_OK, NULL);
    uint8_t small[16] = {0};

    /* Sizes past their bound are refused before anything is copied. */
    double values[] = {1, 2, 3};
    viz_event e = base_event(VIZ_EVENT_KIND_HISTOGRAM, "h/bins", 1);
    e.values = values;
    e.values_len = 3;
    e.bins = UINT32_MAX;
    expect(viz_collector_collect(c, &e), VIZ_STATUS_INVALID_ARGUMENT, "event.bins is 4294967295; the limit is 65536");
    e = base_event(VIZ_EVENT_KIND_HISTOGRAM, "h/buckets", 1);
    e.bucket_limits = values;
    e.bucket_counts = values;
    e.buckets_len = SIZE_MAX;
    expect(viz_collector_collect(c, &e), VIZ_STATUS_INVALID_ARGUMENT, "event.buckets_len");
    e = base_event(VIZ_EVENT_KIND_TENSOR, "t/huge", 1);
    uint64_t shape[] = {1u << 20, 1u << 20};
    e.shape = shape;
    e.shape_len = 2;
    e.data = small;
    e.data_len = SIZE_MAX;
    expect(viz_collector_collect(c, &e), VIZ_STATUS_INVALID_ARGUMENT, "event.data_len");
    e.data_len = 16;
    e.shape_len = SIZE_MAX;
    expect(viz_collector_collect(c, &e), VIZ_STATUS_INVALID_ARGUMENT, "event.shape_len");
    e = base_event(VIZ_EVENT_KIND_RAW, "r/huge", 1);
    e.content_type = "application/octet-stream";
    e.data = small;
    e.data_len = (size_t)1 << 40;
    expect(viz_collector_collect(c, &e), VIZ_STATUS_INVALID_ARGUMENT, "the limit is 67108864");
    e = base_event(VIZ_EVENT_KIND_IMAGE, "i/huge", 1);
    e.data = small;
    e.data_len = SIZE_MAX / 2;
    e.width = e.height = 1;
    e.channels = 4;
    expect(viz_collector_collect(c, &e), VIZ_STATUS_INVALID_ARGUMENT, "event.data_len");
    viz_event one = base_event(VIZ_EVENT_KIND_SCALAR, "s", 1);
    size_t accepted = 7;
    expect(viz_collector_collect_batch(c, &one, SIZE_MAX, &accepted), VIZ_STATUS_INVALID_ARGUMENT, "len is");

    /* Finite input always gives a valid histogram. */
    double close[] = {1.0, nextafter(1.0, 2.0)};
    e = base_event(VIZ_EVENT_KIND_HISTOGRAM, "h/close", 2);
    e.values = close;
    e.values_len = 2;
    expect(viz_collector_collect(c, &e), VIZ_STATUS_OK, NULL);
    double wide[] = {-1e308, 1e308, 0.0};
    e.tag = "h/wide";
    e.values = wide;
    e.values_len = 3;
    e.bins = 7;
    expect(viz_collector_collect(c, &e), VIZ_STATUS_OK, NULL);
    double extremes[] = {-DBL_MAX, DBL_MAX};
    e.tag = "h/extremes";
    e.values = extremes;
    e.values_len = 2;
    e.bins = 65536;
    expect(viz_collector_collect(c, &e), VIZ_STATUS_OK, NULL);

    /* Non-finite scalars are data, not errors: they round-trip. */
    viz_event nan = base_event(VIZ_EVENT_KIND_SCALAR, "s/nan", 3);
    nan.scalar = NAN;
    expect(viz_collector_collect(c, &nan), VIZ_STATUS_OK, NULL);
    expect(viz_collector_flush(c, 10000), VIZ_STATUS_OK, NULL);
    viz_event_list *got = NULL;
    expect(viz_collector_get_events(c, 0, 2, 3, &got), VIZ_STATUS_OK, NULL);
    CHECK(viz_event_list_len(got) == 4);
    const viz_event *h = viz_event_list_get(got, 0);
    CHECK(h != NULL && h->buckets_len >= 1 && h->bucket_limits[h->buckets_len - 1] == close[1]);
    h = viz_event_list_get(got, 1);
    CHECK(h != NULL && h->buckets_len == 7 && h->bucket_counts[0] == 1 && h->bucket_counts[6] == 1);
    const viz_event *s = viz_event_list_get(got, 3);
    CHECK(s != NULL && isnan(s->scalar));
    viz_event_list_free(got);
    expect(viz_collector_close(c, 10000), VIZ_STATUS_OK, NULL);

    /* Absurd sizes in a config are refused, naming the field. */
    viz_collector *bad = NULL;
    expect(viz_collector_new("{\"collector\": {\"max_queue_length\": 1099511627776}, \"backends\": [\"memory://\"]}", &bad),
           VIZ_STATUS_INVALID_CONFIG, "max_queue_length is 1099511627776; the limit is");
    expect(viz_collector_new("{\"collector\": {\"buffer_capacity\": 1099511627776, \"batch_size\": 10}, \"backends\": [\"memory://\"]}", &bad),
           VIZ_STATUS_INVALID_CONFIG, "buffer_capacity is 1099511627776");
    expect(viz_collector_new("{\"collector\": {\"destination_queue_batches\": 1099511627776}, \"backends\": [\"memory://\"]}", &bad),
           VIZ_STATUS_INVALID_CONFIG, "destination_queue_batches is 1099511627776");
    expect(viz_collector_new("{\"collector\": {\"flush_interval_ms\": 18446744073709551615}, \"backends\": [\"memory://\"]}", &bad),
           VIZ_STATUS_INVALID_CONFIG, "flush_interval is");
    CHECK(bad == NULL);
    viz_collector_config config;
    expect(viz_collector_config_default(&config), VIZ_STATUS_OK, NULL);
    CHECK(config.block_timeout_ms == 1000 && config.max_held_bytes == 256u << 20);
    config.max_queue_length = (size_t)1 << 40;
    const char *memory = "memory://";
    expect(viz_collector_new_with(&config, &memory, 1, &bad), VIZ_STATUS_INVALID_CONFIG, "max_queue_length");
    expect(viz_collector_config_default(&config), VIZ_STATUS_OK, NULL);
    config.max_held_bytes = 1;
    expect(viz_collector_new_with(&config, &memory, 1, &bad), VIZ_STATUS_INVALID_CONFIG, "max_held_bytes is 1");
    CHECK(bad == NULL);

    /* viz_storage_store validates like viz_collector_collect: no NaN, infinite or negative wall time. */
    viz_storage *st = NULL;
    expect(viz_storage_open(NULL, "memory://", &st), VIZ_STATUS_OK, NULL);
    viz_event when = base_event(VIZ_EVENT_KIND_SCALAR, "w", 1);
    double walls[] = {NAN, INFINITY, -1.0};
    for (int i = 0; i < 3; i++) {
        when.wall_time = walls[i];
        expect(viz_storage_store(st, &when, 1), VIZ_STATUS_INVALID_ARGUMENT, "wall_time");
    }
    expect(viz_storage_store(st, &when, SIZE_MAX), VIZ_STATUS_INVALID_ARGUMENT, "len is");
    uint64_t n = 99;
    expect(viz_storage_event_count(st, &n), VIZ_STATUS_OK, NULL);
    CHECK(n == 0);
    viz_storage_free(st);

    if (failures != 0) {
        fprintf(stderr, "hostile: %d failure(s)\n", failures);
        return 1;
    }
    printf("hostile: ok\n");
    return 0;
}
