/* An mlflow+http:// destination from C, against the real MLflow server named by
 * VIZ_MLFLOW_URI: scalars and metadata acknowledged by the server, the remote
 * counters, viz_collector_remote_stats refused for a destination that is not
 * remote, and a server that is not there timing out with everything spooled. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h> /* getpid */

#include "check.h"

int main(void) {
    const char *server = getenv("VIZ_MLFLOW_URI");
    CHECK(server != NULL && strncmp(server, "http://127.0.0.1:", 17) == 0);
    char dir[] = "/tmp/viz-c-mlflow-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);

    char spec[600];
    snprintf(spec, sizeof spec,
             "{\"backends\": [\"mlflow+%s?experiment=viz-c&run=c-%d&spool=%s/spool\", \"memory://\"]}", server,
             (int)getpid(), dir);
    viz_collector *c = NULL;
    expect(viz_collector_new(spec, &c), VIZ_STATUS_OK, NULL);
    uint32_t loss = 0;
    expect(viz_collector_tag_intern(c, "train/loss", &loss), VIZ_STATUS_OK, NULL);
    for (int64_t step = 0; step < 3000; step++) {
        expect(viz_collector_collect_scalar_id(c, loss, step, 1.0 / (double)(step + 1)), VIZ_STATUS_OK, NULL);
    }
    expect(viz_collector_metadata_set(c, "{\"lr\": 0.01, \"tags.host\": \"c\"}"), VIZ_STATUS_OK, NULL);
    expect(viz_collector_wait_acknowledged(c, 120000), VIZ_STATUS_OK, NULL);

    viz_remote_stats r;
    memset(&r, 0xff, sizeof r);
    expect(viz_collector_remote_stats(c, 0, &r), VIZ_STATUS_OK, NULL);
    CHECK(r.delivered == 3001); /* 3000 scalars and one metadata batch */
    CHECK(r.depth == 0 && r.rejected == 0 && r.spool_full_drops == 0);
    CHECK(r.sends >= 4); /* 3000 metrics need three log-batch requests, plus params */
    expect(viz_collector_remote_stats(c, 1, &r), VIZ_STATUS_UNSUPPORTED, "memory#1 is not a remote destination");
    expect(viz_collector_remote_stats(c, 2, &r), VIZ_STATUS_INVALID_ARGUMENT, "out of range");
    expect(viz_collector_remote_stats(c, 0, NULL), VIZ_STATUS_NULL_ARGUMENT, "out is NULL");
    expect(viz_collector_wait_acknowledged(NULL, 10), VIZ_STATUS_NULL_ARGUMENT, "collector is NULL");
    expect(viz_collector_set_run_status(c, 9), VIZ_STATUS_INVALID_ARGUMENT, "status is 9; valid values are 0 to 2");
    expect(viz_collector_set_run_status(c, VIZ_RUN_STATUS_FAILED), VIZ_STATUS_OK, NULL);
    viz_collector_close(c, 60000);

    /* Port 9 (discard) has no MLflow server: everything stays spooled. */
    snprintf(spec, sizeof spec,
             "{\"backends\": [\"mlflow+http://127.0.0.1:9?run=absent&spool=%s/absent&drain_timeout=100ms\"]}", dir);
    expect(viz_collector_new(spec, &c), VIZ_STATUS_OK, NULL);
    for (int64_t step = 0; step < 100; step++) {
        expect(viz_collector_collect_scalar_id(c, loss, step, 0.5), VIZ_STATUS_OK, NULL);
    }
    expect(viz_collector_wait_acknowledged(c, 300), VIZ_STATUS_TIMEOUT, "100 of the events spooled are not acknowledged");
    expect(viz_collector_remote_stats(c, 0, &r), VIZ_STATUS_OK, NULL);
    CHECK(r.depth == 100 && r.delivered == 0 && r.spool_bytes > 0);
    viz_collector_close(c, 60000);

    printf("mlflow: ok\n");
    return 0;
}
