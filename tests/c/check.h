/* Assertions shared by the C test programs: count failures, never abort, so one run
 * reports every problem. Each program returns non-zero if `failures` is not 0. */
#ifndef VIZ_TEST_CHECK_H
#define VIZ_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include "viz.h"

static int failures = 0;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                               \
        }                                                                             \
    } while (0)

/* Checks a call's status and, if `needle` is not NULL, that the calling thread's
 * last error message contains it. */
static void expect(viz_status got, viz_status want, const char *needle) {
    char msg[1024];
    viz_last_error_message(msg, sizeof msg);
    if (got != want) {
        fprintf(stderr, "status %d, want %d (%s)\n", (int)got, (int)want, msg);
        failures++;
    }
    if (needle != NULL && strstr(msg, needle) == NULL) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", msg, needle);
        failures++;
    }
}

/* A zeroed event of `kind` with its tag and step set; the caller fills the rest. */
static inline viz_event base_event(uint32_t kind, const char *tag, int64_t step) {
    viz_event e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.tag = tag;
    e.step = step;
    return e;
}

#endif
