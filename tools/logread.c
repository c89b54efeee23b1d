/*
 * logread.c - reading imaptap's JSON-lines log (logread.h).
 *
 * Files are opened one at a time (a glob of thousands of rotated logs must
 * not run out of descriptors) and read in large chunks with read(2); lines
 * are cut with memchr and parsed with json_loadb.  Memory is one buffer that
 * grows to the longest line seen, capped at LOGREAD_LINE_MAX.
 */
#include "logread.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOGREAD_CHUNK     (1u << 20)  /* one read(2) */
#define LOGREAD_LINE_MAX  (64u << 20) /* longer lines are skipped */
#define LOGREAD_FOLLOW_MS 200         /* sleep at EOF when following */

struct logread {
    char **paths; /* copies of the caller's paths */
    size_t npaths;
    size_t cur; /* index of the file being read */
    int fd;     /* -1 before the current file is opened */
    int follow;
    int is_reg; /* the current file is a regular file (can grow) */
    dev_t dev;  /* of the current file, to notice rotation */
    ino_t ino;
    off_t pos;            /* bytes read from the current file */
    unsigned long lineno; /* last line started in the current file */
    int skipping;         /* discarding the rest of an over-long line */
    char *buf;
    size_t cap, start, len; /* unread bytes are buf[start, start + len) */
    uint64_t bytes, total;
    unsigned long bad;
    logread_warn_cb *warn;
    void *warn_arg;
    char where[512];
};

static const char *lr_name(const struct logread *lr)
{
    const char *p = lr->paths[lr->cur];

    return strcmp(p, "-") == 0 ? "stdin" : p;
}

static void lr_warn(struct logread *lr, unsigned long lineno, const char *why, int bad)
{
    if (bad)
        lr->bad++;
    if (lr->warn != NULL)
        lr->warn(lr->warn_arg, lr_name(lr), lineno, why);
    else
        fprintf(stderr, "%s:%lu: %s\n", lr_name(lr), lineno, why);
}

static int lr_is_last(const struct logread *lr)
{
    return lr->cur + 1 == lr->npaths;
}

/* Opens paths[cur]; the file was checked by logread_open, but may be gone. */
static int lr_open_cur(struct logread *lr, char *err, size_t errlen)
{
    const char *p = lr->paths[lr->cur];
    struct stat st;

    if (strcmp(p, "-") == 0) {
        lr->fd = STDIN_FILENO;
    } else {
        lr->fd = open(p, O_RDONLY | O_CLOEXEC);
        if (lr->fd < 0) {
            snprintf(err, errlen, "%s: %s", p, strerror(errno));
            return -1;
        }
    }
    lr->is_reg = 0;
    if (fstat(lr->fd, &st) == 0 && S_ISREG(st.st_mode)) {
        lr->is_reg = 1;
        lr->dev = st.st_dev;
        lr->ino = st.st_ino;
    }
    lr->pos = 0;
    lr->lineno = 0;
    lr->skipping = 0;
    lr->start = lr->len = 0;
    return 0;
}

static void lr_close_cur(struct logread *lr)
{
    if (lr->fd > STDIN_FILENO)
        close(lr->fd);
    lr->fd = -1;
}

struct logread *logread_open(const char *const *paths, int follow, logread_warn_cb *warn,
                             void *warn_arg, char *err, size_t errlen)
{
    static const char *const dash[] = {"-", NULL};
    struct logread *lr;
    size_t i, n = 0;
    int known = 1;

    if (paths == NULL || paths[0] == NULL)
        paths = dash;
    while (paths[n] != NULL)
        n++;
    lr = calloc(1, sizeof(*lr));
    if (lr == NULL || (lr->paths = calloc(n, sizeof(*lr->paths))) == NULL) {
        free(lr);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    lr->npaths = n;
    lr->fd = -1;
    lr->follow = follow;
    lr->warn = warn;
    lr->warn_arg = warn_arg;
    /* every file is checked now, so a typo fails before any output */
    for (i = 0; i < n; i++) {
        struct stat st;
        int fd;

        lr->paths[i] = strdup(paths[i]);
        if (lr->paths[i] == NULL) {
            snprintf(err, errlen, "out of memory");
            logread_close(lr);
            return NULL;
        }
        if (strcmp(paths[i], "-") == 0) {
            known = 0;
            continue;
        }
        fd = open(paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            snprintf(err, errlen, "%s: %s", paths[i], strerror(errno));
            logread_close(lr);
            return NULL;
        }
        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "%s: is a directory", paths[i]);
            close(fd);
            logread_close(lr);
            return NULL;
        }
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
            lr->total += (uint64_t)st.st_size;
        else
            known = 0;
        close(fd);
    }
    if (!known)
        lr->total = 0;
    lr->cap = LOGREAD_CHUNK;
    lr->buf = malloc(lr->cap);
    if (lr->buf == NULL) {
        snprintf(err, errlen, "out of memory");
        logread_close(lr);
        return NULL;
    }
    if (lr_open_cur(lr, err, errlen) < 0) {
        logread_close(lr);
        return NULL;
    }
    return lr;
}

