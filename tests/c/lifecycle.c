/* Collector lifecycle, 4 pthread producers and bad input, through viz.h and the cdylib. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"


/* The calling thread's last error message (static buffer: single use at a time). */
static const char *last_error(void) {
    static char buf[1024];
    viz_last_error_message(buf, sizeof buf);
    return buf;
}


struct producer {
    viz_collector *collector;
    uint32_t tag;
    int failures;
};

static void *produce(void *arg) {
    struct producer *p = arg;
    for (int64_t step = 0; step < 10000; step++) {
        if (viz_collector_collect_scalar_id(p->collector, p->tag, step, (double)step) != VIZ_STATUS_OK) {
            p->failures++;
        }
    }
    return NULL;
}

int main(void) {
    CHECK(viz_abi_version() == VIZ_ABI_VERSION);
    CHECK(strlen(viz_version()) > 0);

    viz_collector *c = NULL;
    expect(viz_collector_new("{\"collector\": {\"batch_size\": 100, \"buffer_capacity\": 1000},"
                             " \"backends\": [\"memory://\", {\"url\": \"memory://?capacity=10\","
                             " \"kinds\": [\"scalar\"], \"tag_prefixes\": [\"train/\"]}]}",
                             &c),
           VIZ_STATUS_OK, NULL);
    CHECK(c != NULL);

    uint32_t loss = 0;
    expect(viz_collector_tag_intern(c, "train/loss", &loss), VIZ_STATUS_OK, NULL);
    for (int64_t step = 0; step < 1000; step++) {
        CHECK(viz_collector_collect_scalar_id(c, loss, step, 1.0 / (double)(step + 1)) == VIZ_STATUS_OK);
    }
    expect(viz_collector_collect_scalar(c, "eval/accuracy", 0, 0.5), VIZ_STATUS_OK, NULL);

    /* Four producer threads, one collector. */
    pthread_t threads[4];
    struct producer producers[4];
    for (int i = 0; i < 4; i++) {
        char tag[32];
        snprintf(tag, sizeof tag, "thread/%d", i);
        producers[i] = (struct producer){.collector = c, .failures = 0};
        expect(viz_collector_tag_intern(c, tag, &producers[i].tag), VIZ_STATUS_OK, NULL);
        CHECK(pthread_create(&threads[i], NULL, produce, &producers[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(producers[i].failures == 0);
    }

    expect(viz_collector_flush(c, 10000), VIZ_STATUS_OK, NULL);
    viz_stats stats;
    memset(&stats, 0xff, sizeof stats);
    expect(viz_collector_stats(c, &stats), VIZ_STATUS_OK, NULL);
    CHECK(stats.collected == 41001);
    /* memory:// took all 41001; the routed memory backend took only the train/ scalars. */
    CHECK(stats.written == 41001 + 1000);
    CHECK(stats.dropped_oldest + stats.dropped_newest + stats.dropped_block_timeout == 0);

    /* Bad input: the right status, a message naming the problem, no crash. */
    expect(viz_collector_collect_scalar_id(NULL, loss, 0, 0.0), VIZ_STATUS_NULL_ARGUMENT,
           "viz_collector_collect_scalar_id: collector is NULL");
    expect(viz_collector_collect_scalar(c, NULL, 0, 0.0), VIZ_STATUS_NULL_ARGUMENT, "tag is NULL");
    expect(viz_collector_collect_scalar(c, "bad\xff", 0, 0.0), VIZ_STATUS_INVALID_UTF8,
           "tag is not valid UTF-8 (invalid byte at offset 3)");
    expect(viz_collector_collect_scalar(c, "", 0, 0.0), VIZ_STATUS_INVALID_ARGUMENT, "tag is empty");
    expect(viz_collector_collect_scalar_id(c, 4000000000u, 0, 0.0), VIZ_STATUS_INVALID_ARGUMENT,
           "unknown tag id");
    expect(viz_collector_tag_intern(c, "x", NULL), VIZ_STATUS_NULL_ARGUMENT, "out_id is NULL");
    expect(viz_collector_stats(c, NULL), VIZ_STATUS_NULL_ARGUMENT, "out is NULL");

    viz_collector *bad = NULL;
    expect(viz_collector_new("{not json", &bad), VIZ_STATUS_INVALID_CONFIG, "config JSON");
    expect(viz_collector_new("{\"backends\": [\"tensorbored:///tmp\"]}", &bad),
           VIZ_STATUS_UNKNOWN_BACKEND_TYPE, "known types: file, jsonl, memory, mlflow, s3, sqlite, tensorboard");
    expect(viz_collector_new("{\"collector\": {\"batch_sise\": 5}, \"backends\": []}", &bad),
           VIZ_STATUS_INVALID_CONFIG, "batch_sise");
    expect(viz_collector_new("{\"collector\": {\"strategy\": \"sometimes\"}, \"backends\": [\"memory://\"]}", &bad),
           VIZ_STATUS_INVALID_CONFIG, "sometimes");
    expect(viz_collector_new("{\"backends\": [{\"url\": \"memory://\", \"kinds\": [\"sound\"]}]}", &bad),
           VIZ_STATUS_INVALID_CONFIG, "backends[0]");
    expect(viz_collector_new(NULL, &bad), VIZ_STATUS_NULL_ARGUMENT, "config_json is NULL");
    expect(viz_collector_new("{\"backends\": [\"memory://\"]}", NULL), VIZ_STATUS_NULL_ARGUMENT,
           "out is NULL");
    CHECK(bad == NULL);

    /* Sizing the message buffer: the needed length comes back without a buffer. */
    size_t needed = viz_last_error_message(NULL, 0);
    CHECK(needed == strlen(last_error()));
    char tiny[8];
    CHECK(viz_last_error_message(tiny, sizeof tiny) == needed);
    CHECK(strlen(tiny) == sizeof tiny - 1);

    /* The ABI 3 names still work for this ABI version, as deprecated aliases. */
    uint32_t old_id = 0, new_id = 1;
    expect(viz_tag_intern(c, "old/name", &old_id), VIZ_STATUS_OK, NULL);
    expect(viz_collector_tag_intern(c, "old/name", &new_id), VIZ_STATUS_OK, NULL);
    CHECK(old_id == new_id);
    expect(viz_collect_scalar_id(c, old_id, 1, 1.0), VIZ_STATUS_OK, NULL);
    expect(viz_flush(c, 10000), VIZ_STATUS_OK, NULL);
    viz_events *old_list = NULL;
    expect(viz_get_events(c, 0, 1, 1, &old_list), VIZ_STATUS_OK, NULL);
    CHECK(viz_events_len(old_list) >= 1 && viz_events_get(old_list, 0) != NULL);
    viz_events_free(old_list);
    expect(viz_flush(NULL, 10), VIZ_STATUS_NULL_ARGUMENT, "viz_collector_flush: collector is NULL");

    expect(viz_collector_close(c, 10000), VIZ_STATUS_OK, NULL);
    expect(viz_collector_close(NULL, 0), VIZ_STATUS_NULL_ARGUMENT, "collector is NULL");

    /* The typed config: defaults, a change, and out-of-range enum values. */
    viz_collector_config config;
    expect(viz_collector_config_default(&config), VIZ_STATUS_OK, NULL);
    CHECK(config.batch_size == 1000 && config.buffer_capacity == 10000);
    CHECK(config.strategy == VIZ_FLUSH_STRATEGY_HYBRID && config.overflow == VIZ_OVERFLOW_POLICY_BLOCK);
    CHECK(config.flush_interval_ms == 1000 && config.block_timeout_ms == 1000);
    config.batch_size = 10;
    config.strategy = VIZ_FLUSH_STRATEGY_SIZE_BASED;
    const char *urls[] = {"memory://", "memory://?capacity=5"};
    viz_collector *typed = NULL;
    expect(viz_collector_new_with(&config, urls, 2, &typed), VIZ_STATUS_OK, NULL);
    for (int64_t step = 0; step < 25; step++) {
        CHECK(viz_collector_collect_scalar(typed, "typed/x", step, 1.0) == VIZ_STATUS_OK);
    }
    expect(viz_collector_flush(typed, 10000), VIZ_STATUS_OK, NULL);
    expect(viz_collector_stats(typed, &stats), VIZ_STATUS_OK, NULL);
    CHECK(stats.written == 50);
    expect(viz_collector_close(typed, 10000), VIZ_STATUS_OK, NULL);

    viz_collector_config broken = config;
    broken.strategy = 9;
    expect(viz_collector_new_with(&broken, urls, 1, &bad), VIZ_STATUS_INVALID_ARGUMENT,
           "config.strategy is 9; valid values are 0 to 3");
    broken = config;
    broken.overflow = 3;
    expect(viz_collector_new_with(&broken, urls, 1, &bad), VIZ_STATUS_INVALID_ARGUMENT, "config.overflow is 3");
    broken = config;
    broken.batch_size = 0;
    expect(viz_collector_new_with(&broken, urls, 1, &bad), VIZ_STATUS_INVALID_CONFIG, "batch_size is 0");
    const char *bad_urls[] = {"memory://", NULL};
    expect(viz_collector_new_with(&config, bad_urls, 2, &bad), VIZ_STATUS_NULL_ARGUMENT,
           "backends[1]: connection string is NULL");
    expect(viz_collector_new_with(&config, NULL, 1, &bad), VIZ_STATUS_NULL_ARGUMENT, "backends is NULL");
    expect(viz_collector_new_with(NULL, urls, 1, &bad), VIZ_STATUS_NULL_ARGUMENT, "config is NULL");
    CHECK(bad == NULL);

    if (failures != 0) {
        fprintf(stderr, "lifecycle: %d failure(s)\n", failures);
        return 1;
    }
    printf("lifecycle: ok\n");
    return 0;
}
