/* Queries through the C ABI: a JSON query against a collector's backend and a
 * storage handle, results read through a cursor in batches, a file:// log's cursor
 * fetching its pages as they are asked for, and bad queries refused with a message
 * naming the field. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

int main(void) {
    viz_collector *c = NULL;
    expect(viz_collector_new("{\"backends\": [\"memory://\"]}", &c), VIZ_STATUS_OK, NULL);
    uint32_t loss = 0, acc = 0;
    expect(viz_collector_tag_intern(c, "train/loss", &loss), VIZ_STATUS_OK, NULL);
    expect(viz_collector_tag_intern(c, "eval/acc", &acc), VIZ_STATUS_OK, NULL);
    for (int64_t step = 0; step < 100; step++) {
        CHECK(viz_collector_collect_scalar_id(c, loss, step, 1.0 / (double)(step + 1)) == VIZ_STATUS_OK);
        CHECK(viz_collector_collect_scalar_id(c, acc, step, (double)step / 100.0) == VIZ_STATUS_OK);
    }
    expect(viz_collector_flush(c, 10000), VIZ_STATUS_OK, NULL);

    /* The five smallest losses under 0.02, largest step first, two at a time. */
    viz_cursor *cur = NULL;
    expect(viz_collector_query(c, 0,
                               "{\"tags\": [\"train/*\"], \"where\": {\"lt\": 0.02}, "
                               "\"order\": \"step_desc\", \"limit\": 5}",
                               &cur),
           VIZ_STATUS_OK, NULL);
    int64_t want = 99;
    size_t total = 0;
    for (;;) {
        viz_event_list *page = NULL;
        expect(viz_cursor_next(cur, 2, &page), VIZ_STATUS_OK, NULL);
        size_t n = viz_event_list_len(page);
        CHECK(n <= 2);
        for (size_t i = 0; i < n; i++) {
            const viz_event *e = viz_event_list_get(page, i);
            CHECK(e != NULL && strcmp(e->tag, "train/loss") == 0 && e->step == want && e->scalar < 0.02);
            want--;
        }
        total += n;
        viz_event_list_free(page);
        if (n == 0) break;
    }
    CHECK(total == 5);
    viz_cursor_free(cur);

    /* Bad queries and arguments name what is wrong. */
    cur = NULL;
    expect(viz_collector_query(c, 0, "{\"tags\": [{\"regex\": \"(\"}]}", &cur), VIZ_STATUS_INVALID_ARGUMENT,
           "tags[0]: tag regex '(' is invalid");
    expect(viz_collector_query(c, 0, "{\"limit\": -1}", &cur), VIZ_STATUS_INVALID_ARGUMENT, "query limit is -1");
    expect(viz_collector_query(c, 3, "{}", &cur), VIZ_STATUS_INVALID_ARGUMENT, "destination index 3 is out of range");
    expect(viz_collector_query(c, 0, NULL, &cur), VIZ_STATUS_NULL_ARGUMENT, "query_json is NULL");
    expect(viz_collector_query(c, 0, "{}", NULL), VIZ_STATUS_NULL_ARGUMENT, "out is NULL");
    CHECK(cur == NULL);
    expect(viz_collector_query(c, 0, "{\"tags\": [\"eval/acc\"]}", &cur), VIZ_STATUS_OK, NULL);
    viz_event_list *page = NULL;
    expect(viz_cursor_next(cur, 0, &page), VIZ_STATUS_INVALID_ARGUMENT, "max is 0");
    expect(viz_cursor_next(NULL, 1, &page), VIZ_STATUS_NULL_ARGUMENT, "cursor is NULL");
    expect(viz_cursor_next(cur, 1000, &page), VIZ_STATUS_OK, NULL);
    CHECK(viz_event_list_len(page) == 100);
    viz_event_list_free(page);
    viz_cursor_free(cur);
    viz_cursor_free(NULL);
    expect(viz_collector_close(c, 10000), VIZ_STATUS_OK, NULL);

    /* The same query language on a storage handle. */
    viz_storage *st = NULL;
    expect(viz_storage_open(NULL, "memory://", &st), VIZ_STATUS_OK, NULL);
    viz_event e;
    memset(&e, 0, sizeof e);
    e.kind = VIZ_EVENT_KIND_SCALAR;
    e.tag = "s/x";
    e.wall_time = 1700000000.0;
    for (int64_t step = 0; step < 10; step++) {
        e.step = step;
        e.scalar = step == 5 ? NAN : (double)step;
        expect(viz_storage_store(st, &e, 1), VIZ_STATUS_OK, NULL);
    }
    expect(viz_storage_query(st, "{\"where\": {\"finite\": false}}", &cur), VIZ_STATUS_OK, NULL);
    expect(viz_cursor_next(cur, 10, &page), VIZ_STATUS_OK, NULL);
    CHECK(viz_event_list_len(page) == 1 && viz_event_list_get(page, 0)->step == 5);
    viz_event_list_free(page);
    viz_cursor_free(cur);
    expect(viz_storage_query(st, "{\"where\": {\"lots\": 1}}", &cur), VIZ_STATUS_INVALID_ARGUMENT,
           "unknown condition 'lots'");
    viz_storage_free(st);

    /* Over a file:// log the cursor fetches each page when asked: events stored
     * after the query began appear in later pages, and a stopped collector fails
     * the next page by name. */
    char dir[] = "/tmp/viz-c-query-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char spec[256];
    snprintf(spec, sizeof spec, "{\"backends\": [\"file://%s\"]}", dir);
    viz_collector *fc = NULL;
    expect(viz_collector_new(spec, &fc), VIZ_STATUS_OK, NULL);
    for (int64_t step = 0; step < 10; step++) CHECK(viz_collector_collect_scalar(fc, "p/x", step, 1.0) == VIZ_STATUS_OK);
    expect(viz_collector_flush(fc, 10000), VIZ_STATUS_OK, NULL);
    expect(viz_collector_query(fc, 0, "{\"tags\": [\"p/x\"]}", &cur), VIZ_STATUS_OK, NULL);
    expect(viz_cursor_next(cur, 6, &page), VIZ_STATUS_OK, NULL);
    CHECK(viz_event_list_len(page) == 6);
    viz_event_list_free(page);
    for (int64_t step = 10; step < 15; step++) CHECK(viz_collector_collect_scalar(fc, "p/x", step, 1.0) == VIZ_STATUS_OK);
    expect(viz_collector_flush(fc, 10000), VIZ_STATUS_OK, NULL);
    expect(viz_cursor_next(cur, 100, &page), VIZ_STATUS_OK, NULL);
    CHECK(viz_event_list_len(page) == 9 && viz_event_list_get(page, 8)->step == 14);
    viz_event_list_free(page);
    viz_cursor *late = NULL;
    expect(viz_collector_query(fc, 0, "{}", &late), VIZ_STATUS_OK, NULL);
    expect(viz_collector_stop(fc, 10000), VIZ_STATUS_OK, NULL);
    expect(viz_cursor_next(late, 10, &page), VIZ_STATUS_CLOSED, "the collector is not running");
    viz_cursor_free(late);
    viz_cursor_free(cur);
    expect(viz_collector_close(fc, 10000), VIZ_STATUS_OK, NULL);
    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    CHECK(system(rm) == 0);

    if (failures != 0) {
        fprintf(stderr, "query: %d failure(s)\n", failures);
        return 1;
    }
    printf("query: ok\n");
    return 0;
}
