/* Transactions on a sqlite:// storage handle from C: committed stores and metadata
 * land together; after a failure injected mid-transaction, a rollback undoes them;
 * misuse and backends without transactions are refused by name. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static viz_status store(viz_storage *s, int64_t from) {
    viz_event batch[5];
    for (int i = 0; i < 5; i++) {
        batch[i] = base_event(VIZ_EVENT_KIND_SCALAR, "tx/x", from + i);
        batch[i].scalar = 1.0;
    }
    return viz_storage_store(s, batch, 5);
}

static uint64_t count(viz_storage *s) {
    viz_event_list *all = NULL;
    expect(viz_storage_get_events(s, INT64_MIN, INT64_MAX, &all), VIZ_STATUS_OK, NULL);
    uint64_t n = viz_event_list_len(all);
    viz_event_list_free(all);
    return n;
}

int main(void) {
    char dir[] = "/tmp/viz-c-tx-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char url[256];
    snprintf(url, sizeof url, "sqlite://%s/p.db", dir);
    viz_storage *s = NULL;
    expect(viz_storage_open(NULL, url, &s), VIZ_STATUS_OK, NULL);

    expect(viz_storage_transaction_begin(s), VIZ_STATUS_OK, NULL);
    expect(store(s, 0), VIZ_STATUS_OK, NULL);
    expect(viz_storage_metadata_set(s, "{\"phase\": \"warmup\"}"), VIZ_STATUS_OK, NULL);
    expect(viz_storage_transaction_commit(s), VIZ_STATUS_OK, NULL);
    CHECK(count(s) == 5);

    /* A failure mid-transaction (a bad metadata key), then a rollback. */
    expect(viz_storage_transaction_begin(s), VIZ_STATUS_OK, NULL);
    expect(store(s, 100), VIZ_STATUS_OK, NULL);
    expect(viz_storage_metadata_set(s, "{\"phase\": \"train\"}"), VIZ_STATUS_OK, NULL);
    expect(viz_storage_metadata_set(s, "{\"\": 1}"), VIZ_STATUS_INVALID_ARGUMENT, "keys are 1 to 250 bytes");
    expect(viz_storage_transaction_rollback(s), VIZ_STATUS_OK, NULL);
    CHECK(count(s) == 5);
    char meta[64];
    size_t needed = 0;
    expect(viz_storage_metadata_get(s, meta, sizeof meta, &needed), VIZ_STATUS_OK, NULL);
    CHECK(strcmp(meta, "{\"phase\":\"warmup\"}") == 0);

    expect(viz_storage_transaction_commit(s), VIZ_STATUS_INVALID_ARGUMENT, "no transaction is open");
    expect(viz_storage_transaction_begin(s), VIZ_STATUS_OK, NULL);
    expect(viz_storage_transaction_begin(s), VIZ_STATUS_INVALID_ARGUMENT, "already open");
    expect(viz_storage_transaction_rollback(s), VIZ_STATUS_OK, NULL);
    expect(viz_storage_transaction_begin(NULL), VIZ_STATUS_NULL_ARGUMENT, "storage is NULL");
    viz_storage_free(s);

    viz_storage *mem = NULL;
    expect(viz_storage_open(NULL, "memory://", &mem), VIZ_STATUS_OK, NULL);
    expect(viz_storage_transaction_begin(mem), VIZ_STATUS_UNSUPPORTED, "has none");
    viz_storage_free(mem);

    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    CHECK(system(rm) == 0);
    if (failures != 0) {
        fprintf(stderr, "transaction: %d failure(s)\n", failures);
        return 1;
    }
    printf("transaction: ok\n");
    return 0;
}
