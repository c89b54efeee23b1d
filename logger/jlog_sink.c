/*
 * jlog_sink.c - where the lines go: a file (or stdout) written either by the
 * caller (synchronous: `imaptap decode`, benchmarks) or by a writer thread
 * behind a bounded queue (the proxy), plus reopen for logrotate and the sid
 * generator.
 *
 * The queue is two byte buffers: producers append whole lines to `pending`
 * under the mutex; the writer swaps it with `out` and writes `out` without
 * the lock, so a slow disk never holds up a producer for longer than a
 * memcpy.  A line is never split between files and never lost on a write
 * error: the unwritten part of `out` stays, and is retried every
 * JLOG_RETRY_MS.
 *
 * Waking the writer costs the producer a futex call, so it is done only when
 * the writer sleeps with nothing to do.  While lines keep coming, the writer
 * naps flush_ms between batches and collects what arrived meanwhile: a line
 * waits at most flush_ms (plus the write in progress), and a busy relay
 * makes no system call for logging.
 */
#define _DEFAULT_SOURCE /* getrandom, strerror_l, O_CLOEXEC with -std=c11 */

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "jlog.h"
#include "jlog_int.h"

#define JLOG_BATCH             (64u * 1024) /* sync mode writes at this; wakes a napping writer */
#define JLOG_RETRY_MS          250          /* between attempts after a write error */
#define JLOG_CLOSE_GIVEUP_MS   5000         /* close gives up after this much continuous failure */
#define JLOG_FLUSH_MS_MAX      100          /* design.md §2: never more than 100 ms late */
#define JLOG_QUEUE_MAX_DEFAULT (8u << 20)
#define JLOG_BUF_KEEP          (1u << 20)        /* a drained buffer larger than this is freed */
#define JLOG_WRITE_MAX         ((size_t)1 << 30) /* one write(2) call */

struct jbuf {
    char *p;
    size_t len, cap;
    uint64_t lines;
};

enum writer_state {
    W_BUSY,  /* writing or about to look for work */
    W_NAP,   /* waiting flush_ms for more lines: not woken per line */
    W_RETRY, /* waiting JLOG_RETRY_MS after an error */
    W_SLEEP, /* nothing to do: the next line wakes it */
};

struct jlog {
    struct jlog_opts opts;
    char *path;
    int fd;
    int own_fd; /* 0 for stdout, which we never close */
    int new_fd; /* from jlog_reopen(), taken at the next line boundary; or -1 */

    pthread_mutex_t mu;
    pthread_cond_t wake; /* the writer's */
    pthread_t thread;
    int thread_running;

    struct jbuf pending; /* appended by producers (mu) */
    struct jbuf out;     /* being written: the writer's (the caller's when synchronous) */
    size_t out_pos;      /* bytes of out written so far */

    int stop;
    int64_t stop_ms;
    enum writer_state wstate;
    int wake_sent;

    _Atomic size_t queued; /* pending.len + out.len - out_pos */
    _Atomic uint64_t lines;
    _Atomic uint64_t dropped;
    int congested; /* went over queue_max since the last notify */
    void (*notify)(void *arg);
    void *notify_arg;

    int failing; /* the last write failed */
    int64_t fail_since_ms, retry_ms;
    uint64_t nerrors;
    int has_err;
    char err[256];
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits on the writer's condition until now + ms (CLOCK_MONOTONIC). */
static void wait_ms(struct jlog *log, int64_t ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&log->wake, &log->mu, &ts);
}

static void set_err(char *err, size_t errlen, const char *what, const char *path, int e)
{
    if (err == NULL || errlen == 0)
        return;
    /* strerror_l: thread-safe, and unlike strerror_r the same function
     * whether or not a build defines _GNU_SOURCE. */
    snprintf(err, errlen, "%s %s: %s", what, path, strerror_l(e, LC_GLOBAL_LOCALE));
}

