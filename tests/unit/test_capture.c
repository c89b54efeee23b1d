/*
 * test_capture.c - logger/capture.c: the documented byte layout, a round
 * trip of every record type including a 3 MB payload split at
 * CAP_RECORD_MAX, and a reader that names the record and offset of a
 * truncated or bad record and rejects a bad magic.
 */
#define _DEFAULT_SOURCE /* mkdtemp */

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture.h"

static char tmpdir[64];

static unsigned char *read_file(const char *path, size_t *len_r)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len_r = (size_t)n;
    return buf;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* Reads path to the end; returns cap_read's last result, err set. */
static int read_to_end(const char *path, int *records_r, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    struct cap_reader *r;
    struct cap_record rec;
    int rc, n = 0;

    assert_non_null(f);
    r = cap_reader_new(f, err, errlen);
    if (r == NULL) {
        fclose(f);
        return -2;
    }
    while ((rc = cap_read(r, &rec, err, errlen)) == 1)
        n++;
    cap_reader_free(r);
    fclose(f);
    *records_r = n;
    return rc;
}

static void test_layout(void **state)
{
    static const unsigned char want[] = {
        'I',  'T',  'C',  'A',  'P',  0x00, 0x01, '\n', /* magic */
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, /* C2S, len 5 */
        0x00, 0x06, 0x61, 0x16, 0x3f, 0x85, 0x03, 0x39, /* ts */
        'a',  '1',  ' ',  'X',  '\n',                   /* payload */
        0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* S2C_EOF, len 0 */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* ts -1 */
    };
    char err[256], path[128];
    struct cap_writer *w;
    unsigned char *got;
    size_t len;

    (void)state;
    w = cap_writer_open(tmpdir, "layout", err, sizeof(err));
    assert_non_null(w);
    snprintf(path, sizeof(path), "%s/layout.cap", tmpdir);
    assert_string_equal(cap_writer_path(w), path);
    assert_int_equal(cap_write(w, CAP_C2S, INT64_C(1795598043120441), "a1 X\n", 5), 0);
    assert_int_equal(cap_write(w, CAP_S2C_EOF, -1, NULL, 0), 0);
    assert_int_equal(cap_write(w, (enum cap_type)9, 0, "x", 1), -1);
    assert_int_equal(cap_writer_close(w), 0);
    got = read_file(path, &len);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(got, want, sizeof(want));
    assert_true(cap_is_capture(got, len));
    assert_false(cap_is_capture(got, 7));
    assert_false(cap_is_capture("{\"v\":1}\n", 8));
    free(got);

    {
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
    }
    /* never overwrites */
    assert_null(cap_writer_open(tmpdir, "layout", err, sizeof(err)));
    assert_non_null(strstr(err, "layout.cap"));
    assert_null(cap_writer_open(tmpdir, "../evil", err, sizeof(err)));
    assert_null(cap_writer_open(tmpdir, "", err, sizeof(err)));
    assert_null(cap_writer_open("/nonexistent", "x", err, sizeof(err)));
    assert_int_equal(cap_writer_close(NULL), 0);
    unlink(path);
}

static void test_round_trip(void **state)
{
    size_t big = 3 * 1000 * 1000, i, got_big = 0;
    unsigned char *payload = malloc(big);
    char err[256], path[160], meta[] = "{\"sid\":\"0123456789abcdef\"}";
    struct cap_writer *w;
    struct cap_reader *r;
    struct cap_record rec;
    FILE *f;
    int n = 0;

    (void)state;
    assert_non_null(payload);
    for (i = 0; i < big; i++)
        payload[i] = (unsigned char)(i * 7 + i / 251);
    w = cap_writer_open(tmpdir, "trip", err, sizeof(err));
    assert_non_null(w);
    assert_int_equal(cap_write(w, CAP_META, 1, meta, strlen(meta)), 0);
    assert_int_equal(cap_write(w, CAP_C2S, 2, "a1 STARTTLS\r\n", 13), 0);
    assert_int_equal(cap_write(w, CAP_TLS, 3, NULL, 0), 0);
    assert_int_equal(cap_write(w, CAP_S2C, 4, payload, big), 0);
    assert_int_equal(cap_write(w, CAP_S2C, 5, "", 0), 0);
    assert_int_equal(cap_write(w, CAP_TIMER, 6, NULL, 0), 0);
    assert_int_equal(cap_write(w, CAP_C2S_EOF, 7, NULL, 0), 0);
    assert_int_equal(cap_write(w, CAP_S2C, 8, payload, CAP_RECORD_MAX), 0); /* exactly one */
    assert_int_equal(cap_writer_close(w), 0);

    snprintf(path, sizeof(path), "%s/trip.cap", tmpdir);
    f = fopen(path, "rb");
    assert_non_null(f);
    r = cap_reader_new(f, err, sizeof(err));
    assert_non_null(r);
#define NEXT(t, ts, l)                                            \
    do {                                                          \
        assert_int_equal(cap_read(r, &rec, err, sizeof(err)), 1); \
        assert_int_equal(rec.type, (t));                          \
        assert_int_equal(rec.ts_us, (ts));                        \
        assert_int_equal(rec.len, (l));                           \
        n++;                                                      \
    } while (0)
    NEXT(CAP_META, 1, strlen(meta));
    assert_memory_equal(rec.data, meta, strlen(meta));
    NEXT(CAP_C2S, 2, 13);
    assert_memory_equal(rec.data, "a1 STARTTLS\r\n", 13);
    NEXT(CAP_TLS, 3, 0);
    /* 3 MB: split at CAP_RECORD_MAX, same type and time, in order */
    while (got_big < big) {
        size_t want = big - got_big < CAP_RECORD_MAX ? big - got_big : CAP_RECORD_MAX;
        NEXT(CAP_S2C, 4, want);
        assert_memory_equal(rec.data, payload + got_big, want);
        got_big += want;
    }
    assert_int_equal(n, 3 + 3);
    NEXT(CAP_S2C, 5, 0);
    NEXT(CAP_TIMER, 6, 0);
    NEXT(CAP_C2S_EOF, 7, 0);
    NEXT(CAP_S2C, 8, CAP_RECORD_MAX);
    assert_memory_equal(rec.data, payload, CAP_RECORD_MAX);
    assert_int_equal(cap_read(r, &rec, err, sizeof(err)), 0);
    assert_int_equal(cap_read(r, &rec, err, sizeof(err)), 0);
#undef NEXT
    cap_reader_free(r);
    cap_reader_free(NULL);
    fclose(f);
    free(payload);
}

