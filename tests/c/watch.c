/* Live watch from C: subscribers see the delivered events their filter selects,
 * as viz_event views; cancelling stops the callback and runs the finalizer exactly
 * once; closing the collector finalizes the ones still subscribed; bad filters and
 * NULL arguments fail by name, and still finalize. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"

static void sleep_ms(long ms) {
    struct timespec t = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
    nanosleep(&t, NULL);
}

struct seen {
    atomic_int events, finalized, bad;
    atomic_llong step_sum;
};

static void on_events(void *userdata, const viz_event *events, size_t len) {
    struct seen *s = userdata;
    for (size_t i = 0; i < len; i++) {
        if (strncmp(events[i].tag, "train/", 6) != 0 || events[i].kind != VIZ_EVENT_KIND_SCALAR ||
            events[i].scalar != 0.5)
            atomic_fetch_add(&s->bad, 1);
        atomic_fetch_add(&s->step_sum, events[i].step);
    }
    atomic_fetch_add(&s->events, (int)len);
}

static void on_texts(void *userdata, const viz_event *events, size_t len) {
    struct seen *s = userdata;
    for (size_t i = 0; i < len; i++)
        if (events[i].kind != VIZ_EVENT_KIND_TEXT || strcmp(events[i].text, "note") != 0) atomic_fetch_add(&s->bad, 1);
    atomic_fetch_add(&s->events, (int)len);
}

static void finalize(void *userdata) {
    struct seen *s = userdata;
    atomic_fetch_add(&s->finalized, 1);
}

static void collect(viz_collector *c, int64_t from, int64_t to) {
    for (int64_t step = from; step < to; step++) {
        CHECK(viz_collector_collect_scalar(c, "train/loss", step, 0.5) == VIZ_STATUS_OK);
        CHECK(viz_collector_collect_scalar(c, "eval/acc", step, 0.5) == VIZ_STATUS_OK);
    }
}

int main(void) {
    viz_collector *c = NULL;
    expect(viz_collector_new("{\"collector\": {\"batch_size\": 10}, \"backends\": [\"memory://\"]}", &c), VIZ_STATUS_OK,
           NULL);
    static struct seen train, texts, refused;
    viz_subscription *train_sub = NULL, *text_sub = NULL, *none = NULL;
    expect(viz_collector_subscribe(c, "{\"tags\": [\"train/*\"], \"kinds\": [\"scalar\"]}", on_events, &train,
                                   finalize, &train_sub),
           VIZ_STATUS_OK, NULL);
    expect(viz_collector_subscribe(c, "{\"kinds\": [\"text\"]}", on_texts, &texts, finalize, &text_sub), VIZ_STATUS_OK,
           NULL);
    CHECK(viz_subscription_is_active(train_sub));

    collect(c, 0, 100);
    viz_event note = base_event(VIZ_EVENT_KIND_TEXT, "train/note", 1);
    note.text = "note";
    expect(viz_collector_collect(c, &note), VIZ_STATUS_OK, NULL);
    expect(viz_collector_flush(c, 10000), VIZ_STATUS_OK, NULL);
    /* Flush returns once the backends have the events; the watch thread may lag. */
    for (int i = 0; i < 10000 && (atomic_load(&train.events) < 100 || atomic_load(&texts.events) < 1); i++) sleep_ms(1);
    CHECK(atomic_load(&train.events) == 100);
    CHECK(atomic_load(&train.step_sum) == 99 * 100 / 2);
    CHECK(atomic_load(&train.bad) == 0);
    CHECK(atomic_load(&texts.events) == 1 && atomic_load(&texts.bad) == 0);
    CHECK(viz_subscription_delivered(train_sub) == 100);
    CHECK(viz_subscription_dropped(train_sub) == 0);

    /* Cancelling: no call after free returns, and the finalizer ran once. */
    viz_subscription_free(train_sub);
    CHECK(atomic_load(&train.finalized) == 1);
    collect(c, 100, 200);
    expect(viz_collector_flush(c, 10000), VIZ_STATUS_OK, NULL);
    CHECK(atomic_load(&train.events) == 100);

    /* Bad input fails by name and still finalizes. */
    expect(viz_collector_subscribe(c, "{\"tags\": [{\"regex\": \"(\"}]}", on_events, &refused, finalize, &none),
           VIZ_STATUS_INVALID_ARGUMENT, "tags");
    CHECK(atomic_load(&refused.finalized) == 1 && none == NULL);
    expect(viz_collector_subscribe(c, "{\"limit\": 3}", on_events, &refused, finalize, &none),
           VIZ_STATUS_INVALID_ARGUMENT, "no order, offset or limit");
    CHECK(atomic_load(&refused.finalized) == 2);
    expect(viz_collector_subscribe(NULL, NULL, on_events, &refused, finalize, &none), VIZ_STATUS_NULL_ARGUMENT,
           "collector is NULL");
    expect(viz_collector_subscribe(c, NULL, NULL, &refused, finalize, &none), VIZ_STATUS_NULL_ARGUMENT,
           "callback is NULL");
    CHECK(atomic_load(&refused.finalized) == 4);
    CHECK(viz_subscription_delivered(NULL) == 0 && !viz_subscription_is_active(NULL));

    /* Closing finalizes the subscription still held; freeing it later is safe. */
    expect(viz_collector_close(c, 10000), VIZ_STATUS_OK, NULL);
    CHECK(atomic_load(&texts.finalized) == 1);
    CHECK(!viz_subscription_is_active(text_sub));
    viz_subscription_free(text_sub);
    CHECK(atomic_load(&texts.finalized) == 1);
    viz_subscription_free(NULL);

    if (failures != 0) {
        fprintf(stderr, "watch: %d failure(s)\n", failures);
        return 1;
    }
    printf("watch: ok\n");
    return 0;
}
