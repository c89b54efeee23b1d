/*
 * test_logread.c - tools/logread.c: several files in order, stdin, a bad
 * line reported with its file and line number while the rest is read, a
 * truncated last line, empty files and blank lines, the line length limit
 * at and one past it, follow mode (a file appended to by a thread, then
 * truncated and rotated under the reader; a pipe), and the ev_* helpers.
 *
 * Build: -Itools, linked with tools/logread.c and jansson; -lpthread.
 */
#define _DEFAULT_SOURCE /* mkdtemp */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "logread.h"

/* logread.c's LOGREAD_LINE_MAX: the longest line read (without newline) */
#define LINE_MAX_TESTED (64u << 20)

static char tmpdir[64];

struct warning {
    char path[256];
    unsigned long lineno;
    char why[256];
};

struct warnings {
    struct warning w[16];
    size_t n;
};

static void collect(void *arg, const char *path, unsigned long lineno, const char *why)
{
    struct warnings *ws = arg;

    if (ws->n < sizeof(ws->w) / sizeof(ws->w[0])) {
        snprintf(ws->w[ws->n].path, sizeof(ws->w[0].path), "%s", path);
        ws->w[ws->n].lineno = lineno;
        snprintf(ws->w[ws->n].why, sizeof(ws->w[0].why), "%s", why);
    }
    ws->n++;
}

static void path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void append_file(const char *path, const char *data)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    size_t len = strlen(data);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* A log line with "seq": n. */
static const char *line_n(char *buf, size_t len, int n)
{
    snprintf(buf, len,
             "{\"v\":1,\"ts\":\"2026-11-25T09:14:03.120441Z\",\"sid\":\"0123456789abcdef\","
             "\"seq\":%d,\"ev\":\"command\",\"tag\":\"a%d\",\"cmd\":\"NOOP\"}\n",
             n, n);
    return buf;
}

/* Reads one event and checks its seq and, if where is not NULL, where. */
static void expect_event(struct logread *lr, int seq, const char *where)
{
    json_t *ev = NULL;
    const char *w = NULL;
    char err[256];

    assert_int_equal(logread_next(lr, &ev, &w, err, sizeof(err)), 1);
    assert_non_null(ev);
    assert_int_equal(ev_int(ev, "seq", -1), seq);
    if (where != NULL) {
        char full[512];
        if (where[0] == ':')
            snprintf(full, sizeof(full), "%s%s", "stdin", where);
        else
            snprintf(full, sizeof(full), "%s/%s", tmpdir, where);
        assert_string_equal(w, full);
    }
    json_decref(ev);
}