static void test_truncated(void **state)
{
    char err[256], path[128], bad[160];
    struct cap_writer *w;
    unsigned char *buf;
    size_t len;
    int n;

    (void)state;
    w = cap_writer_open(tmpdir, "whole", err, sizeof(err));
    assert_non_null(w);
    assert_int_equal(cap_write(w, CAP_C2S, 1, "abc", 3), 0);         /* at 8, 19 bytes */
    assert_int_equal(cap_write(w, CAP_S2C, 2, "0123456789", 10), 0); /* at 27, 26 bytes */
    assert_int_equal(cap_writer_close(w), 0);
    snprintf(path, sizeof(path), "%s/whole.cap", tmpdir);
    buf = read_file(path, &len);
    assert_int_equal(len, 53);
    snprintf(bad, sizeof(bad), "%s/bad.cap", tmpdir);

    assert_int_equal(read_to_end(path, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);

    /* cut inside the second payload */
    write_file(bad, buf, len - 4);
    assert_int_equal(read_to_end(bad, &n, err, sizeof(err)), -1);
    assert_int_equal(n, 1);
    assert_string_equal(err, "record 2 at offset 27: truncated payload (6 of 10 bytes)");

    /* cut inside the second header */
    write_file(bad, buf, 27 + 5);
    assert_int_equal(read_to_end(bad, &n, err, sizeof(err)), -1);
    assert_string_equal(err, "record 2 at offset 27: truncated header (5 of 16 bytes)");

    /* only the magic: a valid, empty capture */
    write_file(bad, buf, 8);
    assert_int_equal(read_to_end(bad, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);

    /* bad type, bad flags, length over the maximum */
    buf[27] = 8;
    write_file(bad, buf, len);
    assert_int_equal(read_to_end(bad, &n, err, sizeof(err)), -1);
    assert_string_equal(err, "record 2 at offset 27: bad type 8");
    buf[27] = 0;
    write_file(bad, buf, len);
    assert_int_equal(read_to_end(bad, &n, err, sizeof(err)), -1);
    assert_string_equal(err, "record 2 at offset 27: bad type 0");
    buf[27] = CAP_S2C;
    buf[28] = 1;
    write_file(bad, buf, len);
    assert_int_equal(read_to_end(bad, &n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "record 2 at offset 27: bad header"));
    buf[28] = 0;
    buf[31] = 0x10; /* length 0x10000000 + 10 */
    write_file(bad, buf, len);
    assert_int_equal(read_to_end(bad, &n, err, sizeof(err)), -1);
    assert_string_equal(err, "record 2 at offset 27: length 268435466 over the maximum 1048576");
    buf[31] = 0;
    free(buf);
}

static void test_bad_magic(void **state)
{
    char err[256], bad[160];
    int n;

    (void)state;
    snprintf(bad, sizeof(bad), "%s/magic.cap", tmpdir);
    write_file(bad, "ITCAP\x00\x02\n", 8); /* version 2 */
    assert_int_equal(read_to_end(bad, &n, err, sizeof(err)), -2);
    assert_non_null(strstr(err, "bad magic"));
    write_file(bad, "{\"v\":1,\"ts\":\"x\"}\n", 17); /* a JSON log */
    assert_int_equal(read_to_end(bad, &n, err, sizeof(err)), -2);
    write_file(bad, "ITC", 3); /* shorter than the magic */
    assert_int_equal(read_to_end(bad, &n, err, sizeof(err)), -2);
    write_file(bad, "", 0);
    assert_int_equal(read_to_end(bad, &n, err, sizeof(err)), -2);
    assert_non_null(strstr(err, "bad magic"));
}

static int setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/test_capture_XXXXXX");
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
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bad_magic),
    };
    return cmocka_run_group_tests_name("capture", tests, setup, teardown);
}
