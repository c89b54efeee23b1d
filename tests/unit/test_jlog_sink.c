/*
 * test_jlog_sink.c - logger/jlog_sink.c: ordering under a writer thread,
 * reopen after rename (logrotate), write errors (/dev/full, a file size
 * limit that forces partial writes), drop mode, congestion and its notify,
 * flush latency, stdout, and close giving up on a dead disk.
 *
 * Write errors are made with a symlink: the log path points at /dev/full,
 * then at a real file, and jlog_reopen() follows it, so a test can see that
 * every line held back during the error is written afterwards, exactly once.
 */
#define _DEFAULT_SOURCE /* mkdtemp, symlink, usleep */

#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "imap_event.h"
#include "jlog.h"

static char tmpdir[64];

static void path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct imap_event limit_event(uint64_t value)
{
    struct imap_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.type = IMAP_EV_LIMIT;
    ev.ts_us = INT64_C(1795598043120441);
    ev.has_dir = 1;
    ev.dir = IMAP_S2C;
    ev.off = value;
    ev.u.limit.what = (struct imap_str){"line", 4};
    ev.u.limit.value = value;
    ev.u.limit.max = 65536;
    return ev;
}

static struct jlog_opts base_opts(int threaded)
{
    struct jlog_opts o;

    jlog_opts_default(&o);
    o.threaded = threaded;
    return o;
}

/* ---- reading a log back ---- */

struct lines {
    json_t **v;
    size_t n, cap;
};

static void lines_append_file(struct lines *l, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0;
    ssize_t k;

    if (f == NULL)
        return;
    while ((k = getline(&buf, &cap, f)) > 0) {
        json_error_t e;
        json_t *j;

        if (buf[k - 1] != '\n')
            fail_msg("%s: last line not terminated: %s", path, buf);
        j = json_loadb(buf, (size_t)k, 0, &e);
        if (j == NULL)
            fail_msg("%s: bad line (%s): %s", path, e.text, buf);
        if (l->n == l->cap) {
            l->cap = l->cap != 0 ? 2 * l->cap : 1024;
            l->v = realloc(l->v, l->cap * sizeof(*l->v));
            assert_non_null(l->v);
        }
        l->v[l->n++] = j;
    }
    free(buf);
    fclose(f);
}