static int has_work(const struct jlog *log)
{
    return log->out_pos < log->out.len || log->pending.len > 0;
}

static void switch_fd(struct jlog *log)
{
    if (log->own_fd)
        close(log->fd);
    log->fd = log->new_fd;
    log->own_fd = 1;
    log->new_fd = -1;
    /* A new file deserves an attempt now, whatever the old one did. */
    log->failing = 0;
    log->retry_ms = 0;
}

static size_t count_lines(const char *p, size_t n)
{
    const char *end = p + n;
    size_t lines = 0;

    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        lines++;
        p++;
    }
    return lines;
}

/* One write attempt on out (taking pending first when out is done).  Called
 * with mu held; when a writer thread owns out, mu is released around
 * write(2).  Returns 1 on progress, 0 when there is nothing to write, -1 on
 * a write error (kept in err; out keeps the bytes).  *notify_r is set when
 * the notify callback is due (the caller runs it without mu). */
static int sink_step(struct jlog *log, int *notify_r)
{
    const char *p;
    size_t n, done = 0;
    int fd, e = 0;

    if (log->out_pos == log->out.len) {
        log->out.len = 0;
        log->out_pos = 0;
        log->out.lines = 0;
        if (log->pending.len == 0) {
            if (log->new_fd >= 0)
                switch_fd(log);
            return 0;
        }
        struct jbuf t = log->out;
        log->out = log->pending;
        log->pending = t;
    }
    /* After a reopen, the next line to start goes to the new file. */
    if (log->new_fd >= 0 && (log->out_pos == 0 || log->out.p[log->out_pos - 1] == '\n'))
        switch_fd(log);

    fd = log->fd;
    p = log->out.p + log->out_pos;
    n = log->out.len - log->out_pos;
    if (log->thread_running)
        pthread_mutex_unlock(&log->mu);
    while (done < n) {
        ssize_t k = write(fd, p + done, n - done < JLOG_WRITE_MAX ? n - done : JLOG_WRITE_MAX);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            e = k < 0 ? errno : EIO;
            break;
        }
        done += (size_t)k; /* a partial write is continued */
    }
    if (log->thread_running)
        pthread_mutex_lock(&log->mu);

    log->out_pos += done;
    atomic_fetch_sub(&log->queued, done);
    if (log->out_pos == log->out.len) {
        atomic_fetch_add(&log->lines, log->out.lines);
        log->out.len = 0;
        log->out_pos = 0;
        log->out.lines = 0;
        if (log->out.cap > JLOG_BUF_KEEP) {
            free(log->out.p);
            log->out.p = NULL;
            log->out.cap = 0;
        }
    }
    if (log->congested && atomic_load(&log->queued) < log->opts.queue_max / 2) {
        log->congested = 0;
        *notify_r = 1;
    }
    if (e == 0) {
        log->failing = 0;
        return 1;
    }

    log->nerrors++;
    log->has_err = 1;
    set_err(log->err, sizeof(log->err), "write", log->path, e);
    if (log->new_fd >= 0) {
        /* The old file is failing and a new one waits: the line in progress
         * is written again, whole, to the new file.  The old one may end in
         * a fragment; no line is lost. */
        size_t back = log->out_pos;
        while (back > 0 && log->out.p[back - 1] != '\n')
            back--;
        atomic_fetch_add(&log->queued, log->out_pos - back);
        log->out_pos = back;
        switch_fd(log);
        return 1;
    }
    if (!log->failing) {
        log->failing = 1;
        log->fail_since_ms = now_ms();
    }
    log->retry_ms = now_ms() + JLOG_RETRY_MS;
    return -1;
}

