/* The fork rule: a child made by fork inherits a file:// log's descriptors and
 * writer lock, and a collector whose threads it does not have. Every write, flush
 * and stop in the child is refused with a message that says why, at once (no
 * waiting for threads that do not exist), and the parent's log stays whole. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, fork, waitpid */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static viz_event scalar(int64_t step) {
    viz_event e;
    memset(&e, 0, sizeof e);
    e.kind = VIZ_EVENT_KIND_SCALAR;
    e.tag = "fork/x";
    e.step = step;
    e.scalar = (double)step;
    e.wall_time = 1700000000.0;
    return e;
}

static int store_range(viz_storage *st, int64_t from, int64_t to) {
    for (int64_t s = from; s < to; s++) {
        viz_event e = scalar(s);
        if (viz_storage_store(st, &e, 1) != VIZ_STATUS_OK) return 0;
    }
    return 1;
}

int main(void) {
    char dir[] = "/tmp/viz-fork-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char url[256];
    snprintf(url, sizeof url, "file://%s/log", dir);
    viz_storage *st = NULL;
    expect(viz_storage_open(NULL, url, &st), VIZ_STATUS_OK, NULL);
    CHECK(store_range(st, 0, 100));
    expect(viz_storage_flush(st), VIZ_STATUS_OK, NULL);
    viz_collector *c = NULL;
    expect(viz_collector_new("{\"backends\": [\"memory://\"]}", &c), VIZ_STATUS_OK, NULL);
    expect(viz_collector_collect_scalar(c, "fork/c", 1, 1.0), VIZ_STATUS_OK, NULL);

    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        viz_event e = scalar(1000);
        expect(viz_storage_store(st, &e, 1), VIZ_STATUS_UNSUPPORTED, "this is a forked child");
        expect(viz_storage_flush(st), VIZ_STATUS_UNSUPPORTED, "this is a forked child");
        expect(viz_storage_clear(st), VIZ_STATUS_UNSUPPORTED, "this is a forked child");
        time_t before = time(NULL);
        expect(viz_collector_flush(c, 60000), VIZ_STATUS_CLOSED, "create a new collector in the child");
        expect(viz_collector_close(c, 60000), VIZ_STATUS_CLOSED, "forked child");
        CHECK(time(NULL) - before < 30); /* refused at once, not after the 60 s timeouts */
        viz_storage_free(st);
        fflush(NULL);
        _exit(failures == 0 ? 0 : 1);
    }
    CHECK(pid > 0);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* The parent goes on: its log holds its events and nothing of the child's. */
    CHECK(store_range(st, 100, 200));
    expect(viz_storage_flush(st), VIZ_STATUS_OK, NULL);
    viz_event_list *got = NULL;
    expect(viz_storage_get_events(st, 0, 100000, &got), VIZ_STATUS_OK, NULL);
    CHECK(viz_event_list_len(got) == 200);
    for (size_t i = 0; i < viz_event_list_len(got); i++) {
        const viz_event *e = viz_event_list_get(got, i);
        CHECK(e != NULL && e->step == (int64_t)i);
    }
    viz_event_list_free(got);
    expect(viz_collector_flush(c, 10000), VIZ_STATUS_OK, NULL);
    expect(viz_collector_close(c, 10000), VIZ_STATUS_OK, NULL);
    expect(viz_storage_shutdown(st), VIZ_STATUS_OK, NULL);
    viz_storage_free(st);

    if (failures != 0) {
        fprintf(stderr, "fork: %d failure(s)\n", failures);
        return 1;
    }
    printf("fork: ok\n");
    return 0;
}
