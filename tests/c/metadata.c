/* Run metadata from C: a JSON object set atomically on every backend that keeps it,
 * keys deleted, the whole read back as JSON with the size-then-copy protocol, and
 * bad keys, bad JSON and backends without metadata refused by name. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

int main(void) {
    char dir[] = "/tmp/viz-c-meta-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char spec[300];
    snprintf(spec, sizeof spec, "{\"backends\": [\"memory://\", \"jsonl://%s/e.jsonl\", \"file://%s/log\"]}", dir, dir);
    viz_collector *c = NULL;
    expect(viz_collector_new(spec, &c), VIZ_STATUS_OK, NULL);
    expect(viz_collector_metadata_set(c, "{\"lr\": 0.01, \"model\": \"resnet\", \"tags\": [\"a\", \"b\"], \"tmp\": true}"),
           VIZ_STATUS_OK, NULL);
    expect(viz_collector_metadata_delete(c, "[\"tmp\", \"absent\"]"), VIZ_STATUS_OK, NULL);

    const char *want = "{\"lr\":0.01,\"model\":\"resnet\",\"tags\":[\"a\",\"b\"]}";
    for (size_t backend = 0; backend < 3; backend += 2) {
        size_t needed = 0;
        expect(viz_collector_metadata_get(c, backend, NULL, 0, &needed), VIZ_STATUS_OK, NULL);
        CHECK(needed == strlen(want));
        char small[8];
        expect(viz_collector_metadata_get(c, backend, small, sizeof small, &needed), VIZ_STATUS_OK, NULL);
        CHECK(needed >= sizeof small && strlen(small) == sizeof small - 1);
        char *buf = malloc(needed + 1);
        expect(viz_collector_metadata_get(c, backend, buf, needed + 1, &needed), VIZ_STATUS_OK, NULL);
        CHECK(strcmp(buf, want) == 0);
        free(buf);
    }
    size_t needed = 0;
    expect(viz_collector_metadata_get(c, 1, NULL, 0, &needed), VIZ_STATUS_UNSUPPORTED, "keeps no run metadata");
    expect(viz_collector_metadata_set(c, "{\"\": 1}"), VIZ_STATUS_INVALID_ARGUMENT, "keys are 1 to 250 bytes");
    /* file:// keeps the run status, at once, in status.json beside its log. */
    expect(viz_collector_set_run_status(c, VIZ_RUN_STATUS_FAILED), VIZ_STATUS_OK, NULL);
    {
        char path[300], body[200] = {0};
        snprintf(path, sizeof path, "%s/log/status.json", dir);
        FILE *f = fopen(path, "r");
        CHECK(f != NULL);
        CHECK(fread(body, 1, sizeof body - 1, f) > 0);
        fclose(f);
        CHECK(strstr(body, "\"failed\"") != NULL);
    }
    expect(viz_collector_set_run_status(c, 3), VIZ_STATUS_INVALID_ARGUMENT, "status is 3");
    expect(viz_collector_metadata_set(c, "[1, 2]"), VIZ_STATUS_INVALID_ARGUMENT, "not an array");
    expect(viz_collector_metadata_set(c, "{oops"), VIZ_STATUS_INVALID_ARGUMENT, "not valid JSON");
    expect(viz_collector_metadata_delete(c, "{\"a\": 1}"), VIZ_STATUS_INVALID_ARGUMENT, "JSON array of strings");
    expect(viz_collector_metadata_set(c, NULL), VIZ_STATUS_NULL_ARGUMENT, "json_object is NULL");
    expect(viz_collector_metadata_get(c, 0, NULL, 0, NULL), VIZ_STATUS_NULL_ARGUMENT, "needed is NULL");
    expect(viz_collector_close(c, 10000), VIZ_STATUS_OK, NULL);

    /* Durable: a storage handle on the same log reads it back, and changes it. */
    char url[300];
    snprintf(url, sizeof url, "file://%s/log", dir);
    viz_storage *log = NULL;
    expect(viz_storage_open(NULL, url, &log), VIZ_STATUS_OK, NULL);
    expect(viz_storage_metadata_set(log, "{\"epochs\": 3}"), VIZ_STATUS_OK, NULL);
    expect(viz_storage_metadata_delete(log, "[\"model\"]"), VIZ_STATUS_OK, NULL);
    char buf[256];
    expect(viz_storage_metadata_get(log, buf, sizeof buf, &needed), VIZ_STATUS_OK, NULL);
    CHECK(strcmp(buf, "{\"epochs\":3,\"lr\":0.01,\"tags\":[\"a\",\"b\"]}") == 0);
    viz_storage_free(log);

    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    CHECK(system(rm) == 0);
    if (failures != 0) {
        fprintf(stderr, "metadata: %d failure(s)\n", failures);
        return 1;
    }
    printf("metadata: ok\n");
    return 0;
}
