/* Every event kind through viz_collector_collect, viz_collector_collect_batch, and bad events. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"



/* The smallest header viz checks: signature, IHDR, width and height. */
static const uint8_t PNG_2x1[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13,
                                  'I', 'H', 'D', 'R', 0, 0, 0, 2, 0, 0, 0, 1, 8, 6, 0, 0, 0};

int main(void) {
    viz_collector *c = NULL;
    expect(viz_collector_new("{\"backends\": [\"memory://\"]}", &c), VIZ_STATUS_OK, NULL);

    viz_event scalar = base_event(VIZ_EVENT_KIND_SCALAR, "k/scalar", 1);
    scalar.scalar = 0.25;
    scalar.wall_time = 1700000000.5;
    expect(viz_collector_collect(c, &scalar), VIZ_STATUS_OK, NULL);

    double values[] = {1, 2, 2, 3, 3, 3};
    viz_event hist = base_event(VIZ_EVENT_KIND_HISTOGRAM, "k/hist", 2);
    hist.values = values;
    hist.values_len = 6;
    hist.bins = 3;
    expect(viz_collector_collect(c, &hist), VIZ_STATUS_OK, NULL);

    double limits[] = {1, 2, 3}, counts[] = {1, 2, 3};
    viz_event buckets = base_event(VIZ_EVENT_KIND_HISTOGRAM, "k/buckets", 3);
    buckets.bucket_limits = limits;
    buckets.bucket_counts = counts;
    buckets.buckets_len = 3;
    expect(viz_collector_collect(c, &buckets), VIZ_STATUS_OK, NULL);

    viz_event text = base_event(VIZ_EVENT_KIND_TEXT, "k/text", 4);
    text.text = "hello from C";
    text.priority = VIZ_PRIORITY_CRITICAL;
    expect(viz_collector_collect(c, &text), VIZ_STATUS_OK, NULL);

    viz_event image = base_event(VIZ_EVENT_KIND_IMAGE, "k/image", 5);
    image.data = PNG_2x1;
    image.data_len = sizeof PNG_2x1;
    image.width = 2;
    image.height = 1;
    image.channels = 4;
    expect(viz_collector_collect(c, &image), VIZ_STATUS_OK, NULL);

    float elements[] = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
    uint64_t shape[] = {2, 3};
    viz_event tensor = base_event(VIZ_EVENT_KIND_TENSOR, "k/tensor", 6);
    tensor.dtype = VIZ_DTYPE_F32;
    tensor.shape = shape;
    tensor.shape_len = 2;
    tensor.data = (const uint8_t *)elements;
    tensor.data_len = sizeof elements;
    expect(viz_collector_collect(c, &tensor), VIZ_STATUS_OK, NULL);

    viz_event raw = base_event(VIZ_EVENT_KIND_RAW, "k/raw", 7);
    raw.content_type = "text/csv";
    raw.data = (const uint8_t *)"a,b\n1,2\n";
    raw.data_len = 8;
    expect(viz_collector_collect(c, &raw), VIZ_STATUS_OK, NULL);

    /* A batch that fails at its third event: two are queued, the message says which. */
    viz_event batch[4] = {scalar, scalar, scalar, scalar};
    batch[2].kind = 9;
    size_t accepted = 99;
    expect(viz_collector_collect_batch(c, batch, 4, &accepted), VIZ_STATUS_INVALID_ARGUMENT,
           "events[2]: event.kind is 9; valid values are 0 to 5");
    CHECK(accepted == 2);
    batch[2].kind = VIZ_EVENT_KIND_SCALAR;
    batch[2].tag = NULL;
    expect(viz_collector_collect_batch(c, batch, 4, &accepted), VIZ_STATUS_NULL_ARGUMENT,
           "events[2]: event.tag is NULL");
    CHECK(accepted == 2);
    expect(viz_collector_collect_batch(c, NULL, 0, &accepted), VIZ_STATUS_OK, NULL);
    CHECK(accepted == 0);

    /* Bad events: out-of-range enums and inconsistent payloads, each named. */
    viz_event bad = scalar;
    bad.priority = 7;
    expect(viz_collector_collect(c, &bad), VIZ_STATUS_INVALID_ARGUMENT, "event.priority is 7");
    bad = tensor;
    bad.dtype = 13;
    expect(viz_collector_collect(c, &bad), VIZ_STATUS_INVALID_ARGUMENT, "event.dtype is 13");
    bad = tensor;
    bad.data_len = 20;
    expect(viz_collector_collect(c, &bad), VIZ_STATUS_INVALID_ARGUMENT, "needs 24 bytes but has 20");
    bad = image;
    bad.width = 3;
    expect(viz_collector_collect(c, &bad), VIZ_STATUS_INVALID_ARGUMENT, "declared 3x1 but the PNG header says 2x1");
    bad = hist;
    values[1] = NAN;
    expect(viz_collector_collect(c, &bad), VIZ_STATUS_INVALID_ARGUMENT, "value at index 1 is NaN");
    bad = raw;
    bad.data = NULL;
    expect(viz_collector_collect(c, &bad), VIZ_STATUS_NULL_ARGUMENT, "event.data is NULL");
    bad = text;
    bad.text = "bad\xc3";
    expect(viz_collector_collect(c, &bad), VIZ_STATUS_INVALID_UTF8, "event.text is not valid UTF-8");
    expect(viz_collector_collect(c, NULL), VIZ_STATUS_NULL_ARGUMENT, "event is NULL");

    expect(viz_collector_flush(c, 10000), VIZ_STATUS_OK, NULL);
    viz_stats stats;
    expect(viz_collector_stats(c, &stats), VIZ_STATUS_OK, NULL);
    CHECK(stats.collected == 7 + 2 + 2);
    CHECK(stats.written == 7 + 2 + 2);
    /* Read back steps 2..7: one event of each non-scalar kind, in order. */
    viz_event_list *got = NULL;
    expect(viz_collector_get_events(c, 0, 2, 7, &got), VIZ_STATUS_OK, NULL);
    CHECK(viz_event_list_len(got) == 6);
    const viz_event *e = viz_event_list_get(got, 0);
    CHECK(e != NULL && e->kind == VIZ_EVENT_KIND_HISTOGRAM && strcmp(e->tag, "k/hist") == 0);
    CHECK(e != NULL && e->buckets_len == 3 && e->bucket_counts[2] == 3.0 && e->wall_time > 0);
    e = viz_event_list_get(got, 2);
    CHECK(e != NULL && e->kind == VIZ_EVENT_KIND_TEXT && strcmp(e->text, "hello from C") == 0);
    CHECK(e != NULL && e->priority == VIZ_PRIORITY_CRITICAL);
    e = viz_event_list_get(got, 3);
    CHECK(e != NULL && e->kind == VIZ_EVENT_KIND_IMAGE && e->width == 2 && e->data_len == sizeof PNG_2x1);
    e = viz_event_list_get(got, 4);
    CHECK(e != NULL && e->kind == VIZ_EVENT_KIND_TENSOR && e->dtype == VIZ_DTYPE_F32 && e->shape_len == 2);
    CHECK(e != NULL && e->shape[1] == 3 && memcmp(e->data, elements, sizeof elements) == 0);
    e = viz_event_list_get(got, 5);
    CHECK(e != NULL && e->kind == VIZ_EVENT_KIND_RAW && strcmp(e->content_type, "text/csv") == 0);
    CHECK(viz_event_list_get(got, 6) == NULL);
    viz_event_list_free(got);
    viz_event_list *none = NULL;
    expect(viz_collector_get_events(c, 0, 1, 1, &none), VIZ_STATUS_OK, NULL);
    CHECK(viz_event_list_len(none) == 1 + 4); /* the scalar at step 1 and the batch's four */
    e = viz_event_list_get(none, 0);
    CHECK(e != NULL && e->kind == VIZ_EVENT_KIND_SCALAR && e->scalar == 0.25 && e->wall_time == 1700000000.5);
    viz_event_list_free(none);
    expect(viz_collector_get_events(c, 5, 0, 10, &none), VIZ_STATUS_INVALID_ARGUMENT, "index 5 is out of range");
    expect(viz_collector_get_events(c, 0, 0, 10, NULL), VIZ_STATUS_NULL_ARGUMENT, "out is NULL");
    CHECK(viz_event_list_len(NULL) == 0 && viz_event_list_get(NULL, 0) == NULL);
    viz_event_list_free(NULL);

    expect(viz_collector_close(c, 10000), VIZ_STATUS_OK, NULL);

    if (failures != 0) {
        fprintf(stderr, "events: %d failure(s)\n", failures);
        return 1;
    }
    printf("events: ok\n");
    return 0;
}
