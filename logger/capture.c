/*
 * capture.c - the raw capture format of capture.h: writer and reader.
 *
 * The writer goes through stdio with a 64 KiB buffer: a capture is written on
 * the relay's thread, and one write(2) per relayed read would double the
 * system calls of a busy session.  Bytes reach the file when the buffer fills
 * and at cap_writer_close().
 */
#define _DEFAULT_SOURCE /* fdopen, O_CLOEXEC with -std=c11 */

#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CAP_STDIO_BUF (64 * 1024)

struct cap_writer {
    FILE *f;
    char *path;
    int failed;
};

struct cap_reader {
    FILE *f;
    unsigned char *buf;
    size_t cap;
    uint64_t recno; /* records read so far */
    uint64_t off;   /* byte offset of the next record */
    int failed;     /* errors stick: the stream position is lost */
    char msg[160];
};

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void put_be64(unsigned char *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const unsigned char *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void errf(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
}

struct cap_writer *cap_writer_open(const char *dir, const char *name, char *err, size_t errlen)
{
    struct cap_writer *w;
    size_t n;
    int fd;

    if (dir == NULL || name == NULL || name[0] == '\0' || strchr(name, '/') != NULL ||
        strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        errf(err, errlen, "capture: bad file name");
        return NULL;
    }
    w = calloc(1, sizeof(*w));
    n = strlen(dir) + strlen(name) + sizeof("/.cap");
    if (w == NULL || (w->path = malloc(n)) == NULL) {
        free(w);
        errf(err, errlen, "capture: out of memory");
        return NULL;
    }
    snprintf(w->path, n, "%s/%s.cap", dir, name);
    /* O_EXCL: a capture is never appended to or overwritten. */
    fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || (w->f = fdopen(fd, "wb")) == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "capture %s: %s", w->path, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(w->path);
        free(w);
        return NULL;
    }
    setvbuf(w->f, NULL, _IOFBF, CAP_STDIO_BUF);
    if (fwrite(CAP_MAGIC, 1, CAP_MAGIC_LEN, w->f) != CAP_MAGIC_LEN)
        w->failed = 1;
    return w;
}

int cap_write(struct cap_writer *w, enum cap_type type, int64_t ts_us, const void *data, size_t len)
{
    const unsigned char *p = data;
    unsigned char h[CAP_HEADER_LEN];

    if (w == NULL || w->failed || type < CAP_C2S || type > CAP_TIMER || (p == NULL && len > 0))
        return -1;
    /* At least one record, even for an empty payload (EOF, TLS, TIMER). */
    do {
        size_t chunk = len < CAP_RECORD_MAX ? len : CAP_RECORD_MAX;

        h[0] = (unsigned char)type;
        h[1] = 0;
        h[2] = 0;
        h[3] = 0;
        put_be32(h + 4, (uint32_t)chunk);
        put_be64(h + 8, (uint64_t)ts_us);
        if (fwrite(h, 1, sizeof(h), w->f) != sizeof(h) ||
            (chunk > 0 && fwrite(p, 1, chunk, w->f) != chunk)) {
            w->failed = 1;
            return -1;
        }
        if (chunk > 0) /* p may be NULL for an empty record: no arithmetic on it */
            p += chunk;
        len -= chunk;
    } while (len > 0);
    return 0;
}

int cap_writer_close(struct cap_writer *w)
{
    int rc;

    if (w == NULL)
        return 0;
    rc = w->failed ? -1 : 0;
    if (fclose(w->f) != 0)
        rc = -1;
    free(w->path);
    free(w);
    return rc;
}

const char *cap_writer_path(const struct cap_writer *w)
{
    return w->path;
}

int cap_is_capture(const void *head, size_t len)
{
    return head != NULL && len >= CAP_MAGIC_LEN && memcmp(head, CAP_MAGIC, CAP_MAGIC_LEN) == 0;
}

struct cap_reader *cap_reader_new(FILE *f, char *err, size_t errlen)
{
    unsigned char magic[CAP_MAGIC_LEN];
    struct cap_reader *r;
    size_t n;

