/* Aggregates, downsampling and latest values through the C ABI, from a collector's
 * file:// log (answered by its tag index), its sqlite:// file (answered by SQL) and a
 * memory:// storage handle (answered by a scan): the same numbers every way, and bad
 * input refused by name. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* train/loss = step for steps 0..999 (one NaN at step 500), eval/acc = 2 * step. */
static void fill(viz_collector *c) {
    for (int64_t step = 0; step < 1000; step++) {
        CHECK(viz_collector_collect_scalar(c, "train/loss", step, step == 500 ? NAN : (double)step) == VIZ_STATUS_OK);
        CHECK(viz_collector_collect_scalar(c, "eval/acc", step, 2.0 * (double)step) == VIZ_STATUS_OK);
    }
    expect(viz_collector_flush(c, 10000), VIZ_STATUS_OK, NULL);
}

static void check_aggregates(const viz_aggregate_list *list) {
    CHECK(viz_aggregate_list_len(list) == 2);
    const viz_aggregate *acc = viz_aggregate_list_get(list, 0), *loss = viz_aggregate_list_get(list, 1);
    CHECK(acc != NULL && loss != NULL && viz_aggregate_list_get(list, 2) == NULL);
    if (acc == NULL || loss == NULL) return;
    CHECK(strcmp(acc->tag, "eval/acc") == 0 && acc->count == 1000 && acc->min == 0.0 && acc->max == 1998.0);
    CHECK(acc->mean == 999.0 && acc->first_step == 0 && acc->last_step == 999 && acc->last == 1998.0);
    /* The NaN counts, but is left out of min, max and mean. */
    CHECK(strcmp(loss->tag, "train/loss") == 0 && loss->count == 1000 && loss->max == 999.0);
    CHECK(fabs(loss->mean - (999.0 * 1000.0 / 2.0 - 500.0) / 999.0) < 1e-9);
}

static void check_buckets(const viz_bucket_list *list) {
    CHECK(viz_bucket_list_len(list) == 10);
    const viz_bucket *b = viz_bucket_list_get(list, 3);
    CHECK(b != NULL && b->first_step == 300 && b->last_step == 399 && b->count == 100);
    CHECK(b != NULL && b->min == 300.0 && b->max == 399.0 && b->mean == 349.5);
    CHECK(viz_bucket_list_get(list, 10) == NULL);
}

static void check_latest(const viz_event_list *list) {
    CHECK(viz_event_list_len(list) == 2);
    const viz_event *e = viz_event_list_get(list, 1);
    CHECK(e != NULL && strcmp(e->tag, "train/loss") == 0 && e->step == 999 && e->scalar == 999.0);
}