/* Close could not write for JLOG_CLOSE_GIVEUP_MS: count what is lost. */
static void give_up(struct jlog *log)
{
    size_t lost_out = count_lines(log->out.p + log->out_pos, log->out.len - log->out_pos);
    uint64_t lost;

    /* Every line ends in '\n', so a partly written one is counted here too. */
    if (lost_out > log->out.lines)
        lost_out = (size_t)log->out.lines;
    atomic_fetch_add(&log->lines, log->out.lines - lost_out);
    lost = lost_out + log->pending.lines;
    atomic_fetch_add(&log->dropped, lost);
    {
        char last[sizeof(log->err)];
        memcpy(last, log->err, sizeof(last));
        snprintf(log->err, sizeof(log->err), "%.180s; gave up after %d s: %llu lines lost", last,
                 JLOG_CLOSE_GIVEUP_MS / 1000, (unsigned long long)lost);
    }
    log->out.len = log->out_pos = 0;
    log->pending.len = 0;
    log->out.lines = log->pending.lines = 0;
    atomic_store(&log->queued, 0);
}

static int giveup_due(const struct jlog *log, int64_t now)
{
    int64_t since = log->fail_since_ms > log->stop_ms ? log->fail_since_ms : log->stop_ms;

    return log->failing && now - since >= JLOG_CLOSE_GIVEUP_MS;
}

static void run_notify(struct jlog *log, int locked)
{
    void (*cb)(void *) = log->notify;
    void *arg = log->notify_arg;

    if (cb == NULL)
        return;
    if (locked)
        pthread_mutex_unlock(&log->mu);
    cb(arg);
    if (locked)
        pthread_mutex_lock(&log->mu);
}

static void *writer_main(void *arg)
{
    struct jlog *log = arg;
    int wrote = 0;

    pthread_mutex_lock(&log->mu);
    for (;;) {
        int notify = 0, r = 0;
        int64_t now = now_ms();

        if (has_work(log) && (!log->failing || now >= log->retry_ms || log->new_fd >= 0)) {
            r = sink_step(log, &notify);
            if (notify)
                run_notify(log, 1);
            if (r > 0) {
                wrote = 1;
                continue;
            }
        } else if (!has_work(log) && log->new_fd >= 0) {
            switch_fd(log);
        }
        now = now_ms();
        if (log->stop) {
            if (!has_work(log))
                break;
            if (giveup_due(log, now)) {
                give_up(log);
                break;
            }
        }
        if (has_work(log)) {
            /* Failing: wait for the retry time (or a reopen, or close). */
            log->wstate = W_RETRY;
            wait_ms(log, log->retry_ms > now ? log->retry_ms - now : 1);
        } else if (wrote && log->opts.flush_ms > 0) {
            log->wstate = W_NAP;
            wait_ms(log, log->opts.flush_ms);
            wrote = 0;
        } else {
            log->wstate = W_SLEEP;
            pthread_cond_wait(&log->wake, &log->mu);
        }
        log->wstate = W_BUSY;
        log->wake_sent = 0;
    }
    pthread_mutex_unlock(&log->mu);
    return NULL;
}

/* Synchronous mode: writes what it can now.  Called with mu held. */
static void sync_flush(struct jlog *log, int *notify_r)
{
    if (log->failing && now_ms() < log->retry_ms && log->new_fd < 0)
        return;
    while (has_work(log) && sink_step(log, notify_r) > 0)
        ;
}

static void wake_writer(struct jlog *log)
{
    if (!log->wake_sent) {
        log->wake_sent = 1;
        pthread_cond_signal(&log->wake);
    }
}

