/*
 * jlog_int.h - what jlog.c (lines) and jlog_sink.c (output) share, plus the
 * hooks tests and the benchmark use.  Not part of the logger's public API.
 */
#ifndef JLOG_INT_H
#define JLOG_INT_H

#include <stddef.h>

#include "jlog.h"

/* Queues one complete line (ending in '\n') for writing.  force: queue it even
 * when JLOG_OVERFLOW_DROP would drop it (session_close, which reports the
 * session's drops).  Returns 0 when queued, -1 when dropped (counted). */
int jlog_sink_put(struct jlog *log, const char *line, size_t len, int force);

const struct jlog_opts *jlog_sink_opts(const struct jlog *log);

/* Writes 16 lowercase hex digits and a NUL from getrandom() into sid. */
void jlog_sid_random(char sid[17]);

/* How lines are built.  JLOG_BUILD_TEXT writes the JSON text directly;
 * JLOG_BUILD_JANSSON builds a jansson tree and dumps it.  Both give the same
 * bytes (test_jlog checks that); the direct writer is the default because it
 * is ~18 times faster (bench_jlog: ~0.12 us against ~2.1 us per event). */
enum jlog_build {
    JLOG_BUILD_TEXT,
    JLOG_BUILD_JANSSON,
};

/* Process-wide; for tests and the benchmark.  Sessions made afterwards use it. */
void jlog_set_build(enum jlog_build build);

#endif