    if (f == NULL) {
        errf(err, errlen, "capture: no file");
        return NULL;
    }
    n = fread(magic, 1, sizeof(magic), f);
    if (n < sizeof(magic) && ferror(f)) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "capture: read error: %s", strerror(errno));
        return NULL;
    }
    if (!cap_is_capture(magic, n)) {
        errf(err, errlen, "not an imaptap capture (bad magic at offset 0)");
        return NULL;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        errf(err, errlen, "capture: out of memory");
        return NULL;
    }
    r->f = f;
    r->off = CAP_MAGIC_LEN;
    return r;
}

/* Makes the error stick and copies it out. */
static int rd_fail(struct cap_reader *r, char *err, size_t errlen)
{
    r->failed = 1;
    errf(err, errlen, r->msg);
    return -1;
}

int cap_read(struct cap_reader *r, struct cap_record *rec, char *err, size_t errlen)
{
    unsigned char h[CAP_HEADER_LEN];
    unsigned long long no, off;
    uint32_t len;
    size_t n;

    if (r->failed) {
        errf(err, errlen, r->msg);
        return -1;
    }
    no = (unsigned long long)r->recno + 1; /* records count from 1 in messages */
    off = (unsigned long long)r->off;
    n = fread(h, 1, sizeof(h), r->f);
    if (n == 0 && !ferror(r->f))
        return 0;
    if (n < sizeof(h)) {
        if (ferror(r->f))
            snprintf(r->msg, sizeof(r->msg), "record %llu at offset %llu: read error: %s", no, off,
                     strerror(errno));
        else
            snprintf(r->msg, sizeof(r->msg),
                     "record %llu at offset %llu: truncated header (%zu of %d bytes)", no, off, n,
                     CAP_HEADER_LEN);
        return rd_fail(r, err, errlen);
    }
    if (h[0] < CAP_C2S || h[0] > CAP_TIMER) {
        snprintf(r->msg, sizeof(r->msg), "record %llu at offset %llu: bad type %u", no, off, h[0]);
        return rd_fail(r, err, errlen);
    }
    if (h[1] != 0 || h[2] != 0 || h[3] != 0) {
        snprintf(r->msg, sizeof(r->msg),
                 "record %llu at offset %llu: bad header (flags %u, reserved %u, want 0)", no, off,
                 h[1], (unsigned)h[2] << 8 | h[3]);
        return rd_fail(r, err, errlen);
    }
    len = get_be32(h + 4);
    if (len > CAP_RECORD_MAX) {
        snprintf(r->msg, sizeof(r->msg),
                 "record %llu at offset %llu: length %lu over the maximum %u", no, off,
                 (unsigned long)len, CAP_RECORD_MAX);
        return rd_fail(r, err, errlen);
    }
    if (len > r->cap) {
        unsigned char *p = realloc(r->buf, len);
        if (p == NULL) {
            snprintf(r->msg, sizeof(r->msg), "record %llu at offset %llu: out of memory", no, off);
            return rd_fail(r, err, errlen);
        }
        r->buf = p;
        r->cap = len;
    }
    n = len > 0 ? fread(r->buf, 1, len, r->f) : 0;
    if (n < len) {
        if (ferror(r->f))
            snprintf(r->msg, sizeof(r->msg), "record %llu at offset %llu: read error: %s", no, off,
                     strerror(errno));
        else
            snprintf(r->msg, sizeof(r->msg),
                     "record %llu at offset %llu: truncated payload (%zu of %lu bytes)", no, off, n,
                     (unsigned long)len);
        return rd_fail(r, err, errlen);
    }
    rec->type = (enum cap_type)h[0];
    rec->ts_us = (int64_t)get_be64(h + 8);
    rec->data = r->buf;
    rec->len = len;
    r->recno++;
    r->off += CAP_HEADER_LEN + (uint64_t)len;
    return 1;
}

void cap_reader_free(struct cap_reader *r)
{
    if (r == NULL)
        return;
    free(r->buf);
    free(r);
}