/* Makes room for one more chunk after the unread bytes (at most
 * LOGREAD_LINE_MAX + 2 chunks: longer lines are dropped before). */
static int lr_room(struct logread *lr)
{
    if (lr->start > 0 && lr->start + lr->len + LOGREAD_CHUNK > lr->cap) {
        memmove(lr->buf, lr->buf + lr->start, lr->len);
        lr->start = 0;
    }
    if (lr->len + LOGREAD_CHUNK > lr->cap) {
        size_t ncap = lr->cap * 2;
        char *nbuf;

        while (ncap < lr->len + LOGREAD_CHUNK)
            ncap *= 2;
        if ((nbuf = realloc(lr->buf, ncap)) == NULL)
            return -1;
        lr->buf = nbuf;
        lr->cap = ncap;
    }
    return 0;
}

static void lr_too_long(struct logread *lr)
{
    char why[96];

    snprintf(why, sizeof(why), "line longer than %u bytes, skipped", (unsigned)LOGREAD_LINE_MAX);
    lr_warn(lr, lr->lineno, why, 1);
}

static void lr_sleep(void)
{
    struct timespec ts = {0, LOGREAD_FOLLOW_MS * 1000000L};

    nanosleep(&ts, NULL);
}

/*
 * At the end of the last file while following: 1 when there may be more to
 * read (after a pause), having reopened a rotated file or rewound a
 * truncated one.  The file keeps its name; a partial line left by a writer
 * that was cut off before a rotation is reported.
 */
static int lr_follow_wait(struct logread *lr, char *err, size_t errlen)
{
    struct stat now, path_st;

    lr_sleep();
    if (fstat(lr->fd, &now) == 0 && now.st_size < lr->pos) {
        /* copytruncate: start over, the partial line is gone with it */
        lr_warn(lr, lr->lineno, "file truncated; reading it from the start", 0);
        if (lseek(lr->fd, 0, SEEK_SET) < 0) {
            snprintf(err, errlen, "%s: %s", lr_name(lr), strerror(errno));
            return -1;
        }
        lr->pos = 0;
        lr->lineno = 0;
        lr->start = lr->len = 0;
        lr->skipping = 0;
        return 1;
    }
    if (strcmp(lr->paths[lr->cur], "-") != 0 && stat(lr->paths[lr->cur], &path_st) == 0 &&
        (path_st.st_dev != lr->dev || path_st.st_ino != lr->ino)) {
        /* rotated: the old file may have got a last write since our read */
        ssize_t r;

        if (lr_room(lr) == 0 &&
            (r = read(lr->fd, lr->buf + lr->start + lr->len, LOGREAD_CHUNK)) > 0) {
            lr->len += (size_t)r;
            lr->pos += r;
            lr->bytes += (uint64_t)r;
            return 1;
        }
        if (lr->len > 0 && !lr->skipping)
            lr_warn(lr, lr->lineno + 1, "truncated last line (no newline at the end)", 1);
        lr_close_cur(lr);
        if (lr_open_cur(lr, err, errlen) < 0) {
            /* between the rename and the new file's creation */
            if (errno == ENOENT) {
                err[0] = '\0';
                while (lr_open_cur(lr, err, errlen) < 0 && errno == ENOENT)
                    lr_sleep();
                if (lr->fd >= 0)
                    return 1;
            }
            return -1;
        }
        return 1;
    }
    return 1;
}

/* Reads more bytes into the buffer: 1 read, 0 end of the current file,
 * -1 error. */
