/*
 * test_golden.c - the golden transcripts of tests/data, replayed.
 *
 * Each case (protocol.md §8) is fed through replay.c -- session, parser and
 * logger as the proxy runs them -- whole, one byte at a time, and in random
 * splits (the order of chunks across directions is kept).  Every run must
 * give the expected events (each a subset of a logged line, in order, no
 * extra lines but session_open/tls), byte-identical relay output (as
 * relay_expect says, else pass-through), and no must_not_log string anywhere
 * in the log.  One cmocka test per case; usage: test_golden [DIR|FILE...].
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "replay.h"
#include "transcript.h"

#define RANDOM_SPLITS 4
#define BASE_TS       1764062043000000LL /* 2025-11-25T09:14:03Z */

struct gcase {
    char path[512];
    struct tr_session *ts;
};

/* every file loaded, freed at exit */
static struct tr_file *files;
static size_t nfiles;

/* xorshift64*: deterministic splits, reproducible from the seed */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* split: 0 whole, 1 byte by byte, else a random seed */
static char *run_case(const struct gcase *gc, uint64_t split, struct replay_output out[2],
                      size_t *loglen)
{
    struct replay_opts ro;
    struct jlog_opts jo;
    struct jlog *log;
    struct replay *r;
    char err[256], *text = NULL;
    FILE *tmp = tmpfile();
    char path[64];
    size_t i;
    int64_t t = BASE_TS;

    assert_non_null(tmp);
    snprintf(path, sizeof(path), "/dev/fd/%d", fileno(tmp));
    jlog_opts_default(&jo);
    log = jlog_open(path, &jo, err, sizeof(err));
    if (log == NULL)
        fail_msg("jlog_open: %s", err);
    memset(&ro, 0, sizeof(ro));
    imap_session_config_default(&ro.session);
    ro.session.relay = 1;
    if (tr_apply_config(json_object_get(gc->ts->obj, "config"), &ro.session, err, sizeof(err)) < 0)
        fail_msg("%s: %s", gc->path, err);
    ro.log = log;
    ro.sid = "00000000000000aa";
    r = replay_new(&ro);
    assert_non_null(r);
    for (i = 0; i < gc->ts->nsteps; i++) {
        const struct tr_step *st = &gc->ts->steps[i];
        t += 1000;
        if (st->is_marker) {
            assert_int_equal(replay_marker(r, st->marker, t), 0);
            continue;
        }
        if (split == 0) {
            assert_int_equal(replay_chunk(r, st->dir, st->data, st->len, t), 0);
        } else {
            size_t off = 0;
            uint64_t seed = split;
            while (off < st->len) {
                size_t n = 1;
                if (split > 1)
                    n = 1 + (size_t)(rng_next(&seed) % 17);
                if (n > st->len - off)
                    n = st->len - off;
                assert_int_equal(replay_chunk(r, st->dir, st->data + off, n, t), 0);
                off += n;
            }
        }
    }
    replay_finish(r, t, 0);
    for (i = 0; i < 2; i++) {
        const struct replay_output *o = replay_output(r, (enum imap_dir)i);
        out[i].data = malloc(o->len + 1);
        assert_non_null(out[i].data);
        if (o->len > 0)
            memcpy(out[i].data, o->data, o->len);
        out[i].len = o->len;
    }
    replay_free(r);
    jlog_close(log);
    /* read the log back */
    fseek(tmp, 0, SEEK_END);
    *loglen = (size_t)ftell(tmp);
    rewind(tmp);
    text = malloc(*loglen + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, *loglen, tmp), *loglen);
    text[*loglen] = '\0';
    fclose(tmp);
    return text;
}

/* expected is a subset of actual (objects recursively; arrays and scalars exactly) */
static int subset(const json_t *expected, const json_t *actual)
{
    const char *key;
    json_t *v;

    if (json_is_object(expected)) {
        if (!json_is_object(actual))
            return 0;
        json_object_foreach((json_t *)(uintptr_t)expected, key, v)
        {
            if (!subset(v, json_object_get(actual, key)))
                return 0;
        }
        return 1;
    }
    if (json_is_integer(expected) && json_is_real(actual))
        return (double)json_integer_value(expected) == json_real_value(actual);
    return json_equal((json_t *)(uintptr_t)expected, (json_t *)(uintptr_t)actual);
}

static void check_events(const struct gcase *gc, const char *what, const char *log)
{
    const json_t *expected = json_object_get(gc->ts->obj, "expected_events");
    json_t *lines = json_array();
    const char *p = log;
    size_t i, n;

    while (*p) {
        const char *nl = strchr(p, '\n');
        json_error_t je;
        json_t *o;
        const char *ev;
        if (nl == NULL)
            fail_msg("%s (%s): log does not end in a newline", gc->ts->name, what);
        o = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, &je);
        if (o == NULL)
            fail_msg("%s (%s): log line is not JSON: %s", gc->ts->name, what, je.text);
        ev = json_string_value(json_object_get(o, "ev"));
        if (ev != NULL && strcmp(ev, "session_open") != 0 && strcmp(ev, "tls") != 0)
            json_array_append(lines, o);
        json_decref(o);
        p = nl + 1;
    }
    n = json_array_size(expected);
    for (i = 0; i < n || i < json_array_size(lines); i++) {
        const json_t *e = json_array_get(expected, i), *a = json_array_get(lines, i);
        if (e == NULL || a == NULL || !subset(e, a)) {
            char *es = e ? json_dumps(e, JSON_COMPACT) : strdup("(none)");
            char *as = a ? json_dumps(a, JSON_COMPACT) : strdup("(none)");
            print_error("%s (%s): event %zu\n  expected: %s\n  actual:   %s\n", gc->ts->name, what,
                        i, es, as);
            free(es);
            free(as);
            json_decref(lines);
            fail();
        }
    }
    json_decref(lines);
}

