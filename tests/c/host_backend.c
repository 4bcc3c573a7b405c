/* A backend written in C, registered through viz_backend_register. */
#define _POSIX_C_SOURCE 200809L /* nanosleep under -std=c11 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"



struct state {
    atomic_int inits, shutdowns, flushes, finalized, calls, fail_remaining, out_of_order;
    atomic_int reentry_ok, flush_refused, close_refused;
    atomic_long scalars, texts;
    atomic_long next_step; /* the step the next "h/x" scalar must carry */
    double stored[1000];   /* "h/x" values by step, for get_events */
    viz_collector *_Atomic collector;
};

static viz_status on_init(void *userdata, const char *url, void **instance) {
    struct state *s = userdata;
    atomic_fetch_add(&s->inits, 1);
    /* Left alone, *instance is the registration's userdata: instances share it. */
    if (*instance != userdata) atomic_fetch_add(&s->out_of_order, 1);
    return strcmp(url, "host://run1") == 0 ? VIZ_STATUS_OK : VIZ_STATUS_INVALID_CONFIG;
}

static viz_status on_store(void *userdata, const viz_event *events, size_t len) {
    struct state *s = userdata;
    int call = atomic_fetch_add(&s->calls, 1);
    if (atomic_load(&s->fail_remaining) > 0) {
        /* The collector must retry this batch. The first failure returns a value that
         * is no viz_status at all: viz must read it as an integer, not trust it. */
        int left = atomic_fetch_sub(&s->fail_remaining, 1);
        return left == 3 ? (viz_status)99 : VIZ_STATUS_BACKEND_ERROR;
    }
    if (call == 3) {
        struct timespec pause = {0, 20 * 1000 * 1000}; /* a slow call */
        nanosleep(&pause, NULL);
    }
    viz_collector *c = atomic_load(&s->collector);
    if (c != NULL) {
        /* Calling back into viz from the delivery thread. */
        viz_stats stats;
        if (viz_collector_stats(c, &stats) == VIZ_STATUS_OK) atomic_fetch_add(&s->reentry_ok, 1);
        if (viz_collector_flush(c, 100) == VIZ_STATUS_UNSUPPORTED) atomic_fetch_add(&s->flush_refused, 1);
        /* Closing from here would wait for this very thread: refused, and the handle
         * stays valid (the main thread goes on using it). */
        if (viz_collector_close(c, 100) == VIZ_STATUS_UNSUPPORTED) atomic_fetch_add(&s->close_refused, 1);
    }
    for (size_t i = 0; i < len; i++) {
        const viz_event *e = &events[i];
        if (e->kind == VIZ_EVENT_KIND_SCALAR && strcmp(e->tag, "h/x") == 0) {
            long want = atomic_fetch_add(&s->next_step, 1);
            if (e->step != want || e->scalar != (double)want || e->wall_time <= 0) atomic_fetch_add(&s->out_of_order, 1);
            if (e->step >= 0 && e->step < 1000) s->stored[e->step] = e->scalar;
            atomic_fetch_add(&s->scalars, 1);
        } else if (e->kind == VIZ_EVENT_KIND_TEXT && strcmp(e->text, "done") == 0) {
            atomic_fetch_add(&s->texts, 1);
        }
    }
    return VIZ_STATUS_OK;
}

/* Answers reads from what store_batch kept. start_step -1 pushes an invalid event
 * instead, to show that the sink validates what it is given. */
static viz_status on_get_events(void *userdata, int64_t start, int64_t end, viz_event_sink *sink) {
    struct state *s = userdata;
    viz_event e;
    memset(&e, 0, sizeof e);
    e.kind = VIZ_EVENT_KIND_SCALAR;
    e.tag = "h/x";
    if (start == -1) {
        e.kind = 42;
        return viz_event_sink_push(sink, &e);
    }
    if (start == -2) {
        viz_backend_set_error("this backend keeps no negative steps");
        return VIZ_STATUS_UNSUPPORTED;
    }
    for (int64_t step = start; step <= end && step < 1000; step++) {
        e.step = step;
        e.scalar = s->stored[step];
        viz_status status = viz_event_sink_push(sink, &e);
        if (status != VIZ_STATUS_OK) return status;
    }
    return VIZ_STATUS_OK;
}

