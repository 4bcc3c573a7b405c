/* Runs from C: two ranks of one run and a second run written with file://?run=&rank=,
 * listed and found as JSON through a run repository, read as one run through a
 * cursor, and deleted (refused while written); bad input refused by name. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static viz_collector *writer(const char *project, const char *run, int rank) {
    char spec[400];
    snprintf(spec, sizeof spec, "{\"backends\": [\"file://%s?run=%s&rank=%d\"]}", project, run, rank);
    viz_collector *c = NULL;
    expect(viz_collector_new(spec, &c), VIZ_STATUS_OK, NULL);
    return c;
}

/* A JSON text from a size-then-copy call; the caller frees it. */
static char *listing(viz_run_repository *repo, const char *filter) {
    size_t needed = 0;
    expect(viz_run_repository_list(repo, filter, NULL, 0, &needed), VIZ_STATUS_OK, NULL);
    char *buf = malloc(needed + 1);
    expect(viz_run_repository_list(repo, filter, buf, needed + 1, &needed), VIZ_STATUS_OK, NULL);
    return buf;
}

int main(void) {
    char project[] = "/tmp/viz-c-runs-XXXXXX";
    CHECK(mkdtemp(project) != NULL);
    for (int rank = 0; rank < 2; rank++) {
        viz_collector *c = writer(project, "baseline", rank);
        for (int64_t step = 0; step < 50; step++)
            CHECK(viz_collector_collect_scalar(c, "train/loss", step, (double)step) == VIZ_STATUS_OK);
        expect(viz_collector_close(c, 10000), VIZ_STATUS_OK, NULL);
    }
    viz_collector *other = writer(project, "tuned", 0);
    expect(viz_collector_metadata_set(other, "{\"lr\": 0.1}"), VIZ_STATUS_OK, NULL);

    viz_run_repository *repo = NULL;
    expect(viz_run_repository_open(project, &repo), VIZ_STATUS_OK, NULL);
    char names[128];
    size_t needed = 0;
    expect(viz_run_repository_names(repo, names, sizeof names, &needed), VIZ_STATUS_OK, NULL);
    CHECK(strcmp(names, "[\"baseline\",\"tuned\"]") == 0);

    char *all = listing(repo, NULL);
    CHECK(strstr(all, "\"name\":\"baseline\"") != NULL && strstr(all, "\"ranks\":[0,1]") != NULL);
    CHECK(strstr(all, "\"events\":100") != NULL && strstr(all, "\"train/loss\":100") != NULL);
    free(all);
    char *tuned = listing(repo, "{\"metadata\": {\"lr\": 0.1}}");
    CHECK(strstr(tuned, "\"name\":\"tuned\"") != NULL && strstr(tuned, "baseline") == NULL);
    free(tuned);

    viz_cursor *cur = NULL;
    expect(viz_run_repository_query(repo, "baseline", "{\"order\": \"step_desc\", \"limit\": 4}", &cur), VIZ_STATUS_OK,
           NULL);
    viz_event_list *page = NULL;
    expect(viz_cursor_next(cur, 10, &page), VIZ_STATUS_OK, NULL);
    CHECK(viz_event_list_len(page) == 4);
    const viz_event *first = viz_event_list_get(page, 0), *third = viz_event_list_get(page, 2);
    CHECK(first != NULL && first->step == 49 && third != NULL && third->step == 48);
    viz_event_list_free(page);
    viz_cursor_free(cur);

    /* Reading the runs went through the process's read cache of segment indexes. */
    viz_cache_stats cache;
    expect(viz_read_cache_stats(&cache), VIZ_STATUS_OK, NULL);
    CHECK(cache.misses > 0 && cache.hits > 0 && cache.entries > 0 && cache.bytes > 0);
    CHECK(cache.capacity == 256u << 20);
    expect(viz_read_cache_configure(1 << 20, 0), VIZ_STATUS_INVALID_CONFIG, "ttl_ms is 0 ms");
    expect(viz_read_cache_configure(0, 60000), VIZ_STATUS_OK, NULL); /* off: everything evicted */
    expect(viz_read_cache_stats(&cache), VIZ_STATUS_OK, NULL);
    CHECK(cache.entries == 0 && cache.capacity == 0 && cache.evictions > 0);
    expect(viz_read_cache_configure(256u << 20, 600000), VIZ_STATUS_OK, NULL);
    expect(viz_read_cache_stats(NULL), VIZ_STATUS_NULL_ARGUMENT, "out is NULL");

    /* Deleting: refused while written, then done. */
    expect(viz_run_repository_delete(repo, "tuned"), VIZ_STATUS_IO, "is being written");
    expect(viz_collector_close(other, 10000), VIZ_STATUS_OK, NULL);
    expect(viz_run_repository_delete(repo, "tuned"), VIZ_STATUS_OK, NULL);
    expect(viz_run_repository_names(repo, names, sizeof names, &needed), VIZ_STATUS_OK, NULL);
    CHECK(strcmp(names, "[\"baseline\"]") == 0);

    /* Bad input. */
    cur = NULL;
    expect(viz_run_repository_query(repo, "nope", "{}", &cur), VIZ_STATUS_INVALID_ARGUMENT, "no run 'nope'");
    expect(viz_run_repository_delete(repo, "../etc"), VIZ_STATUS_INVALID_ARGUMENT, "path separator");
    expect(viz_run_repository_list(repo, "{\"names\": 1}", NULL, 0, &needed), VIZ_STATUS_INVALID_ARGUMENT,
           "unknown field");
    viz_run_repository *none = NULL;
    expect(viz_run_repository_open("/nonexistent/project", &none), VIZ_STATUS_IO, "is not a project directory");
    expect(viz_run_repository_open(NULL, &none), VIZ_STATUS_NULL_ARGUMENT, "root is NULL");
    CHECK(none == NULL && cur == NULL);
    viz_run_repository_free(repo);
    viz_run_repository_free(NULL);

    /* The runs of a sqlite:// file, through the same functions. */
    char spec[400], url[300];
    snprintf(spec, sizeof spec, "{\"backends\": [\"sqlite://%s/runs.db?run=s\"]}", project);
    viz_collector *sc = NULL;
    expect(viz_collector_new(spec, &sc), VIZ_STATUS_OK, NULL);
    for (int64_t step = 0; step < 5; step++) CHECK(viz_collector_collect_scalar(sc, "s/x", step, 1.0) == VIZ_STATUS_OK);
    expect(viz_collector_close(sc, 10000), VIZ_STATUS_OK, NULL);
    snprintf(url, sizeof url, "sqlite://%s/runs.db", project);
    viz_run_repository *sql = NULL;
    expect(viz_run_repository_open(url, &sql), VIZ_STATUS_OK, NULL);
    expect(viz_run_repository_names(sql, names, sizeof names, &needed), VIZ_STATUS_OK, NULL);
    CHECK(strcmp(names, "[\"s\"]") == 0);
    expect(viz_run_repository_delete(sql, "s"), VIZ_STATUS_OK, NULL);
    expect(viz_run_repository_names(sql, names, sizeof names, &needed), VIZ_STATUS_OK, NULL);
    CHECK(strcmp(names, "[]") == 0);
    viz_run_repository_free(sql);

    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf %s", project);
    CHECK(system(rm) == 0);
    if (failures != 0) {
        fprintf(stderr, "runs: %d failure(s)\n", failures);
        return 1;
    }
    printf("runs: ok\n");
    return 0;
}
