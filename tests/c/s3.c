/* An s3:// destination from C, against the SeaweedFS server tests/c_abi.rs starts
 * (VIZ_S3_ENDPOINT, with its keys in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY):
 * scalars staged locally, viz_collector_sync returning once the store holds every
 * segment (staging's uploaded.s3 lists them), and a store that is not there
 * making sync time out by name while the events stay staged. tests/c_abi.rs then
 * reads the run back from the bucket. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static int count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0, ch;
    while ((ch = fgetc(f)) != EOF) n += ch == '\n';
    fclose(f);
    return n;
}

int main(void) {
    const char *endpoint = getenv("VIZ_S3_ENDPOINT");
    const char *staging = getenv("VIZ_S3_STAGING");
    CHECK(endpoint != NULL && staging != NULL);
    char spec[800];
    snprintf(spec, sizeof spec,
             "{\"backends\": [\"s3://viz-c/proj?run=c&rank=0&endpoint=%s&staging=%s&segment_max_bytes=4096\"]}",
             endpoint, staging);
    viz_collector *c = NULL;
    expect(viz_collector_new(spec, &c), VIZ_STATUS_OK, NULL);
    uint32_t loss = 0;
    expect(viz_collector_tag_intern(c, "train/loss", &loss), VIZ_STATUS_OK, NULL);
    for (int64_t step = 0; step < 5000; step++) {
        expect(viz_collector_collect_scalar_id(c, loss, step, (double)step), VIZ_STATUS_OK, NULL);
    }
    expect(viz_collector_sync(c, 60000), VIZ_STATUS_OK, NULL);
    char list[600];
    snprintf(list, sizeof list, "%s/c/rank-0/uploaded.s3", staging);
    int segments = count_lines(list);
    CHECK(segments >= 2); /* 5000 scalars do not fit one 4 KiB segment */
    viz_replication_stats r;
    memset(&r, 0xff, sizeof r);
    expect(viz_collector_replication_stats(c, 0, &r), VIZ_STATUS_OK, NULL);
    CHECK(r.segments_uploaded == (uint64_t)segments && r.segments_pending == 0 && r.bytes_pending == 0);
    CHECK(r.failures == 0 && r.failing == 0 && r.uploads > r.segments_uploaded);
    expect(viz_collector_replication_stats(c, 1, &r), VIZ_STATUS_INVALID_ARGUMENT, "out of range");
    expect(viz_collector_close(c, 60000), VIZ_STATUS_OK, NULL);

    /* The store unreachable: sync times out (or fails) by name; close reports
     * what stays staged. */
    snprintf(spec, sizeof spec,
             "{\"backends\": [\"s3://viz-c/proj?run=c&rank=1&endpoint=http://127.0.0.1:9&staging=%s&drain_timeout=1s&request_timeout=1s\"]}",
             staging);
    expect(viz_collector_new(spec, &c), VIZ_STATUS_OK, NULL);
    expect(viz_collector_tag_intern(c, "train/loss", &loss), VIZ_STATUS_OK, NULL);
    expect(viz_collector_collect_scalar_id(c, loss, 0, 1.0), VIZ_STATUS_OK, NULL);
    viz_status s = viz_collector_sync(c, 3000);
    CHECK(s == VIZ_STATUS_IO || s == VIZ_STATUS_TIMEOUT);
    expect(viz_collector_replication_stats(c, 0, &r), VIZ_STATUS_OK, NULL);
    CHECK(r.failures >= 1 && r.failing == 1 && r.segments_pending >= 1);
    char msg[1024];
    viz_last_error_message(msg, sizeof msg);
    CHECK(strstr(msg, "s3") != NULL);
    viz_collector_close(c, 10000);
    snprintf(list, sizeof list, "%s/c/rank-1/uploaded.s3", staging);
    CHECK(count_lines(list) <= 0);
    fprintf(stderr, "s3: %d segments uploaded\n", segments);
    printf("s3: ok\n");
    return 0;
}
