/* Following a file:// log from C while a collector writes it: every record once, in
 * order, across segment rolls (sealed and compressed as they roll), resumable by
 * offset; bad input refused by name. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Reads everything new, checking steps continue from *next. Returns how many. */
static size_t drain(viz_log_tail *tail, int64_t *next) {
    size_t total = 0;
    for (;;) {
        viz_event_list *page = NULL;
        expect(viz_log_tail_next(tail, 64, &page), VIZ_STATUS_OK, NULL);
        size_t n = viz_event_list_len(page);
        for (size_t i = 0; i < n; i++) {
            const viz_event *e = viz_event_list_get(page, i);
            CHECK(e != NULL && e->step == *next && strcmp(e->tag, "tail/x") == 0);
            (*next)++;
        }
        viz_event_list_free(page);
        total += n;
        if (n == 0) return total;
    }
}

int main(void) {
    char dir[] = "/tmp/viz-c-tail-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char spec[256];
    snprintf(spec, sizeof spec, "{\"collector\": {\"batch_size\": 50}, \"backends\": [\"file://%s?segment_max_bytes=4096\"]}",
             dir);
    viz_collector *c = NULL;
    expect(viz_collector_new(spec, &c), VIZ_STATUS_OK, NULL);

    viz_log_tail *from_start = NULL, *from_end = NULL;
    expect(viz_log_tail_open(dir, 0, &from_start), VIZ_STATUS_OK, NULL);
    expect(viz_log_tail_open(dir, UINT64_MAX, &from_end), VIZ_STATUS_OK, NULL);
    int64_t next_start = 0, next_end = 0;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 500; i++) {
            int64_t step = round * 500 + i;
            CHECK(viz_collector_collect_scalar(c, "tail/x", step, (double)step) == VIZ_STATUS_OK);
        }
        expect(viz_collector_flush(c, 10000), VIZ_STATUS_OK, NULL);
        CHECK(drain(from_start, &next_start) == 500);
        CHECK(drain(from_end, &next_end) == 500);
    }
    CHECK(viz_log_tail_offset(from_start) == 1500 && viz_log_tail_damage(from_start) == 0);

    /* Resuming at a saved offset. */
    viz_log_tail *resumed = NULL;
    expect(viz_log_tail_open(dir, 1234, &resumed), VIZ_STATUS_OK, NULL);
    int64_t next_resumed = 1234;
    CHECK(drain(resumed, &next_resumed) == 266);
    viz_log_tail_free(resumed);

    /* Bad input. */
    viz_event_list *page = NULL;
    expect(viz_log_tail_next(from_start, 0, &page), VIZ_STATUS_INVALID_ARGUMENT, "max is 0");
    expect(viz_log_tail_next(NULL, 1, &page), VIZ_STATUS_NULL_ARGUMENT, "tail is NULL");
    viz_log_tail *none = NULL;
    expect(viz_log_tail_open(NULL, 0, &none), VIZ_STATUS_NULL_ARGUMENT, "dir is NULL");
    expect(viz_log_tail_open("/nonexistent/viz/log", 0, &none), VIZ_STATUS_IO, "is not a viz event log directory");
    CHECK(none == NULL && viz_log_tail_offset(NULL) == 0);
    viz_log_tail_free(NULL);

    viz_log_tail_free(from_start);
    viz_log_tail_free(from_end);
    expect(viz_collector_close(c, 10000), VIZ_STATUS_OK, NULL);

    /* Closed, every segment is sealed and compressed (lz4 by default): a new tail
     * still reads each event once, and a storage handle reads them back. */
    viz_log_tail *after = NULL;
    expect(viz_log_tail_open(dir, 0, &after), VIZ_STATUS_OK, NULL);
    int64_t next_after = 0;
    CHECK(drain(after, &next_after) == 1500 && viz_log_tail_damage(after) == 0);
    viz_log_tail_free(after);
    char url[300];
    snprintf(url, sizeof url, "file://%s?compression=zstd&level=7", dir);
    viz_storage *s = NULL;
    expect(viz_storage_open(NULL, url, &s), VIZ_STATUS_OK, NULL);
    viz_event_list *all = NULL;
    expect(viz_storage_get_events(s, 0, 1499, &all), VIZ_STATUS_OK, NULL);
    CHECK(viz_event_list_len(all) == 1500);
    viz_event_list_free(all);
    viz_storage_free(s);
    snprintf(url, sizeof url, "file://%s?compression=gzip", dir);
    viz_storage *bad = NULL;
    expect(viz_storage_open(NULL, url, &bad), VIZ_STATUS_INVALID_CONFIG, "option compression has invalid value 'gzip'");
    CHECK(bad == NULL);
    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    CHECK(system(rm) == 0);
    if (failures != 0) {
        fprintf(stderr, "log_tail: %d failure(s)\n", failures);
        return 1;
    }
    printf("log_tail: ok\n");
    return 0;
}
