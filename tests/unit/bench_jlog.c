/*
 * bench_jlog.c - how many typical events per second the logger turns into
 * lines and hands to its sink (not a test; build it with -O2).
 *
 *   bench_jlog [EVENTS] [PATH]      (defaults: 1000000, /dev/null)
 *
 * The events cycle through an untagged FETCH (uid, flags, modseq), a tagged
 * OK with a latency, and a UID FETCH command: the bulk of a synchronizing
 * client's log.  The main figure is the synchronous sink with the direct
 * writer (what `imaptap decode` does, and the cost the relay's thread pays
 * per event); the other lines show the jansson builder for comparison and
 * the threaded sink the proxy uses.
 */
#define _DEFAULT_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "imap_event.h"
#include "jlog.h"
#include "jlog_int.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Size of a regular file, 0 otherwise (e.g. /dev/null). */
static long file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (long)st.st_size : 0;
}

static const struct imap_str flags[] = {{"\\Seen", 5}, {"\\Answered", 9}};

static void make_events(struct imap_event ev[3])
{
    memset(ev, 0, 3 * sizeof(*ev));

    ev[0].type = IMAP_EV_UNTAGGED;
    ev[0].has_dir = 1;
    ev[0].dir = IMAP_S2C;
    ev[0].u.untagged.name = (struct imap_str){"FETCH", 5};
    ev[0].u.untagged.has_n = 1;
    ev[0].u.untagged.mailbox = (struct imap_str){"INBOX", 5};
    ev[0].u.untagged.has_fetch = 1;
    ev[0].u.untagged.fetch.present = IMAP_FETCH_UID | IMAP_FETCH_FLAGS | IMAP_FETCH_MODSEQ;
    ev[0].u.untagged.fetch.flags = flags;
    ev[0].u.untagged.fetch.nflags = 2;

    ev[1].type = IMAP_EV_TAGGED;
    ev[1].has_dir = 1;
    ev[1].dir = IMAP_S2C;
    ev[1].u.tagged.tag = (struct imap_str){"a142", 4};
    ev[1].u.tagged.cmd = (struct imap_str){"UID FETCH", 9};
    ev[1].u.tagged.status = (struct imap_str){"OK", 2};
    ev[1].u.tagged.text = (struct imap_str){"Fetch completed (0.001 + 0.000 secs).", 37};
    ev[1].u.tagged.has_ms = 1;

    ev[2].type = IMAP_EV_COMMAND;
    ev[2].has_dir = 1;
    ev[2].dir = IMAP_C2S;
    ev[2].u.command.tag = (struct imap_str){"a143", 4};
    ev[2].u.command.cmd = (struct imap_str){"UID FETCH", 9};
    ev[2].u.command.args = (struct imap_str){"4827:* (UID FLAGS MODSEQ) (CHANGEDSINCE 90061)", 46};
}

/* Returns events per second, or -1. */
static double run(const char *path, long n, int threaded, enum jlog_build build, double *bytes_r)
{
    struct imap_event ev[3];
    struct jlog_session *js;
    struct jlog_opts o;
    struct jlog *log;
    char err[256];
    int64_t ts = INT64_C(1795598043120441);
    double t0, t1;
    long size0 = file_size(path);
    long i;

    jlog_set_build(build);
    jlog_opts_default(&o);
    o.threaded = threaded;
    o.queue_max = 64u << 20;
    log = jlog_open(path, &o, err, sizeof(err));
    if (log == NULL) {
        fprintf(stderr, "bench_jlog: %s\n", err);
        return -1;
    }
    js = jlog_session_new(log, "7f3a9c2e51d04b18");
    make_events(ev);
    t0 = now_s();
    for (i = 0; i < n; i++) {
        struct imap_event *e = &ev[i % 3];

        ts += 37; /* ~27k events per wall-clock second */
        e->ts_us = ts;
        e->off = (uint64_t)i * 61;
        if (i % 3 == 0) {
            e->u.untagged.n = (uint64_t)i / 3 + 1;
            e->u.untagged.fetch.uid = (uint32_t)(4827 + i / 3);
            e->u.untagged.fetch.modseq = (uint64_t)90061 + (uint64_t)i;
        } else if (i % 3 == 1) {
            e->u.tagged.ms = 0.25 + (double)(i % 1000) / 7.0;
        }
        if (jlog_event(js, e) != 0) {
            fprintf(stderr, "bench_jlog: event %ld dropped\n", i);
            return -1;
        }
    }
    jlog_session_free(js);
    jlog_close(log); /* the lines written count: include the final flush */
    t1 = now_s();
    *bytes_r = (double)(file_size(path) - size0) / (double)n;
    return (double)n / (t1 - t0);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    const char *path = argc > 2 ? argv[2] : "/dev/null";
    double text, jansson, threaded, bytes;

    if (n <= 0) {
        fprintf(stderr, "usage: bench_jlog [EVENTS] [PATH]\n");
        return 2;
    }
    run(path, n / 10, 0, JLOG_BUILD_TEXT, &bytes); /* warm up */
    text = run(path, n, 0, JLOG_BUILD_TEXT, &bytes);
    jansson = run(path, n, 0, JLOG_BUILD_JANSSON, &bytes);
    threaded = run(path, n, 1, JLOG_BUILD_TEXT, &bytes);
    if (text < 0 || jansson < 0 || threaded < 0)
        return 1;
    printf("bench jlog_events_per_s %.0f events/s\n", text);
    printf("bench jlog_events_per_s_jansson_builder %.0f events/s (%.2fx slower)\n", jansson,
           text / jansson);
    printf("bench jlog_events_per_s_threaded %.0f events/s\n", threaded);
    printf("bench jlog_ns_per_event %.0f ns (jansson builder %.0f ns)\n", 1e9 / text,
           1e9 / jansson);
    if (bytes > 0)
        printf("bench jlog_bytes_per_event %.1f\n", bytes);
    return 0;
}