static viz_status on_flush(void *userdata) {
    atomic_fetch_add(&((struct state *)userdata)->flushes, 1);
    return VIZ_STATUS_OK;
}

static viz_status on_shutdown(void *userdata) {
    atomic_fetch_add(&((struct state *)userdata)->shutdowns, 1);
    return VIZ_STATUS_OK;
}

static void on_finalize(void *userdata) {
    atomic_fetch_add(&((struct state *)userdata)->finalized, 1);
}

/* A type whose instances keep state of their own: init allocates it and hands it to
 * viz through *instance; shutdown, called once per successful init, frees it. */
struct registry {
    atomic_int opened, closed, failed_inits;
};
struct instance {
    struct registry *registry;
    char name[32];
    long stored;
};

static viz_status inst_init(void *userdata, const char *url, void **instance) {
    struct registry *r = userdata;
    if (strcmp(url, "inst://bad") == 0) {
        atomic_fetch_add(&r->failed_inits, 1);
        return VIZ_STATUS_INVALID_CONFIG; /* nothing allocated, nothing to free */
    }
    struct instance *i = calloc(1, sizeof *i);
    if (i == NULL) return VIZ_STATUS_BACKEND_ERROR;
    i->registry = r;
    snprintf(i->name, sizeof i->name, "%s", url + strlen("inst://"));
    atomic_fetch_add(&r->opened, 1);
    *instance = i;
    return VIZ_STATUS_OK;
}

static viz_status inst_store(void *userdata, const viz_event *events, size_t len) {
    (void)events;
    ((struct instance *)userdata)->stored += (long)len;
    return VIZ_STATUS_OK;
}

/* Answers with one scalar: tag = the instance's name, value = what it stored. */
static viz_status inst_get(void *userdata, int64_t start, int64_t end, viz_event_sink *sink) {
    (void)start;
    (void)end;
    struct instance *i = userdata;
    viz_event e;
    memset(&e, 0, sizeof e);
    e.kind = VIZ_EVENT_KIND_SCALAR;
    e.tag = i->name;
    e.scalar = (double)i->stored;
    return viz_event_sink_push(sink, &e);
}

static viz_status inst_shutdown(void *userdata) {
    struct instance *i = userdata;
    atomic_fetch_add(&i->registry->closed, 1);
    free(i);
    return VIZ_STATUS_OK;
}

/* What storage `h` read back through inst_get: its name and count. */
static int reads_as(const viz_storage *h, const char *name, double stored) {
    viz_event_list *read = NULL;
    if (viz_storage_get_events(h, 0, 0, &read) != VIZ_STATUS_OK) return 0;
    int ok = viz_event_list_len(read) == 1 && strcmp(viz_event_list_get(read, 0)->tag, name) == 0 &&
             viz_event_list_get(read, 0)->scalar == stored;
    viz_event_list_free(read);
    return ok;
}