int main(void) {
    char dir[] = "/tmp/viz-c-aggregate-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char spec[256];
    snprintf(spec, sizeof spec, "{\"backends\": [\"file://%s/log\"]}", dir);
    viz_collector *c = NULL;
    expect(viz_collector_new(spec, &c), VIZ_STATUS_OK, NULL);
    fill(c);

    viz_aggregate_list *aggs = NULL;
    expect(viz_collector_aggregate(c, 0, NULL, &aggs), VIZ_STATUS_OK, NULL);
    check_aggregates(aggs);
    viz_aggregate_list_free(aggs);
    viz_bucket_list *buckets = NULL;
    expect(viz_collector_downsample(c, 0, "{\"tags\": [\"train/*\"]}", 0, 999, 10, &buckets), VIZ_STATUS_OK, NULL);
    check_buckets(buckets);
    viz_bucket_list_free(buckets);
    viz_event_list *latest = NULL;
    expect(viz_collector_latest(c, 0, "{}", &latest), VIZ_STATUS_OK, NULL);
    check_latest(latest);
    viz_event_list_free(latest);

    /* Bad input names what is wrong; nothing is written to out. */
    aggs = NULL;
    expect(viz_collector_aggregate(c, 0, "{\"limit\": 3}", &aggs), VIZ_STATUS_INVALID_ARGUMENT,
           "an aggregate query selects events");
    expect(viz_collector_aggregate(c, 5, NULL, &aggs), VIZ_STATUS_INVALID_ARGUMENT, "destination index 5");
    expect(viz_collector_downsample(c, 0, NULL, 0, 999, 0, &buckets), VIZ_STATUS_INVALID_ARGUMENT,
           "buckets must be at least 1");
    expect(viz_collector_downsample(c, 0, NULL, 10, 0, 5, &buckets), VIZ_STATUS_INVALID_ARGUMENT, "reversed");
    expect(viz_collector_latest(c, 0, "{\"order\": \"step_desc\"}", &latest), VIZ_STATUS_INVALID_ARGUMENT,
           "latest-value query");
    expect(viz_collector_aggregate(NULL, 0, NULL, &aggs), VIZ_STATUS_NULL_ARGUMENT, "collector is NULL");
    expect(viz_collector_aggregate(c, 0, NULL, NULL), VIZ_STATUS_NULL_ARGUMENT, "out is NULL");
    CHECK(aggs == NULL);
    CHECK(viz_aggregate_list_len(NULL) == 0 && viz_bucket_list_len(NULL) == 0);
    viz_aggregate_list_free(NULL);
    viz_bucket_list_free(NULL);
    expect(viz_collector_close(c, 10000), VIZ_STATUS_OK, NULL);

    /* The same from sqlite://, answered by SQL. */
    snprintf(spec, sizeof spec, "{\"backends\": [\"sqlite://%s/runs.db?run=c\"]}", dir);
    expect(viz_collector_new(spec, &c), VIZ_STATUS_OK, NULL);
    fill(c);
    expect(viz_collector_aggregate(c, 0, NULL, &aggs), VIZ_STATUS_OK, NULL);
    check_aggregates(aggs);
    viz_aggregate_list_free(aggs);
    expect(viz_collector_downsample(c, 0, "{\"tags\": [\"train/*\"]}", 0, 999, 10, &buckets), VIZ_STATUS_OK, NULL);
    check_buckets(buckets);
    viz_bucket_list_free(buckets);
    expect(viz_collector_latest(c, 0, NULL, &latest), VIZ_STATUS_OK, NULL);
    check_latest(latest);
    viz_event_list_free(latest);
    expect(viz_collector_metadata_set(c, "{\"lr\": 0.5}"), VIZ_STATUS_OK, NULL);
    char meta[64];
    size_t needed = 0;
    expect(viz_collector_metadata_get(c, 0, meta, sizeof meta, &needed), VIZ_STATUS_OK, NULL);
    CHECK(strcmp(meta, "{\"lr\":0.5}") == 0);
    expect(viz_collector_close(c, 10000), VIZ_STATUS_OK, NULL);

    /* The same through a storage handle, answered by a scan. */
    viz_storage *mem = NULL;
    expect(viz_storage_open(NULL, "memory://", &mem), VIZ_STATUS_OK, NULL);
    const viz_storage *lent[] = {mem};
    expect(viz_collector_new_with_storage("{}", lent, 1, &c), VIZ_STATUS_OK, NULL);
    fill(c);
    expect(viz_collector_close(c, 10000), VIZ_STATUS_OK, NULL);
    expect(viz_storage_aggregate(mem, NULL, &aggs), VIZ_STATUS_OK, NULL);
    check_aggregates(aggs);
    viz_aggregate_list_free(aggs);
    expect(viz_storage_downsample(mem, "{\"tags\": [\"train/loss\"]}", 0, 999, 10, &buckets), VIZ_STATUS_OK, NULL);
    check_buckets(buckets);
    viz_bucket_list_free(buckets);
    expect(viz_storage_latest(mem, NULL, &latest), VIZ_STATUS_OK, NULL);
    check_latest(latest);
    viz_event_list_free(latest);
    expect(viz_storage_aggregate(mem, "{\"offset\": 1}", &aggs), VIZ_STATUS_INVALID_ARGUMENT, "no order, offset or limit");
    viz_storage_free(mem);

    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    CHECK(system(rm) == 0);
    if (failures != 0) {
        fprintf(stderr, "aggregate: %d failure(s)\n", failures);
        return 1;
    }
    printf("aggregate: ok\n");
    return 0;
}