static int lr_fill(struct logread *lr, char *err, size_t errlen)
{
    ssize_t r;

    if (lr->len > LOGREAD_LINE_MAX) {
        /* no newline in more than the limit: skip to the end of this line */
        if (!lr->skipping) {
            lr->lineno++;
            lr_too_long(lr);
            lr->skipping = 1;
        }
        lr->start = lr->len = 0;
    }
    if (lr_room(lr) < 0) {
        snprintf(err, errlen, "%s: out of memory", lr_name(lr));
        return -1;
    }
    for (;;) {
        r = read(lr->fd, lr->buf + lr->start + lr->len, LOGREAD_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        break;
    }
    if (r < 0) {
        snprintf(err, errlen, "%s: %s", lr_name(lr), strerror(errno));
        return -1;
    }
    lr->len += (size_t)r;
    lr->pos += r;
    lr->bytes += (uint64_t)r;
    return r > 0;
}

/* Parses one line (without its newline); 1 and *ev_r on success, 0 when it
 * was skipped. */
static int lr_parse(struct logread *lr, char *line, size_t n, json_t **ev_r)
{
    json_error_t jerr;
    json_t *ev, *v;
    char why[256];
    size_t i;

    if (n > 0 && line[n - 1] == '\r')
        n--;
    for (i = 0; i < n && (line[i] == ' ' || line[i] == '\t'); i++)
        ;
    if (i == n)
        return 0; /* a blank line carries nothing, it is not an error */
    ev = json_loadb(line, n, JSON_ALLOW_NUL, &jerr);
    if (ev == NULL) {
        snprintf(why, sizeof(why), "not JSON: %s (column %d)", jerr.text, jerr.column);
        lr_warn(lr, lr->lineno, why, 1);
        return 0;
    }
    if (!json_is_object(ev)) {
        json_decref(ev);
        lr_warn(lr, lr->lineno, "not a JSON object", 1);
        return 0;
    }
    v = json_object_get(ev, "v");
    if (!json_is_integer(v) || json_integer_value(v) != 1) {
        json_decref(ev);
        lr_warn(lr, lr->lineno,
                v == NULL ? "not an imaptap event (no \"v\")" : "schema version is not 1", 1);
        return 0;
    }
    *ev_r = ev;
    return 1;
}

int logread_next(struct logread *lr, json_t **ev_r, const char **where_r, char *err, size_t errlen)
{
    *ev_r = NULL;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    for (;;) {
        char *line, *nl;
        size_t n;
        int r;

        if (lr->fd < 0)
            return 0;
        nl = lr->len > 0 ? memchr(lr->buf + lr->start, '\n', lr->len) : NULL;
        if (nl != NULL) {
            line = lr->buf + lr->start;
            n = (size_t)(nl - line);
            lr->start += n + 1;
            lr->len -= n + 1;
            if (lr->skipping) {
                /* the end of an over-long line, counted when it began */
                lr->skipping = 0;
                continue;
            }
            lr->lineno++;
            if (n > LOGREAD_LINE_MAX) {
                lr_too_long(lr);
                continue;
            }
            if (lr_parse(lr, line, n, ev_r)) {
                if (where_r != NULL) {
                    snprintf(lr->where, sizeof(lr->where), "%s:%lu", lr_name(lr), lr->lineno);
                    *where_r = lr->where;
                }
                return 1;
            }
            continue;
        }
        r = lr_fill(lr, err, errlen);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        /* end of the current file */
        if (lr->follow && lr_is_last(lr) && lr->is_reg) {
            if (lr_follow_wait(lr, err, errlen) < 0)
                return -1;
            continue;
        }
        if (lr->len > 0 && !lr->skipping)
            lr_warn(lr, lr->lineno + 1, "truncated last line (no newline at the end)", 1);
        lr->start = lr->len = 0;
        lr_close_cur(lr);
        if (lr_is_last(lr))
            return 0;
        lr->cur++;
        if (lr_open_cur(lr, err, errlen) < 0)
            return -1;
    }
}

uint64_t logread_bytes(const struct logread *lr)
{
    return lr->bytes;
}

uint64_t logread_total(const struct logread *lr)
{
    return lr->total;
}

unsigned long logread_bad_lines(const struct logread *lr)
{
    return lr->bad;
}

void logread_close(struct logread *lr)
{
    size_t i;

    if (lr == NULL)
        return;
    lr_close_cur(lr);
    for (i = 0; i < lr->npaths; i++)
        free(lr->paths[i]);
    free(lr->paths);
    free(lr->buf);
    free(lr);
}

const char *ev_str(const json_t *ev, const char *key)
{
    json_t *v = json_object_get(ev, key);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

int64_t ev_int(const json_t *ev, const char *key, int64_t def)
{
    json_t *v = json_object_get(ev, key);

    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_real(v)) {
        double d = json_real_value(v);
        /* out-of-range doubles would be undefined behaviour to convert */
        if (d > -9.2e18 && d < 9.2e18)
            return (int64_t)d;
    }
    return def;
}

double ev_num(const json_t *ev, const char *key, double def)
{
    json_t *v = json_object_get(ev, key);

    return json_is_number(v) ? json_number_value(v) : def;
}

static int digits(const char *s, int n, int *out)
{
    int i, v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): no timegm, no time zone, no locale. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t ev_ts_us(const json_t *ev)
{
    const char *s = ev_str(ev, "ts");
    int y, mo, d, h, mi, se, i;
    int64_t us = 0, scale = 100000;

    if (s == NULL || strlen(s) < 20)
        return -1;
    if (digits(s, 4, &y) < 0 || s[4] != '-' || digits(s + 5, 2, &mo) < 0 || s[7] != '-' ||
        digits(s + 8, 2, &d) < 0 || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) < 0 ||
        s[13] != ':' || digits(s + 14, 2, &mi) < 0 || s[16] != ':' || digits(s + 17, 2, &se) < 0)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return -1;
    i = 19;
    if (s[i] == '.') {
        for (i++; s[i] >= '0' && s[i] <= '9'; i++) {
            us += (s[i] - '0') * scale;
            scale /= 10;
        }
    }
    if ((s[i] != 'Z' && s[i] != 'z') || s[i + 1] != '\0')
        return -1;
    return ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000000LL + (int64_t)se * 1000000LL +
           us;
}