static void per_instance_state(void) {
    static struct registry r;
    viz_backend_vtable vt = {.init = inst_init, .store_batch = inst_store, .get_events = inst_get,
                             .shutdown = inst_shutdown};
    expect(viz_backend_register("inst", &vt, &r, NULL), VIZ_STATUS_OK, NULL);

    /* Two instances of one type open at once, each with its own state. */
    viz_storage *a = NULL, *b = NULL;
    expect(viz_storage_open(NULL, "inst://a", &a), VIZ_STATUS_OK, NULL);
    expect(viz_storage_open(NULL, "inst://b", &b), VIZ_STATUS_OK, NULL);
    viz_event e[5];
    memset(e, 0, sizeof e);
    for (int k = 0; k < 5; k++) {
        e[k].kind = VIZ_EVENT_KIND_SCALAR;
        e[k].tag = "t";
        e[k].step = k;
    }
    expect(viz_storage_store(a, e, 3), VIZ_STATUS_OK, NULL);
    expect(viz_storage_store(b, e, 5), VIZ_STATUS_OK, NULL);
    CHECK(reads_as(a, "a", 3.0));
    CHECK(reads_as(b, "b", 5.0));

    /* A failed init: viz calls nothing more for that instance. */
    viz_storage *bad = NULL;
    expect(viz_storage_open(NULL, "inst://bad", &bad), VIZ_STATUS_INVALID_CONFIG, "init returned InvalidConfig");
    CHECK(atomic_load(&r.failed_inits) == 1);

    /* A collector whose second backend fails to open drops the first without
     * closing it: viz still shuts it down, so its state is freed (valgrind checks). */
    viz_collector *c = NULL;
    expect(viz_collector_new("{\"backends\": [\"inst://c\", \"inst://bad\"]}", &c), VIZ_STATUS_INVALID_CONFIG, NULL);
    CHECK(atomic_load(&r.opened) == 3 && atomic_load(&r.closed) == 1);

    viz_storage_free(a); /* free without shutdown: viz shuts it down first */
    expect(viz_storage_shutdown(b), VIZ_STATUS_OK, NULL);
    viz_storage_free(b);
    CHECK(atomic_load(&r.opened) == 3 && atomic_load(&r.closed) == 3);
    expect(viz_backend_unregister("inst"), VIZ_STATUS_OK, NULL);
}