int jlog_sink_put(struct jlog *log, const char *line, size_t len, int force)
{
    struct jbuf *b = &log->pending;
    int notify = 0;

    pthread_mutex_lock(&log->mu);
    if (log->opts.overflow == JLOG_OVERFLOW_DROP && !force &&
        atomic_load(&log->queued) + len > log->opts.queue_max) {
        if (!log->thread_running)
            sync_flush(log, &notify);
        if (atomic_load(&log->queued) + len > log->opts.queue_max)
            goto drop;
    }
    if (b->cap - b->len < len) {
        size_t cap = b->cap != 0 ? b->cap : JLOG_BATCH;
        char *p;

        while (cap - b->len < len) {
            if (cap > SIZE_MAX / 2)
                goto drop;
            cap *= 2;
        }
        p = realloc(b->p, cap);
        if (p == NULL)
            goto drop;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, line, len);
    b->len += len;
    b->lines++;
    if (atomic_fetch_add(&log->queued, len) + len > log->opts.queue_max)
        log->congested = 1;

    if (log->thread_running) {
        if (log->wstate == W_SLEEP || (log->wstate == W_NAP && b->len >= JLOG_BATCH))
            wake_writer(log);
    } else if (atomic_load(&log->queued) >= JLOG_BATCH) {
        sync_flush(log, &notify);
    }
    pthread_mutex_unlock(&log->mu);
    if (notify)
        run_notify(log, 0);
    return 0;

drop:
    atomic_fetch_add(&log->dropped, 1);
    pthread_mutex_unlock(&log->mu);
    if (notify)
        run_notify(log, 0);
    return -1;
}

const struct jlog_opts *jlog_sink_opts(const struct jlog *log)
{
    return &log->opts;
}

static int open_path(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

    if (fd < 0)
        set_err(err, errlen, "open", path, errno);
    return fd;
}

struct jlog *jlog_open(const char *path, const struct jlog_opts *opts, char *err, size_t errlen)
{
    struct jlog *log;
    pthread_condattr_t ca;
    sigset_t all, old;
    int rc;

    if (path == NULL || opts == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "no log path");
        return NULL;
    }
    log = calloc(1, sizeof(*log));
    if (log == NULL || (log->path = strdup(path)) == NULL) {
        free(log);
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "out of memory");
        return NULL;
    }
    log->opts = *opts;
    if (log->opts.queue_max == 0)
        log->opts.queue_max = JLOG_QUEUE_MAX_DEFAULT;
    if (log->opts.flush_ms > JLOG_FLUSH_MS_MAX)
        log->opts.flush_ms = JLOG_FLUSH_MS_MAX;
    if (log->opts.flush_ms < 0)
        log->opts.flush_ms = 0;
    log->new_fd = -1;
    if (strcmp(path, "-") == 0) {
        log->fd = STDOUT_FILENO;
        log->own_fd = 0;
    } else {
        log->fd = open_path(path, err, errlen);
        if (log->fd < 0) {
            free(log->path);
            free(log);
            return NULL;
        }
        log->own_fd = 1;
    }
    pthread_mutex_init(&log->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&log->wake, &ca);
    pthread_condattr_destroy(&ca);

    if (log->opts.threaded) {
        /* The writer takes no signals: SIGHUP and SIGTERM belong to the
         * proxy's loop, and a closed stdout pipe gives EPIPE, not death. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        log->thread_running = 1;
        rc = pthread_create(&log->thread, NULL, writer_main, log);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc != 0) {
            log->thread_running = 0;
            set_err(err, errlen, "writer thread for", path, rc);
            if (log->own_fd)
                close(log->fd);
            pthread_cond_destroy(&log->wake);
            pthread_mutex_destroy(&log->mu);
            free(log->path);
            free(log);
            return NULL;
        }
    }
    return log;
}

int jlog_reopen(struct jlog *log, char *err, size_t errlen)
{
    int fd, notify = 0;

    if (log->own_fd == 0 && log->new_fd < 0 && strcmp(log->path, "-") == 0)
        return 0;
    fd = open_path(log->path, err, errlen);
    if (fd < 0)
        return -1;
    pthread_mutex_lock(&log->mu);
    if (log->new_fd >= 0)
        close(log->new_fd); /* an earlier reopen not taken yet: this one wins */
    log->new_fd = fd;
    if (log->thread_running) {
        log->wake_sent = 0;
        pthread_cond_signal(&log->wake);
    } else {
        sync_flush(log, &notify);
        if (log->new_fd >= 0 && !has_work(log))
            switch_fd(log);
    }
    pthread_mutex_unlock(&log->mu);
    if (notify)
        run_notify(log, 0);
    return 0;
}

