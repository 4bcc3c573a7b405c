/* A collector's error callback: reports of failed deliveries reach the host with the
 * destination, status, message and whether the events will be retried; replacing or
 * removing the callback, and closing the collector, run its finalizer exactly once. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static atomic_int store_calls;

static viz_status flaky_init(void *userdata, const char *url, void **instance) {
    (void)userdata, (void)url, (void)instance;
    return VIZ_STATUS_OK;
}

/* Fails its first two calls with an I/O error and an explanation. */
static viz_status flaky_store(void *userdata, const viz_event *events, size_t len) {
    (void)userdata, (void)events, (void)len;
    if (atomic_fetch_add(&store_calls, 1) < 2) {
        viz_backend_set_error("disk full");
        return VIZ_STATUS_IO;
    }
    return VIZ_STATUS_OK;
}

struct seen {
    atomic_int reports, finalized, retried, bad;
};

static void on_error(void *userdata, const viz_error_report *r) {
    struct seen *s = userdata;
    atomic_fetch_add(&s->reports, 1);
    if (r->will_retry) atomic_fetch_add(&s->retried, 1);
    if (strcmp(r->destination, "flaky#0") != 0 || r->status != VIZ_STATUS_IO || strstr(r->message, "disk full") == NULL ||
        r->events != 10)
        atomic_fetch_add(&s->bad, 1);
}

static void finalize(void *userdata) {
    struct seen *s = userdata;
    atomic_fetch_add(&s->finalized, 1);
}

int main(void) {
    viz_backend_vtable vt = {.init = flaky_init, .store_batch = flaky_store};
    expect(viz_backend_register("flaky", &vt, NULL, NULL), VIZ_STATUS_OK, NULL);
    viz_collector *c = NULL;
    expect(viz_collector_new("{\"collector\": {\"batch_size\": 10, \"retry\": {\"max_attempts\": 5, "
                             "\"initial_backoff_ms\": 1, \"max_backoff_ms\": 2}}, \"backends\": [\"flaky://\"]}",
                             &c),
           VIZ_STATUS_OK, NULL);
    static struct seen first, second, third;
    expect(viz_collector_on_error(c, on_error, &first, finalize), VIZ_STATUS_OK, NULL);
    for (int64_t step = 0; step < 10; step++) CHECK(viz_collector_collect_scalar(c, "e/x", step, 1.0) == VIZ_STATUS_OK);
    expect(viz_collector_flush(c, 10000), VIZ_STATUS_OK, NULL);
    CHECK(atomic_load(&first.reports) == 2);
    CHECK(atomic_load(&first.retried) == 2);
    CHECK(atomic_load(&first.bad) == 0);
    CHECK(atomic_load(&first.finalized) == 0);

    /* Replacing finalizes the first once; removing finalizes the second once. */
    expect(viz_collector_on_error(c, on_error, &second, finalize), VIZ_STATUS_OK, NULL);
    CHECK(atomic_load(&first.finalized) == 1);
    expect(viz_collector_on_error(c, NULL, NULL, NULL), VIZ_STATUS_OK, NULL);
    CHECK(atomic_load(&second.finalized) == 1 && atomic_load(&second.reports) == 0);
    /* Closing finalizes the one still set. */
    expect(viz_collector_on_error(c, on_error, &third, finalize), VIZ_STATUS_OK, NULL);
    expect(viz_collector_close(c, 10000), VIZ_STATUS_OK, NULL);
    CHECK(atomic_load(&third.finalized) == 1);
    CHECK(atomic_load(&first.finalized) == 1 && atomic_load(&second.finalized) == 1);
    expect(viz_collector_on_error(NULL, on_error, &third, finalize), VIZ_STATUS_NULL_ARGUMENT, "collector is NULL");
    expect(viz_backend_unregister("flaky"), VIZ_STATUS_OK, NULL);

    if (failures != 0) {
        fprintf(stderr, "on_error: %d failure(s)\n", failures);
        return 1;
    }
    printf("on_error: ok\n");
    return 0;
}