int main(void) {
    static struct state s;
    atomic_store(&s.fail_remaining, 3);
    viz_backend_vtable vt = {.init = on_init,
                             .store_batch = on_store,
                             .get_events = on_get_events,
                             .flush = on_flush,
                             .shutdown = on_shutdown};

    expect(viz_backend_register("host", &vt, &s, on_finalize), VIZ_STATUS_OK, NULL);
    /* Failed registrations keep nothing and never finalize. */
    expect(viz_backend_register("host", &vt, &s, on_finalize), VIZ_STATUS_INVALID_ARGUMENT, "already registered");
    viz_backend_vtable incomplete = {.init = on_init};
    expect(viz_backend_register("partial", &incomplete, &s, on_finalize), VIZ_STATUS_NULL_ARGUMENT,
           "vtable->store_batch is NULL");
    expect(viz_backend_register("bad name", &vt, &s, on_finalize), VIZ_STATUS_INVALID_CONFIG, "bad name");
    expect(viz_backend_register(NULL, &vt, &s, on_finalize), VIZ_STATUS_NULL_ARGUMENT, "type_name is NULL");
    CHECK(atomic_load(&s.finalized) == 0);

    viz_collector *c = NULL;
    expect(viz_collector_new("{\"collector\": {\"batch_size\": 10, \"buffer_capacity\": 100,"
                             " \"retry\": {\"max_attempts\": 10, \"initial_backoff_ms\": 1, \"max_backoff_ms\": 2}},"
                             " \"backends\": [\"host://run1\"]}",
                             &c),
           VIZ_STATUS_OK, NULL);
    CHECK(atomic_load(&s.inits) == 1);
    atomic_store(&s.collector, c);

    uint32_t x = 0;
    expect(viz_collector_tag_intern(c, "h/x", &x), VIZ_STATUS_OK, NULL);
    for (int64_t step = 0; step < 1000; step++) {
        CHECK(viz_collector_collect_scalar_id(c, x, step, (double)step) == VIZ_STATUS_OK);
    }
    viz_event done;
    memset(&done, 0, sizeof done);
    done.kind = VIZ_EVENT_KIND_TEXT;
    done.tag = "h/note";
    done.step = 1000;
    done.text = "done";
    expect(viz_collector_collect(c, &done), VIZ_STATUS_OK, NULL);
    expect(viz_collector_flush(c, 20000), VIZ_STATUS_OK, NULL);

    CHECK(atomic_load(&s.scalars) == 1000);
    CHECK(atomic_load(&s.texts) == 1);
    CHECK(atomic_load(&s.out_of_order) == 0);
    CHECK(atomic_load(&s.flushes) >= 1);
    CHECK(atomic_load(&s.reentry_ok) > 0);
    CHECK(atomic_load(&s.reentry_ok) == atomic_load(&s.flush_refused));
    CHECK(atomic_load(&s.reentry_ok) == atomic_load(&s.close_refused));
    viz_stats stats;
    expect(viz_collector_stats(c, &stats), VIZ_STATUS_OK, NULL);
    CHECK(stats.failed_batches == 3);
    CHECK(stats.written == 1001);
    /* Each destination's own counters account for its events. */
    CHECK(stats.destinations == 1 && stats.destination_dropped == 0 && stats.destination_queued == 0);
    viz_destination_stats d;
    expect(viz_collector_destination_stats(c, 0, &d), VIZ_STATUS_OK, NULL);
    CHECK(strcmp(d.name, "host#0") == 0);
    CHECK(d.written == 1001 && d.dropped == 0 && d.failed_batches == 3 && d.retries == 3);
    CHECK(d.queued_events == 0 && d.queued_bytes == 0 && !d.panicked && d.flushes >= 1);
    expect(viz_collector_destination_stats(c, 1, &d), VIZ_STATUS_INVALID_ARGUMENT, "destination index 1 is out of range");
    expect(viz_collector_destination_stats(c, 0, NULL), VIZ_STATUS_NULL_ARGUMENT, "out is NULL");

    /* Reads go through the host's get_events and its sink. */
    viz_event_list *read = NULL;
    expect(viz_collector_get_events(c, 0, 10, 19, &read), VIZ_STATUS_OK, NULL);
    CHECK(viz_event_list_len(read) == 10);
    for (size_t i = 0; i < viz_event_list_len(read); i++) {
        const viz_event *e = viz_event_list_get(read, i);
        CHECK(e->step == (int64_t)(10 + i) && e->scalar == (double)(10 + i) && strcmp(e->tag, "h/x") == 0);
    }
    viz_event_list_free(read);
    expect(viz_collector_get_events(c, 0, -1, 0, &read), VIZ_STATUS_INVALID_ARGUMENT,
           "get_events returned InvalidArgument");
    /* A callback's own status and explanation reach the caller. */
    expect(viz_collector_get_events(c, 0, -2, 0, &read), VIZ_STATUS_UNSUPPORTED,
           "get_events returned Unsupported (11): this backend keeps no negative steps");
    expect(viz_collector_get_events(c, 0, 0, 0, &read), VIZ_STATUS_OK, NULL);
    viz_event_list_free(read);

    /* Unregistered, but the collector still uses it: not finalized yet. */
    expect(viz_backend_unregister("host"), VIZ_STATUS_OK, NULL);
    CHECK(atomic_load(&s.finalized) == 0);
    atomic_store(&s.collector, NULL);
    expect(viz_collector_close(c, 10000), VIZ_STATUS_OK, NULL);
    CHECK(atomic_load(&s.shutdowns) == 1);
    CHECK(atomic_load(&s.finalized) == 1);
    expect(viz_backend_unregister("host"), VIZ_STATUS_UNKNOWN_BACKEND_TYPE, "no backend type 'host'");

    /* A type never used is finalized when unregistered. */
    static struct state unused;
    expect(viz_backend_register("unused", &vt, &unused, on_finalize), VIZ_STATUS_OK, NULL);
    expect(viz_backend_unregister("unused"), VIZ_STATUS_OK, NULL);
    CHECK(atomic_load(&unused.finalized) == 1);
    CHECK(atomic_load(&s.finalized) == 1);

    per_instance_state();

    if (failures != 0) {
        fprintf(stderr, "host_backend: %d failure(s)\n", failures);
        return 1;
    }
    printf("host_backend: ok\n");
    return 0;
}