static void lines_free(struct lines *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        json_decref(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static const char *j_str(json_t *j, const char *k)
{
    const char *s = json_string_value(json_object_get(j, k));
    assert_non_null(s);
    return s;
}

static int64_t j_int(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    assert_true(json_is_integer(v));
    return (int64_t)json_integer_value(v);
}

/* With TEST_JLOG_LINES=FILE, appends the line there (for schema_check.py). */
static void save_line(json_t *j)
{
    const char *out = getenv("TEST_JLOG_LINES");
    char *text;
    FILE *f;

    if (out == NULL || *out == '\0')
        return;
    text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    f = fopen(out, "ab");
    assert_non_null(text);
    assert_non_null(f);
    fprintf(f, "%s\n", text);
    fclose(f);
    free(text);
}

/* Lines of one sid in file order: seq must run 0, 1, 2, ... n-1. */
static void expect_seq_run(const struct lines *l, const char *sid, size_t n)
{
    size_t i, next = 0;

    for (i = 0; i < l->n; i++) {
        if (strcmp(j_str(l->v[i], "sid"), sid) != 0)
            continue;
        if (j_int(l->v[i], "seq") != (int64_t)next)
            fail_msg("sid %s: line %zu has seq %lld, want %zu", sid, i,
                     (long long)j_int(l->v[i], "seq"), next);
        next++;
    }
    assert_int_equal(next, n);
}

/* ---- producers ---- */

struct producer {
    struct jlog *log;
    const char *sid;
    int n;
    int failed;
    atomic_int *progress; /* lines queued so far, or NULL */
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    struct jlog_session *js = jlog_session_new(p->log, p->sid);
    int i;

    if (js == NULL) {
        p->failed = -1;
        return NULL;
    }
    for (i = 0; i < p->n; i++) {
        struct imap_event ev = limit_event((uint64_t)i);
        if (jlog_event(js, &ev) != 0)
            p->failed++;
        if (p->progress != NULL)
            atomic_fetch_add(p->progress, 1);
    }
    jlog_session_free(js);
    return NULL;
}

/* ---- tests ---- */

static void test_threaded_order(void **state)
{
    struct jlog_opts o = base_opts(1);
    struct producer a = {NULL, "aaaaaaaaaaaaaaaa", 50000, 0, NULL};
    struct producer b = {NULL, "bbbbbbbbbbbbbbbb", 50000, 0, NULL};
    struct lines l = {NULL, 0, 0};
    pthread_t ta, tb;
    char path[128], err[256];
    struct jlog *log;

    (void)state;
    path_of(path, sizeof(path), "order.log");
    log = jlog_open(path, &o, err, sizeof(err));
    assert_non_null(log);
    assert_null(jlog_error(log, err, sizeof(err)));
    a.log = b.log = log;
    pthread_create(&ta, NULL, produce, &a);
    pthread_create(&tb, NULL, produce, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.failed, 0);
    assert_int_equal(b.failed, 0);
    jlog_close(log);

    lines_append_file(&l, path);
    assert_int_equal(l.n, 100000);
    expect_seq_run(&l, a.sid, 50000);
    expect_seq_run(&l, b.sid, 50000);
    lines_free(&l);
}

/* Rotation while a producer writes as fast as it can: every line is in
 * exactly one of the files, in order. */
static void reopen_under_load(int threaded)
{
    struct jlog_opts o = base_opts(threaded);
    atomic_int progress = 0;
    struct producer p = {NULL, "cccccccccccccccc", 60000, 0, &progress};
    struct lines l = {NULL, 0, 0};
    char path[128], old[160], err[256];
    struct jlog *log;
    pthread_t t;
    int r;

    path_of(path, sizeof(path), "rot.log");
    log = jlog_open(path, &o, err, sizeof(err));
    assert_non_null(log);
    p.log = log;
    if (threaded) {
        pthread_create(&t, NULL, produce, &p);
        for (r = 1; r <= 5; r++) {
            while (atomic_load(&progress) < r * 10000)
                usleep(100);
            snprintf(old, sizeof(old), "%s.%d", path, r);
            assert_int_equal(rename(path, old), 0);
            assert_int_equal(jlog_reopen(log, err, sizeof(err)), 0);
        }
        pthread_join(t, NULL);
    } else {
        /* Synchronous: the producer is this thread; rotate between lines. */
        struct jlog_session *js = jlog_session_new(log, p.sid);
        int i;

        for (i = 0, r = 1; i < p.n; i++) {
            struct imap_event ev = limit_event((uint64_t)i);
            assert_int_equal(jlog_event(js, &ev), 0);
            if (i + 1 == r * 10000 && r <= 5) {
                snprintf(old, sizeof(old), "%s.%d", path, r++);
                assert_int_equal(rename(path, old), 0);
                assert_int_equal(jlog_reopen(log, err, sizeof(err)), 0);
            }
        }
        jlog_session_free(js);
    }
    assert_int_equal(p.failed, 0);
    jlog_close(log);

    for (r = 1; r <= 5; r++) {
        snprintf(old, sizeof(old), "%s.%d", path, r);
        lines_append_file(&l, old);
        /* lines queued after the reopen returned are never in an older file */
        assert_true(l.n <= (size_t)r * 10000 + 10000);
        unlink(old);
    }
    lines_append_file(&l, path);
    assert_int_equal(l.n, 60000);
    expect_seq_run(&l, p.sid, 60000);
    lines_free(&l);
    unlink(path);
}

static void test_reopen_threaded(void **state)
{
    (void)state;
    reopen_under_load(1);
}

static void test_reopen_sync(void **state)
{
    (void)state;
    reopen_under_load(0);
}

static int wait_error(struct jlog *log, const char *needle, int ms)
{
    char buf[256];
    int64_t end = mono_ms() + ms;

    while (mono_ms() < end) {
        const char *e = jlog_error(log, buf, sizeof(buf));
        if (e != NULL && strstr(e, needle) != NULL)
            return 1;
        usleep(2000);
    }
    return 0;
}

/* /dev/full: the error is reported, nothing is written or lost, and after
 * a reopen onto a good file every line arrives exactly once. */
static void dev_full(int threaded)
{
    struct jlog_opts o = base_opts(threaded);
    char link[128], real[128], err[256];
    struct lines l = {NULL, 0, 0};
    struct jlog_session *js;
    struct jlog *log;
    int i;

    path_of(link, sizeof(link), "full.log");
    path_of(real, sizeof(real), "full-real.log");
    unlink(link);
    assert_int_equal(symlink("/dev/full", link), 0);
    log = jlog_open(link, &o, err, sizeof(err));
    assert_non_null(log);
    js = jlog_session_new(log, "dddddddddddddddd");
    /* sync mode writes at 64 KiB: make enough lines to get there */
    for (i = 0; i < 1000; i++) {
        struct imap_event ev = limit_event((uint64_t)i);
        assert_int_equal(jlog_event(js, &ev), 0);
    }
    assert_true(wait_error(log, "No space left on device", 3000));
    assert_non_null(strstr(jlog_error(log, err, sizeof(err)), link));
    assert_int_equal(jlog_lines(log), 0);
    assert_int_equal(jlog_dropped(log), 0);

    /* more lines while failing: kept as well */
    for (; i < 1100; i++) {
        struct imap_event ev = limit_event((uint64_t)i);
        assert_int_equal(jlog_event(js, &ev), 0);
    }
    assert_int_equal(unlink(link), 0);
    assert_int_equal(symlink(real, link), 0);
    assert_int_equal(jlog_reopen(log, err, sizeof(err)), 0);
    jlog_session_free(js);
    jlog_close(log);

    lines_append_file(&l, real);
    assert_int_equal(l.n, 1100);
    expect_seq_run(&l, "dddddddddddddddd", 1100);
    lines_free(&l);
    unlink(link);
    unlink(real);
}

static void test_dev_full_threaded(void **state)
{
    (void)state;
    dev_full(1);
}

static void test_dev_full_sync(void **state)
{
    (void)state;
    dev_full(0);
}

/* RLIMIT_FSIZE makes write(2) stop short at the limit, then fail with EFBIG:
 * the writer must continue from the exact byte once the limit is lifted. */
static void test_partial_write(void **state)
{
    struct jlog_opts o = base_opts(1);
    struct rlimit old, lim;
    char path[128], err[256];
    struct lines l = {NULL, 0, 0};
    struct jlog_session *js;
    struct jlog *log;
    void (*oldsig)(int);
    struct stat st;
    int i;

    (void)state;
    path_of(path, sizeof(path), "partial.log");
    oldsig = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    log = jlog_open(path, &o, err, sizeof(err));
    assert_non_null(log);
    js = jlog_session_new(log, "eeeeeeeeeeeeeeee");
    lim = old;
    lim.rlim_cur = 1000;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    for (i = 0; i < 200; i++) {
        struct imap_event ev = limit_event((uint64_t)i);
        assert_int_equal(jlog_event(js, &ev), 0);
    }
    assert_true(wait_error(log, "File too large", 3000));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 1000); /* a line was cut at byte 1000 */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    jlog_session_free(js);
    jlog_close(log);
    signal(SIGXFSZ, oldsig);

    lines_append_file(&l, path);
    assert_int_equal(l.n, 200);
    expect_seq_run(&l, "eeeeeeeeeeeeeeee", 200);
    lines_free(&l);
    unlink(path);
}

/* Drop mode: lines over queue_max are dropped and counted, seq stays
 * without gaps, and session_close tells how many the session lost. */
static void drop_mode(int threaded)
{
    struct jlog_opts o = base_opts(threaded);
    struct jlog_close_info ci = {"logout", 1, 2, 3, 4.5, NULL};
    char link[128], real[128], err[256];
    struct lines l = {NULL, 0, 0};
    struct jlog_session *js;
    struct jlog *log;
    int i, ok = 0, dropped = 0;

    o.overflow = JLOG_OVERFLOW_DROP;
    o.queue_max = 2000;
    path_of(link, sizeof(link), "drop.log");
    path_of(real, sizeof(real), "drop-real.log");
    unlink(link);
    assert_int_equal(symlink("/dev/full", link), 0);
    log = jlog_open(link, &o, err, sizeof(err));
    assert_non_null(log);
    js = jlog_session_new(log, "ffffffffffffffff");
    for (i = 0; i < 100; i++) {
        struct imap_event ev = limit_event((uint64_t)i);
        if (jlog_event(js, &ev) == 0)
            ok++;
        else
            dropped++;
        assert_false(jlog_congested(log)); /* drop mode never goes over */
    }
    assert_true(ok > 0 && ok < 20);
    assert_int_equal(dropped, 100 - ok);
    assert_int_equal(jlog_dropped(log), (uint64_t)dropped);
    assert_int_equal(jlog_session_dropped(js), (uint64_t)dropped);

    assert_int_equal(unlink(link), 0);
    assert_int_equal(symlink(real, link), 0);
    assert_int_equal(jlog_reopen(log, err, sizeof(err)), 0);
    if (threaded) {
        int64_t end = mono_ms() + 3000;
        while (jlog_lines(log) < (uint64_t)ok && mono_ms() < end)
            usleep(2000);
    }
    for (i = 0; i < 3; i++) {
        struct imap_event ev = limit_event(1000 + (uint64_t)i);
        assert_int_equal(jlog_event(js, &ev), 0);
    }
    assert_int_equal(jlog_session_close(js, INT64_C(1795598043120441), &ci), 0);
    jlog_session_free(js);
    jlog_close(log);

    lines_append_file(&l, real);
    assert_int_equal(l.n, (size_t)ok + 4);
    expect_seq_run(&l, "ffffffffffffffff", (size_t)ok + 4);
    assert_string_equal(j_str(l.v[l.n - 1], "ev"), "session_close");
    assert_int_equal(j_int(l.v[l.n - 1], "dropped"), dropped);
    save_line(l.v[l.n - 1]);
    lines_free(&l);
    unlink(link);
    unlink(real);
}

static void test_drop_sync(void **state)
{
    (void)state;
    drop_mode(0);
}

static void test_drop_threaded(void **state)
{
    (void)state;
    drop_mode(1);
}

struct notified {
    atomic_int calls;
    pthread_t thread;
};

static void on_notify(void *arg)
{
    struct notified *n = arg;

    n->thread = pthread_self();
    atomic_fetch_add(&n->calls, 1);
}

/* Block mode: congestion is reported, nothing is dropped, and the notify
 * callback runs on the writer thread once the queue has drained. */
static void test_congestion_notify(void **state)
{
    struct jlog_opts o = base_opts(1);
    char link[128], real[128], err[256];
    struct notified n = {0, pthread_self()};
    struct lines l = {NULL, 0, 0};
    struct jlog_session *js;
    struct jlog *log;
    int64_t end;
    int i;

    (void)state;
    o.queue_max = 4096;
    path_of(link, sizeof(link), "cong.log");
    path_of(real, sizeof(real), "cong-real.log");
    unlink(link);
    assert_int_equal(symlink("/dev/full", link), 0);
    log = jlog_open(link, &o, err, sizeof(err));
    assert_non_null(log);
    jlog_set_notify(log, on_notify, &n);
    js = jlog_session_new(log, "1111111111111111");
    assert_false(jlog_congested(log));
    for (i = 0; i < 100; i++) {
        struct imap_event ev = limit_event((uint64_t)i);
        assert_int_equal(jlog_event(js, &ev), 0); /* block mode never drops */
    }
    assert_true(jlog_congested(log));
    assert_int_equal(jlog_dropped(log), 0);
    assert_int_equal(atomic_load(&n.calls), 0);

    assert_int_equal(unlink(link), 0);
    assert_int_equal(symlink(real, link), 0);
    assert_int_equal(jlog_reopen(log, err, sizeof(err)), 0);
    end = mono_ms() + 3000;
    while (atomic_load(&n.calls) == 0 && mono_ms() < end)
        usleep(1000);
    assert_int_equal(atomic_load(&n.calls), 1);
    assert_false(pthread_equal(n.thread, pthread_self()));
    assert_false(jlog_congested(log));
    jlog_session_free(js);
    jlog_close(log);

    lines_append_file(&l, real);
    assert_int_equal(l.n, 100);
    expect_seq_run(&l, "1111111111111111", 100);
    lines_free(&l);
    unlink(link);
    unlink(real);
}

static off_t file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* A line reaches the file within flush_ms, whether the writer slept (woken)
 * or was napping between batches (collected at the end of the nap). */
static void test_flush_latency(void **state)
{
    struct jlog_opts o = base_opts(1);
    char path[128], err[256];
    struct jlog_session *js;
    struct imap_event ev = limit_event(1);
    struct jlog *log;
    off_t size;
    int64_t t0;
    int i;

    (void)state;
    o.flush_ms = 50;
    path_of(path, sizeof(path), "latency.log");
    log = jlog_open(path, &o, err, sizeof(err));
    assert_non_null(log);
    js = jlog_session_new(log, NULL);
    for (i = 0; i < 3; i++) {
        size = file_size(path);
        t0 = mono_ms();
        assert_int_equal(jlog_event(js, &ev), 0);
        while (file_size(path) == size && mono_ms() - t0 < 1000)
            usleep(500);
        /* flush_ms plus slack for a loaded machine under ASan */
        assert_true(mono_ms() - t0 < 50 + 150);
        if (i == 1)
            usleep(200 * 1000); /* let the writer fall asleep again */
    }
    jlog_session_free(js);
    jlog_close(log);
    unlink(path);
}

static void test_stdout(void **state)
{
    struct jlog_opts o = base_opts(0);
    struct imap_event ev = limit_event(7);
    struct jlog_session *js;
    char err[256], buf[4096];
    struct jlog *log;
    int fds[2], saved;
    ssize_t n;

    (void)state;
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    saved = dup(1);
    dup2(fds[1], 1);
    log = jlog_open("-", &o, err, sizeof(err));
    assert_non_null(log);
    js = jlog_session_new(log, "2222222222222222");
    assert_int_equal(jlog_event(js, &ev), 0);
    assert_int_equal(jlog_reopen(log, err, sizeof(err)), 0); /* nothing to reopen */
    jlog_session_free(js);
    jlog_close(log);
    dup2(saved, 1);
    close(saved);
    close(fds[1]);
    n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "\"sid\":\"2222222222222222\",\"seq\":0,\"ev\":\"limit\""));
    assert_int_equal(buf[n - 1], '\n');
}

