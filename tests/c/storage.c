/* Storage handles (viz_storage_*), collectors lent storage, and the collector
 * lifecycle calls: created unstarted, start, pending, is_running, stop. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static viz_event scalar(const char *tag, int64_t step, double value) {
    viz_event e;
    memset(&e, 0, sizeof e);
    e.kind = VIZ_EVENT_KIND_SCALAR;
    e.tag = tag;
    e.step = step;
    e.scalar = value;
    return e;
}

static size_t count(const viz_storage *s, int64_t from, int64_t to) {
    viz_event_list *got = NULL;
    expect(viz_storage_get_events(s, from, to, &got), VIZ_STATUS_OK, NULL);
    size_t n = viz_event_list_len(got);
    viz_event_list_free(got);
    return n;
}

int main(void) {
    /* A storage handle used directly. */
    viz_storage *s = NULL;
    expect(viz_storage_open(NULL, "memory://", &s), VIZ_STATUS_OK, NULL);
    CHECK(viz_storage_is_initialized(s));
    viz_event batch[3] = {scalar("s/a", 1, 1.0), scalar("s/a", 2, 2.0), scalar("s/a", 3, 3.0)};
    expect(viz_storage_store(s, batch, 3), VIZ_STATUS_OK, NULL);
    uint64_t n = 0;
    expect(viz_storage_event_count(s, &n), VIZ_STATUS_OK, NULL);
    CHECK(n == 3);
    viz_event_list *got = NULL;
    expect(viz_storage_get_events(s, 2, 3, &got), VIZ_STATUS_OK, NULL);
    CHECK(viz_event_list_len(got) == 2);
    CHECK(viz_event_list_get(got, 0)->step == 2 && viz_event_list_get(got, 0)->scalar == 2.0);
    CHECK(viz_event_list_get(got, 0)->wall_time > 1.6e9); /* stamped on store */
    viz_event_list_free(got);

    /* A bad event fails the whole batch, named by index; nothing is stored. */
    viz_event bad[2] = {scalar("s/b", 4, 4.0), scalar("", 5, 5.0)};
    expect(viz_storage_store(s, bad, 2), VIZ_STATUS_INVALID_ARGUMENT, "events[1]");
    CHECK(count(s, 0, 100) == 3);
    expect(viz_storage_clear(s), VIZ_STATUS_OK, NULL);
    CHECK(count(s, 0, 100) == 0);
    expect(viz_storage_flush(s), VIZ_STATUS_OK, NULL);

    /* Bad arguments. */
    viz_storage *none = NULL;
    expect(viz_storage_open(NULL, "memroy://", &none), VIZ_STATUS_UNKNOWN_BACKEND_TYPE, "memroy");
    expect(viz_storage_open("memory", "memory://?capacity=x", &none), VIZ_STATUS_INVALID_CONFIG,
           "capacity");
    expect(viz_storage_open(NULL, NULL, &none), VIZ_STATUS_NULL_ARGUMENT, "connection_string");
    expect(viz_storage_open(NULL, "memory://", NULL), VIZ_STATUS_NULL_ARGUMENT, "out");
    CHECK(none == NULL);
    expect(viz_storage_store(NULL, batch, 1), VIZ_STATUS_NULL_ARGUMENT, "storage");
    expect(viz_storage_event_count(s, NULL), VIZ_STATUS_NULL_ARGUMENT, "out");
    CHECK(!viz_storage_is_initialized(NULL));
    viz_storage_free(NULL);

    /* A collector lent the storage, created unstarted. */
    viz_collector *c = NULL;
    const viz_storage *lent[1] = {s};
    expect(viz_collector_new_with_storage("{\"start\": false}", lent, 1, &c), VIZ_STATUS_OK, NULL);
    CHECK(!viz_collector_is_running(c));
    for (int i = 0; i < 10; i++) {
        expect(viz_collector_collect_scalar(c, "lent/x", i, i * 0.5), VIZ_STATUS_OK, NULL);
    }
    size_t pending = 0;
    expect(viz_collector_pending(c, &pending), VIZ_STATUS_OK, NULL);
    CHECK(pending == 10);
    CHECK(count(s, 0, 100) == 0); /* nothing delivered before start */
    expect(viz_collector_start(c), VIZ_STATUS_OK, NULL);
    CHECK(viz_collector_is_running(c));
    expect(viz_collector_flush(c, 10000), VIZ_STATUS_OK, NULL);
    expect(viz_collector_pending(c, &pending), VIZ_STATUS_OK, NULL);
    CHECK(pending == 0);
    CHECK(count(s, 0, 100) == 10); /* the handle reads what the collector wrote */
    expect(viz_collector_get_events(c, 0, 0, 100, &got), VIZ_STATUS_OK, NULL);
    CHECK(viz_event_list_len(got) == 10);
    viz_event_list_free(got);

    expect(viz_collector_stop(c, 10000), VIZ_STATUS_OK, NULL);
    CHECK(!viz_collector_is_running(c));
    expect(viz_collector_collect_scalar(c, "lent/x", 11, 1.0), VIZ_STATUS_CLOSED, NULL);
    expect(viz_collector_start(c), VIZ_STATUS_CLOSED, "build a new one");
    expect(viz_collector_close(c, 1000), VIZ_STATUS_OK, NULL);
    /* Stopping the collector flushed the storage but left it open for its owner. */
    CHECK(viz_storage_is_initialized(s));
    CHECK(count(s, 0, 100) == 10);

    /* The config needs a destination; storage handles count as ones. */
    expect(viz_collector_new_with_storage("{}", NULL, 0, &c), VIZ_STATUS_INVALID_CONFIG,
           "no backends");
    const viz_storage *null_handle[1] = {NULL};
    expect(viz_collector_new_with_storage("{}", null_handle, 1, &c), VIZ_STATUS_NULL_ARGUMENT,
           "storages[0]");

    expect(viz_storage_shutdown(s), VIZ_STATUS_OK, NULL);
    CHECK(!viz_storage_is_initialized(s));
    expect(viz_storage_store(s, batch, 1), VIZ_STATUS_CLOSED, NULL);
    viz_storage_free(s);

    /* Lent storages routed by kind and tag prefix ("storage_routes"). */
    viz_storage *texts = NULL, *train = NULL;
    expect(viz_storage_open(NULL, "memory://", &texts), VIZ_STATUS_OK, NULL);
    expect(viz_storage_open(NULL, "memory://", &train), VIZ_STATUS_OK, NULL);
    const viz_storage *routed[] = {texts, train};
    viz_collector *rc = NULL;
    expect(viz_collector_new_with_storage(
               "{\"storage_routes\": [{\"kinds\": [\"text\"]}, {\"tag_prefixes\": [\"train/\"]}]}", routed, 2, &rc),
           VIZ_STATUS_OK, NULL);
    for (int64_t step = 0; step < 10; step++) {
        CHECK(viz_collector_collect_scalar(rc, "train/loss", step, 1.0) == VIZ_STATUS_OK);
        CHECK(viz_collector_collect_scalar(rc, "eval/acc", step, 1.0) == VIZ_STATUS_OK);
    }
    viz_event note = base_event(VIZ_EVENT_KIND_TEXT, "eval/note", 3);
    note.text = "hi";
    expect(viz_collector_collect(rc, &note), VIZ_STATUS_OK, NULL);
    expect(viz_collector_close(rc, 10000), VIZ_STATUS_OK, NULL);
    uint64_t n_texts = 0, n_train = 0;
    expect(viz_storage_event_count(texts, &n_texts), VIZ_STATUS_OK, NULL);
    expect(viz_storage_event_count(train, &n_train), VIZ_STATUS_OK, NULL);
    CHECK(n_texts == 1 && n_train == 10);
    rc = NULL;
    expect(viz_collector_new_with_storage("{\"storage_routes\": [null, null, null]}", routed, 2, &rc),
           VIZ_STATUS_INVALID_CONFIG, "storage_routes has 3 routes for 2 storage handles");
    expect(viz_collector_new_with_storage("{\"storage_routes\": [{\"kinds\": []}]}", routed, 2, &rc),
           VIZ_STATUS_INVALID_CONFIG, "storage_routes[0]: \"kinds\" is empty");
    CHECK(rc == NULL);
    viz_storage_free(texts);
    viz_storage_free(train);

    if (failures == 0) {
        printf("storage: ok\n");
    }
    return failures == 0 ? 0 : 1;
}