static void expect_end(struct logread *lr)
{
    json_t *ev = (json_t *)1;
    char err[256];

    assert_int_equal(logread_next(lr, &ev, NULL, err, sizeof(err)), 0);
    assert_null(ev);
    /* and it stays at the end */
    assert_int_equal(logread_next(lr, &ev, NULL, err, sizeof(err)), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_logread.XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_several_files(void **state)
{
    char a[256], b[256], c[256], l[512], data[2048];
    const char *paths[4];
    struct warnings ws = {.n = 0};
    struct logread *lr;
    char err[256];
    size_t n;

    (void)state;
    path_of(a, sizeof(a), "a.jsonl");
    path_of(b, sizeof(b), "b.jsonl");
    path_of(c, sizeof(c), "c.jsonl");
    n = (size_t)snprintf(data, sizeof(data), "%s", line_n(l, sizeof(l), 0));
    n += (size_t)snprintf(data + n, sizeof(data) - n, "%s", line_n(l, sizeof(l), 1));
    write_file(a, data, n);
    write_file(b, "", 0);
    line_n(l, sizeof(l), 2);
    write_file(c, l, strlen(l));
    paths[0] = a;
    paths[1] = b;
    paths[2] = c;
    paths[3] = NULL;
    lr = logread_open(paths, 0, collect, &ws, err, sizeof(err));
    assert_non_null(lr);
    assert_int_equal(logread_total(lr), n + strlen(l));
    expect_event(lr, 0, "a.jsonl:1");
    expect_event(lr, 1, "a.jsonl:2");
    expect_event(lr, 2, "c.jsonl:1");
    expect_end(lr);
    assert_int_equal(logread_bytes(lr), n + strlen(l));
    assert_int_equal(logread_bad_lines(lr), 0);
    assert_int_equal(ws.n, 0);
    logread_close(lr);
}

/* Runs with stdin read from path. */
static void with_stdin(const char *path, void (*fn)(void))
{
    int saved = dup(STDIN_FILENO), fd = open(path, O_RDONLY);

    assert_true(saved >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
    close(fd);
    fn();
    assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
    close(saved);
}

static void read_stdin_null(void)
{
    char err[256];
    struct logread *lr = logread_open(NULL, 0, NULL, NULL, err, sizeof(err));

    assert_non_null(lr);
    assert_int_equal(logread_total(lr), 0); /* unknown for stdin */
    expect_event(lr, 7, ":1");
    expect_event(lr, 8, ":2");
    expect_end(lr);
    logread_close(lr);
}

static void read_stdin_dash(void)
{
    const char *paths[] = {"-", NULL};
    char err[256];
    struct logread *lr = logread_open(paths, 0, NULL, NULL, err, sizeof(err));

    assert_non_null(lr);
    expect_event(lr, 7, ":1");
    expect_event(lr, 8, ":2");
    expect_end(lr);
    logread_close(lr);
}

static void test_stdin(void **state)
{
    char p[256], l[512], data[1024];
    size_t n;

    (void)state;
    path_of(p, sizeof(p), "in.jsonl");
    n = (size_t)snprintf(data, sizeof(data), "%s", line_n(l, sizeof(l), 7));
    n += (size_t)snprintf(data + n, sizeof(data) - n, "%s", line_n(l, sizeof(l), 8));
    write_file(p, data, n);
    with_stdin(p, read_stdin_null);
    with_stdin(p, read_stdin_dash);
}

static void test_bad_lines(void **state)
{
    char p[256], l[512], data[4096];
    const char *paths[2];
    struct warnings ws = {.n = 0};
    struct logread *lr;
    char err[256];
    size_t n = 0;

    (void)state;
    path_of(p, sizeof(p), "bad.jsonl");
    n += (size_t)snprintf(data + n, sizeof(data) - n, "%s", line_n(l, sizeof(l), 0));
    n += (size_t)snprintf(data + n, sizeof(data) - n, "this is not json\n");
    n += (size_t)snprintf(data + n, sizeof(data) - n, "%s", line_n(l, sizeof(l), 1));
    n += (size_t)snprintf(data + n, sizeof(data) - n, "[1, 2]\n");
    n += (size_t)snprintf(data + n, sizeof(data) - n, "{\"v\":2,\"ev\":\"command\"}\n");
    n += (size_t)snprintf(data + n, sizeof(data) - n, "{\"v\":1,\"ev\":\"command\",\"x\":\n");
    n += (size_t)snprintf(data + n, sizeof(data) - n, "%s", line_n(l, sizeof(l), 2));
    write_file(p, data, n);
    paths[0] = p;
    paths[1] = NULL;
    lr = logread_open(paths, 0, collect, &ws, err, sizeof(err));
    assert_non_null(lr);
    expect_event(lr, 0, "bad.jsonl:1");
    expect_event(lr, 1, "bad.jsonl:3");
    expect_event(lr, 2, "bad.jsonl:7");
    expect_end(lr);
    assert_int_equal(logread_bad_lines(lr), 4);
    assert_int_equal(ws.n, 4);
    assert_string_equal(ws.w[0].path, p);
    assert_int_equal(ws.w[0].lineno, 2);
    assert_non_null(strstr(ws.w[0].why, "not JSON"));
    assert_int_equal(ws.w[1].lineno, 4);
    assert_non_null(strstr(ws.w[1].why, "not a JSON object"));
    assert_int_equal(ws.w[2].lineno, 5);
    assert_non_null(strstr(ws.w[2].why, "version"));
    assert_int_equal(ws.w[3].lineno, 6);
    assert_non_null(strstr(ws.w[3].why, "not JSON"));
    logread_close(lr);
}

/* Without a callback the warning is one line on stderr: FILE:LINE: why. */
static void test_bad_line_to_stderr(void **state)
{
    char p[256], errp[256], l[512], data[1024], got[1024], want[512];
    const char *paths[2];
    struct logread *lr;
    char err[256];
    int saved, fd;
    size_t n = 0;
    FILE *f;

    (void)state;
    path_of(p, sizeof(p), "stderr.jsonl");
    path_of(errp, sizeof(errp), "stderr.txt");
    n += (size_t)snprintf(data + n, sizeof(data) - n, "{oops\n");
    n += (size_t)snprintf(data + n, sizeof(data) - n, "%s", line_n(l, sizeof(l), 3));
    write_file(p, data, n);
    paths[0] = p;
    paths[1] = NULL;
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, STDERR_FILENO);
    close(fd);
    lr = logread_open(paths, 0, NULL, NULL, err, sizeof(err));
    assert_non_null(lr);
    expect_event(lr, 3, "stderr.jsonl:2");
    expect_end(lr);
    logread_close(lr);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    f = fopen(errp, "r");
    assert_non_null(f);
    assert_non_null(fgets(got, sizeof(got), f));
    assert_null(fgets(got + strlen(got), (int)(sizeof(got) - strlen(got)), f)); /* one line */
    fclose(f);
    snprintf(want, sizeof(want), "%s:1: not JSON", p);
    assert_memory_equal(got, want, strlen(want));
}

static void test_truncated_last_line(void **state)
{
    char p[256], l[512], data[1024];
    const char *paths[2];
    struct warnings ws = {.n = 0};
    struct logread *lr;
    char err[256];
    size_t n = 0;

    (void)state;
    path_of(p, sizeof(p), "trunc.jsonl");
    n += (size_t)snprintf(data + n, sizeof(data) - n, "%s", line_n(l, sizeof(l), 0));
    n += (size_t)snprintf(data + n, sizeof(data) - n, "%s", line_n(l, sizeof(l), 1));
    /* the writer was cut off: a whole object but no newline, then half */
    n -= 1;
    write_file(p, data, n);
    paths[0] = p;
    paths[1] = NULL;
    lr = logread_open(paths, 0, collect, &ws, err, sizeof(err));
    assert_non_null(lr);
    expect_event(lr, 0, "trunc.jsonl:1");
    expect_end(lr);
    assert_int_equal(ws.n, 1);
    assert_int_equal(ws.w[0].lineno, 2);
    assert_non_null(strstr(ws.w[0].why, "truncated"));
    assert_int_equal(logread_bad_lines(lr), 1);
    logread_close(lr);

    /* half a line */
    write_file(p, data, n - 20);
    ws.n = 0;
    lr = logread_open(paths, 0, collect, &ws, err, sizeof(err));
    assert_non_null(lr);
    expect_event(lr, 0, NULL);
    expect_end(lr);
    assert_int_equal(ws.n, 1);
    assert_int_equal(ws.w[0].lineno, 2);
    logread_close(lr);
}

static void test_empty_and_blank(void **state)
{
    char p[256], q[256], l[512], data[1024];
    const char *paths[3];
    struct warnings ws = {.n = 0};
    struct logread *lr;
    char err[256];
    size_t n = 0;

    (void)state;
    path_of(p, sizeof(p), "empty.jsonl");
    write_file(p, "", 0);
    paths[0] = p;
    paths[1] = NULL;
    lr = logread_open(paths, 0, collect, &ws, err, sizeof(err));
    assert_non_null(lr);
    assert_int_equal(logread_total(lr), 0);
    expect_end(lr);
    assert_int_equal(ws.n, 0);
    assert_int_equal(logread_bad_lines(lr), 0);
    logread_close(lr);

    /* blank lines and CRLF endings are not errors; line numbers count them */
    path_of(q, sizeof(q), "blank.jsonl");
    n += (size_t)snprintf(data + n, sizeof(data) - n, "\n  \n");
    line_n(l, sizeof(l), 5);
    l[strlen(l) - 1] = '\0';
    n += (size_t)snprintf(data + n, sizeof(data) - n, "%s\r\n\n", l);
    write_file(q, data, n);
    paths[0] = p;
    paths[1] = q;
    paths[2] = NULL;
    lr = logread_open(paths, 0, collect, &ws, err, sizeof(err));
    assert_non_null(lr);
    expect_event(lr, 5, "blank.jsonl:3");
    expect_end(lr);
    assert_int_equal(ws.n, 0);
    logread_close(lr);
}

static void test_open_errors(void **state)
{
    char p[256], missing[256], err[256];
    const char *paths[3];
    struct logread *lr;

    (void)state;
    path_of(p, sizeof(p), "exists.jsonl");
    write_file(p, "", 0);
    path_of(missing, sizeof(missing), "missing.jsonl");
    paths[0] = p;
    paths[1] = missing;
    paths[2] = NULL;
    err[0] = '\0';
    lr = logread_open(paths, 0, NULL, NULL, err, sizeof(err));
    assert_null(lr);
    assert_non_null(strstr(err, missing));
    assert_non_null(strstr(err, strerror(ENOENT)));
    paths[1] = tmpdir;
    lr = logread_open(paths, 0, NULL, NULL, err, sizeof(err));
    assert_null(lr);
    assert_non_null(strstr(err, "directory"));
}

/* A line of exactly the limit is read, one byte more is skipped with a
 * warning, and the next line is read with the right number. */
static void test_line_limit(void **state)
{
    const char *head = "{\"v\":1,\"seq\":1,\"pad\":\"", *tail = "\"}\n";
    size_t fill = LINE_MAX_TESTED - strlen(head) - 2, n;
    char p[256], l[512], err[256];
    const char *paths[2];
    struct warnings ws = {.n = 0};
    struct logread *lr;
    char *data;

    (void)state;
    /* line 1: LINE_MAX bytes; line 2: LINE_MAX + 1; line 3: short */
    data = malloc(2 * LINE_MAX_TESTED + 1024);
    assert_non_null(data);
    n = 0;
    memcpy(data + n, head, strlen(head));
    n += strlen(head);
    memset(data + n, 'x', fill);
    n += fill;
    memcpy(data + n, tail, strlen(tail));
    n += strlen(tail);
    assert_int_equal(n, LINE_MAX_TESTED + 1);
    memcpy(data + n, head, strlen(head));
    n += strlen(head);
    memset(data + n, 'y', fill + 1);
    n += fill + 1;
    memcpy(data + n, tail, strlen(tail));
    n += strlen(tail);
    line_n(l, sizeof(l), 3);
    memcpy(data + n, l, strlen(l));
    n += strlen(l);
    path_of(p, sizeof(p), "long.jsonl");
    write_file(p, data, n);
    free(data);
    paths[0] = p;
    paths[1] = NULL;
    lr = logread_open(paths, 0, collect, &ws, err, sizeof(err));
    assert_non_null(lr);
    expect_event(lr, 1, "long.jsonl:1");
    expect_event(lr, 3, "long.jsonl:3");
    expect_end(lr);
    assert_int_equal(ws.n, 1);
    assert_int_equal(ws.w[0].lineno, 2);
    assert_non_null(strstr(ws.w[0].why, "longer than"));
    logread_close(lr);

    /* an over-long last line without a newline is reported once */
    data = malloc(LINE_MAX_TESTED + 16);
    assert_non_null(data);
    memset(data, 'z', LINE_MAX_TESTED + 16);
    write_file(p, data, LINE_MAX_TESTED + 16);
    free(data);
    ws.n = 0;
    lr = logread_open(paths, 0, collect, &ws, err, sizeof(err));
    assert_non_null(lr);
    expect_end(lr);
    assert_int_equal(ws.n, 1);
    assert_int_equal(ws.w[0].lineno, 1);
    assert_int_equal(logread_bad_lines(lr), 1);
    logread_close(lr);
}

/* ---- follow mode ---- */

struct writer {
    char path[256];
};

/* Appends to a followed file, half a line at a time, then truncates it
 * (logrotate's copytruncate) and then renames it away and starts a new one
 * (create mode), pausing longer than the reader's poll between steps. */
static void *follow_writer(void *arg)
{
    struct writer *w = arg;
    char l[512], rotated[300];
    size_t half;
    int fd;

    sleep_ms(300);
    line_n(l, sizeof(l), 1);
    half = strlen(l) / 2;
    l[half] = '\0';
    append_file(w->path, l); /* half a line: the reader waits for the rest */
    sleep_ms(500);
    line_n(l, sizeof(l), 1);
    append_file(w->path, l + half);
    sleep_ms(500);
    fd = open(w->path, O_WRONLY | O_TRUNC);
    if (fd >= 0)
        close(fd);
    append_file(w->path, "{\"v\":1,\"seq\":2}\n"); /* shorter than what was read */
    sleep_ms(500);
    snprintf(rotated, sizeof(rotated), "%s.1", w->path);
    rename(w->path, rotated);
    append_file(w->path, line_n(l, sizeof(l), 3));
    return NULL;
}

static void test_follow_file(void **state)
{
    char l[512], err[256];
    const char *paths[2];
    struct warnings ws = {.n = 0};
    struct writer w;
    struct logread *lr;
    pthread_t th;

    (void)state;
    path_of(w.path, sizeof(w.path), "follow.jsonl");
    line_n(l, sizeof(l), 0);
    write_file(w.path, l, strlen(l));
    paths[0] = w.path;
    paths[1] = NULL;
    lr = logread_open(paths, 1, collect, &ws, err, sizeof(err));
    assert_non_null(lr);
    assert_int_equal(pthread_create(&th, NULL, follow_writer, &w), 0);
    expect_event(lr, 0, "follow.jsonl:1");
    expect_event(lr, 1, "follow.jsonl:2"); /* the half line was not an error */
    expect_event(lr, 2, "follow.jsonl:1"); /* after the truncation */
    expect_event(lr, 3, "follow.jsonl:1"); /* the new file */
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(logread_bad_lines(lr), 0);
    /* the truncation was said, as a note */
    assert_int_equal(ws.n, 1);
    assert_non_null(strstr(ws.w[0].why, "truncated"));
    logread_close(lr);
}

struct pipe_writer {
    int fd;
};

static void *pipe_writer(void *arg)
{
    struct pipe_writer *pw = arg;
    char l[512];
    int i;

    for (i = 0; i < 3; i++) {
        line_n(l, sizeof(l), i);
        if (write(pw->fd, l, strlen(l)) < 0)
            break;
        sleep_ms(100);
    }
    close(pw->fd);
    return NULL;
}

/* Following stdin that is a pipe: events as they come, the end when the
 * writer closes (a pipe cannot grow again). */
static void test_follow_pipe(void **state)
{
    struct pipe_writer pw;
    struct logread *lr;
    char err[256];
    pthread_t th;
    int fds[2], saved;

    (void)state;
    assert_int_equal(pipe(fds), 0);
    saved = dup(STDIN_FILENO);
    assert_true(saved >= 0);
    dup2(fds[0], STDIN_FILENO);
    close(fds[0]);
    pw.fd = fds[1];
    lr = logread_open(NULL, 1, NULL, NULL, err, sizeof(err));
    assert_non_null(lr);
    assert_int_equal(pthread_create(&th, NULL, pipe_writer, &pw), 0);
    expect_event(lr, 0, ":1");
    expect_event(lr, 1, ":2");
    expect_event(lr, 2, ":3");
    expect_end(lr);
    assert_int_equal(pthread_join(th, NULL), 0);
    logread_close(lr);
    dup2(saved, STDIN_FILENO);
    close(saved);
}

/* ---- helpers over one event ---- */

static void test_ev_helpers(void **state)
{
    json_t *ev = json_loads("{\"ts\":\"2026-11-25T09:14:03.120441Z\",\"s\":\"x\",\"i\":42,"
                            "\"r\":2.5,\"big\":1e300,\"o\":{}}",
                            0, NULL);
    static const struct {
        const char *ts;
        int64_t us;
    } cases[] = {
        {"2026-11-25T09:14:03.120441Z", INT64_C(1795598043120441)},
        {"1970-01-01T00:00:00.000000Z", 0},
        {"2000-02-29T23:59:59Z", INT64_C(951868799000000)},
        {"1969-12-31T23:59:59.500000Z", -500000},
        {"2026-11-25T09:14:03.1Z", INT64_C(1795598043100000)},
        {"2026-11-25 09:14:03.120441Z", -1},
        {"2026-11-25T09:14:03.120441", -1},
        {"2026-13-25T09:14:03.120441Z", -1},
        {"2026-11-25T09:14:03.120441Z junk", -1},
        {"", -1},
    };
    size_t i;

    (void)state;
    assert_non_null(ev);
    assert_string_equal(ev_str(ev, "s"), "x");
    assert_null(ev_str(ev, "i"));
    assert_null(ev_str(ev, "missing"));
    assert_int_equal(ev_int(ev, "i", -1), 42);
    assert_int_equal(ev_int(ev, "r", -1), 2);
    assert_int_equal(ev_int(ev, "big", -7), -7); /* out of range: the default */
    assert_int_equal(ev_int(ev, "s", -1), -1);
    assert_int_equal(ev_int(ev, "missing", 9), 9);
    assert_true(ev_num(ev, "r", 0) == 2.5);
    assert_true(ev_num(ev, "i", 0) == 42.0);
    assert_true(ev_num(ev, "o", -1) == -1.0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object_set_new(ev, "ts", json_string(cases[i].ts));
        assert_int_equal(ev_ts_us(ev), cases[i].us);
    }
    json_object_del(ev, "ts");
    assert_int_equal(ev_ts_us(ev), -1);
    json_decref(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_several_files),       cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_bad_lines),           cmocka_unit_test(test_bad_line_to_stderr),
        cmocka_unit_test(test_truncated_last_line), cmocka_unit_test(test_empty_and_blank),
        cmocka_unit_test(test_open_errors),         cmocka_unit_test(test_line_limit),
        cmocka_unit_test(test_follow_file),         cmocka_unit_test(test_follow_pipe),
        cmocka_unit_test(test_ev_helpers),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