struct closer {
    int threaded;
    int64_t ms;
};

static void *close_dead_disk(void *arg)
{
    struct closer *c = arg;
    struct jlog_opts o = base_opts(c->threaded);
    struct jlog_session *js;
    struct imap_event ev = limit_event(1);
    char err[256];
    struct jlog *log;
    int64_t t0;
    int i;

    log = jlog_open("/dev/full", &o, err, sizeof(err));
    if (log == NULL)
        return NULL;
    js = jlog_session_new(log, NULL);
    for (i = 0; i < 10; i++)
        jlog_event(js, &ev);
    jlog_session_free(js);
    t0 = mono_ms();
    jlog_close(log);
    c->ms = mono_ms() - t0;
    return NULL;
}

/* Close gives up after 5 s of failure instead of hanging (both modes, run
 * side by side to take 5 s, not 10). */
static void test_close_gives_up(void **state)
{
    struct closer a = {1, -1}, b = {0, -1};
    pthread_t ta, tb;

    (void)state;
    pthread_create(&ta, NULL, close_dead_disk, &a);
    pthread_create(&tb, NULL, close_dead_disk, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_in_range(a.ms, 4900, 7000);
    assert_in_range(b.ms, 4900, 7000);
}

static int setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/test_jlog_sink_XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char path[512];

    (void)state;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
        unlink(path);
    }
    if (d != NULL)
        closedir(d);
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threaded_order),
        cmocka_unit_test(test_reopen_threaded),
        cmocka_unit_test(test_reopen_sync),
        cmocka_unit_test(test_dev_full_threaded),
        cmocka_unit_test(test_dev_full_sync),
        cmocka_unit_test(test_partial_write),
        cmocka_unit_test(test_drop_sync),
        cmocka_unit_test(test_drop_threaded),
        cmocka_unit_test(test_congestion_notify),
        cmocka_unit_test(test_flush_latency),
        cmocka_unit_test(test_stdout),
        cmocka_unit_test(test_close_gives_up),
    };
    return cmocka_run_group_tests_name("jlog_sink", tests, setup, teardown);
}