static void check_relay(const struct gcase *gc, const char *what, struct replay_output out[2])
{
    const json_t *re = json_object_get(gc->ts->obj, "relay_expect");
    const char *names[2] = {"to_server", "to_client"};
    const char *streams[2] = {"c2s", "s2c"};
    int d;

    for (d = 0; d < 2; d++) {
        const json_t *want = json_is_object(re) ? json_object_get(re, names[d]) : NULL;
        unsigned char *bytes;
        size_t len;
        if (want == NULL || json_is_null(want))
            want = json_object_get(gc->ts->obj, streams[d]);
        bytes = tr_latin1_bytes(json_string_value(want), json_string_length(want), &len);
        assert_non_null(bytes);
        if (len != out[d].len || memcmp(bytes, out[d].data, len) != 0) {
            print_error(
                "%s (%s): relay %s differs\n  expected %zu bytes: %.*s\n  actual %zu bytes: "
                "%.*s\n",
                gc->ts->name, what, names[d], len, (int)(len > 600 ? 600 : len), bytes, out[d].len,
                (int)(out[d].len > 600 ? 600 : out[d].len), out[d].data);
            free(bytes);
            fail();
        }
        free(bytes);
    }
}

static void check_secrets(const struct gcase *gc, const char *what, const char *log)
{
    const json_t *mnl = json_object_get(gc->ts->obj, "must_not_log");
    size_t i;

    for (i = 0; i < json_array_size(mnl); i++) {
        const char *secret = json_string_value(json_array_get(mnl, i));
        json_t *js = json_string(secret);
        char *escaped = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
        if (strstr(log, secret) != NULL)
            fail_msg("%s (%s): \"%s\" appears in the log", gc->ts->name, what, secret);
        if (escaped != NULL) {
            escaped[strlen(escaped) - 1] = '\0'; /* drop the quotes */
            if (strstr(log, escaped + 1) != NULL)
                fail_msg("%s (%s): \"%s\" appears (escaped) in the log", gc->ts->name, what,
                         secret);
        }
        free(escaped);
        json_decref(js);
    }
}

static void golden_case(void **state)
{
    const struct gcase *gc = *state;
    struct replay_output out[2], first[2];
    char *log, what[32];
    size_t loglen;
    uint64_t split;

    memset(first, 0, sizeof(first));
    for (split = 0; split < 2 + RANDOM_SPLITS; split++) {
        snprintf(what, sizeof(what),
                 split == 0   ? "whole"
                 : split == 1 ? "bytewise"
                              : "split %u",
                 (unsigned)split);
        log = run_case(gc, split == 0 ? 0 : split == 1 ? 1 : split * 7919, out, &loglen);
        check_events(gc, what, log);
        check_relay(gc, what, out);
        check_secrets(gc, what, log);
        free(log);
        if (split == 0) {
            first[0] = out[0];
            first[1] = out[1];
        } else {
            free(out[0].data);
            free(out[1].data);
        }
    }
    free(first[0].data);
    free(first[1].data);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_file(struct CMUnitTest **tests, size_t *n, const char *path)
{
    struct tr_file tf;
    char err[512];
    size_t i;

    if (tr_load(path, &tf, err, sizeof(err)) < 0) {
        fprintf(stderr, "test_golden: %s\n", err);
        exit(1);
    }
    files = realloc(files, (nfiles + 1) * sizeof(*files));
    if (files == NULL)
        exit(1);
    files[nfiles] = tf;
    for (i = 0; i < tf.nsessions; i++) {
        struct gcase *gc = calloc(1, sizeof(*gc));
        struct CMUnitTest *t;
        if (gc == NULL)
            exit(1);
        snprintf(gc->path, sizeof(gc->path), "%s", path);
        gc->ts = &files[nfiles].sessions[i];
        *tests = realloc(*tests, (*n + 1) * sizeof(**tests));
        if (*tests == NULL)
            exit(1);
        t = &(*tests)[(*n)++];
        memset(t, 0, sizeof(*t));
        t->name = gc->ts->name;
        t->test_func = golden_case;
        t->initial_state = gc;
    }
    nfiles++;
}

int main(int argc, char **argv)
{
    struct CMUnitTest *tests = NULL;
    size_t n = 0, k;
    int i;

    if (argc < 2) {
        static char *def[] = {NULL, "tests/data"};
        argv = def;
        argc = 2;
    }
    for (i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        char **names = NULL;
        size_t nn = 0;
        struct dirent *de;
        if (d == NULL) {
            add_file(&tests, &n, argv[i]);
            continue;
        }
        while ((de = readdir(d)) != NULL) {
            size_t l = strlen(de->d_name);
            if (l > 5 && strcmp(de->d_name + l - 5, ".json") == 0) {
                names = realloc(names, (nn + 1) * sizeof(*names));
                if (names == NULL || asprintf(&names[nn++], "%s/%s", argv[i], de->d_name) < 0)
                    return 1;
            }
        }
        closedir(d);
        qsort(names, nn, sizeof(*names), by_name);
        for (k = 0; k < nn; k++) {
            add_file(&tests, &n, names[k]);
            free(names[k]);
        }
        free(names);
    }
    i = _cmocka_run_group_tests("golden", tests, n, NULL, NULL);
    for (k = 0; k < n; k++)
        free(tests[k].initial_state);
    free(tests);
    for (k = 0; k < nfiles; k++)
        tr_free(&files[k]);
    free(files);
    return i;
}