uint64_t jlog_close(struct jlog *log)
{
    uint64_t lost_before, lost;

    if (log == NULL)
        return 0;
    lost_before = atomic_load(&log->dropped);
    if (log->thread_running) {
        pthread_mutex_lock(&log->mu);
        log->stop = 1;
        log->stop_ms = now_ms();
        pthread_cond_signal(&log->wake);
        pthread_mutex_unlock(&log->mu);
        pthread_join(log->thread, NULL);
        log->thread_running = 0;
    } else {
        int notify = 0;

        pthread_mutex_lock(&log->mu);
        log->stop = 1;
        log->stop_ms = now_ms();
        for (;;) {
            int64_t now;

            if (sink_step(log, &notify) > 0)
                continue;
            if (!has_work(log))
                break;
            now = now_ms();
            if (giveup_due(log, now)) {
                give_up(log);
                break;
            }
            if (log->retry_ms > now) {
                struct timespec ts = {(time_t)((log->retry_ms - now) / 1000),
                                      (long)((log->retry_ms - now) % 1000) * 1000000L};
                nanosleep(&ts, NULL);
            }
        }
        pthread_mutex_unlock(&log->mu);
    }
    if (log->new_fd >= 0)
        close(log->new_fd);
    if (log->own_fd)
        close(log->fd);
    lost = atomic_load(&log->dropped) - lost_before;
    pthread_cond_destroy(&log->wake);
    pthread_mutex_destroy(&log->mu);
    free(log->pending.p);
    free(log->out.p);
    free(log->path);
    free(log);
    return lost;
}

int jlog_congested(const struct jlog *log)
{
    return atomic_load(&log->queued) > log->opts.queue_max;
}

void jlog_set_notify(struct jlog *log, void (*notify)(void *arg), void *arg)
{
    pthread_mutex_lock(&log->mu);
    log->notify = notify;
    log->notify_arg = arg;
    pthread_mutex_unlock(&log->mu);
}

uint64_t jlog_lines(const struct jlog *log)
{
    return atomic_load(&log->lines);
}

uint64_t jlog_dropped(const struct jlog *log)
{
    return atomic_load(&log->dropped);
}

const char *jlog_error(struct jlog *log, char *buf, size_t buflen)
{
    const char *r = NULL;

    if (buf == NULL || buflen == 0)
        return NULL;
    pthread_mutex_lock(&log->mu);
    if (log->has_err) {
        snprintf(buf, buflen, "%s", log->err);
        r = buf;
    }
    pthread_mutex_unlock(&log->mu);
    return r;
}

/* ---- session ids ---- */

void jlog_sid_random(char sid[17])
{
    static const char hex[] = "0123456789abcdef";
    static _Atomic uint64_t counter;
    unsigned char b[8];
    size_t got = 0;
    int i;

    while (got < sizeof(b)) {
        ssize_t k = getrandom(b + got, sizeof(b) - got, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    if (got < sizeof(b)) {
        /* No getrandom (old kernel, seccomp): still unique within this
         * process and unlikely to repeat across restarts. */
        struct timespec ts;
        uint64_t x;

        clock_gettime(CLOCK_REALTIME, &ts);
        x = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        x ^= (uint64_t)getpid() << 40;
        x += atomic_fetch_add(&counter, 1) * UINT64_C(0x9E3779B97F4A7C15);
        /* splitmix64 finalizer */
        x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
        x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
        x ^= x >> 31;
        for (i = 0; i < 8; i++)
            b[i] = (unsigned char)(x >> (8 * i));
    }
    for (i = 0; i < 8; i++) {
        sid[2 * i] = hex[b[i] >> 4];
        sid[2 * i + 1] = hex[b[i] & 15];
    }
    sid[16] = '\0';
}
