/* external.c - Dovecot rawlogs and packet captures (see external.h). */
#include "external.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PCAP_STREAMS_MAX 100000

extern char **environ;

/* ---------------------------------------------------------------- rawlog */

struct rl_line {
    int64_t ts_us;
    enum imap_dir dir;
    size_t seq;          /* order within its file: keeps the sort stable */
    unsigned char *data; /* owned until moved into a step */
    size_t len;
};

/* "1795605188.523447 " at the start of a line: its time, and where the
 * bytes begin; -1 when the line has no stamp. */
static int64_t rl_stamp(const char *p, size_t n, size_t *skip_r)
{
    size_t i = 0;
    int64_t secs = 0, usecs = 0;
    int digits = 0;

    while (i < n && p[i] >= '0' && p[i] <= '9' && i < 12)
        secs = secs * 10 + (p[i++] - '0');
    if (i == 0 || i >= n || p[i] != '.')
        return -1;
    for (i++; i < n && p[i] >= '0' && p[i] <= '9' && digits < 6; i++, digits++)
        usecs = usecs * 10 + (p[i] - '0');
    if (digits != 6 || i >= n || p[i] != ' ')
        return -1;
    *skip_r = i + 1;
    return secs * 1000000 + usecs;
}

static int rl_read(const char *path, enum imap_dir dir, struct rl_line **lines, size_t *n,
                   size_t *cap, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *line = NULL;
    size_t lcap = 0, seq = 0;
    ssize_t got;
    int64_t last = 0;

    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while ((got = getline(&line, &lcap, f)) > 0) {
        size_t skip = 0;
        int64_t ts = rl_stamp(line, (size_t)got, &skip);
        struct rl_line *l;
        if (ts < 0) {
            /* rawlog written without timestamps: keep the bytes, reuse the time */
            ts = last;
            skip = 0;
        }
        last = ts;
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 256;
            struct rl_line *nl = realloc(*lines, nc * sizeof(*nl));
            if (nl == NULL)
                goto nomem;
            *lines = nl;
            *cap = nc;
        }
        l = &(*lines)[*n];
        l->ts_us = ts;
        l->dir = dir;
        l->seq = seq++;
        l->len = (size_t)got - skip;
        l->data = malloc(l->len ? l->len : 1);
        if (l->data == NULL)
            goto nomem;
        memcpy(l->data, line + skip, l->len);
        (*n)++;
    }
    free(line);
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
nomem:
    free(line);
    fclose(f);
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
}

/* By time; at the same microsecond the client's line first (a command comes
 * before its answer), then file order. */
static int rl_cmp(const void *a, const void *b)
{
    const struct rl_line *x = a, *y = b;

    if (x->ts_us != y->ts_us)
        return x->ts_us < y->ts_us ? -1 : 1;
    if (x->dir != y->dir)
        return x->dir == IMAP_C2S ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int ext_load_rawlog(const char *prefix, struct tr_file *tf, char *err, size_t errlen)
{
    struct rl_line *lines = NULL;
    size_t n = 0, cap = 0, i, plen = strlen(prefix);
    struct tr_session s;
    char *in = NULL, *out = NULL;
    const char *base;
    int rc = -1;

    memset(tf, 0, sizeof(*tf));
    memset(&s, 0, sizeof(s));
    /* accept PREFIX, PREFIX.in or PREFIX.out */
    if (plen > 3 && strcmp(prefix + plen - 3, ".in") == 0)
        plen -= 3;
    else if (plen > 4 && strcmp(prefix + plen - 4, ".out") == 0)
        plen -= 4;
    if (asprintf(&in, "%.*s.in", (int)plen, prefix) < 0 ||
        asprintf(&out, "%.*s.out", (int)plen, prefix) < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (rl_read(in, IMAP_C2S, &lines, &n, &cap, err, errlen) < 0 ||
        rl_read(out, IMAP_S2C, &lines, &n, &cap, err, errlen) < 0)
        goto out;
    qsort(lines, n, sizeof(*lines), rl_cmp);
    base = strrchr(out, '/');
    s.name = strndup(base ? base + 1 : out, (size_t)(strlen(base ? base + 1 : out) - 4));
    s.steps = calloc(n ? n : 1, sizeof(*s.steps));
    if (s.name == NULL || s.steps == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++) {
        struct tr_step *st = &s.steps[s.nsteps++];
        st->dir = lines[i].dir;
        st->data = lines[i].data;
        st->len = lines[i].len;
        st->ts_us = lines[i].ts_us;
        lines[i].data = NULL;
    }
    tf->sessions = malloc(sizeof(*tf->sessions));
    if (tf->sessions == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    tf->sessions[0] = s;
    tf->nsessions = 1;
    memset(&s, 0, sizeof(s));
    rc = 0;
out:
    for (i = 0; i < n; i++)
        free(lines[i].data);
    free(lines);
    for (i = 0; i < s.nsteps; i++)
        free(s.steps[i].data);
    free(s.steps);
    free(s.name);
    free(in);
    free(out);
    return rc;
}

/* ------------------------------------------------------------------ pcap */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* tshark prints payloads as hex, with or without ':' between bytes. */
static unsigned char *unhex(const char *p, size_t n, size_t *len_r)
{
    unsigned char *out = malloc(n / 2 + 1);
    size_t i, o = 0;

    if (out == NULL)
        return NULL;
    for (i = 0; i + 1 < n;) {
        int hi, lo;
        if (p[i] == ':') {
            i++;
            continue;
        }
        hi = hexval(p[i]);
        lo = hexval(p[i + 1]);
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[o++] = (unsigned char)(hi << 4 | lo);
        i += 2;
    }
    *len_r = o;
    return out;
}

struct pcap_stream {
    long id;
    struct tr_session s;
    size_t cap;
};

static struct pcap_stream *stream_for(struct pcap_stream **v, size_t *n, long id)
{
    size_t i;
    struct pcap_stream *nv;

    for (i = *n; i > 0; i--)
        if ((*v)[i - 1].id == id)
            return &(*v)[i - 1];
    if (*n >= PCAP_STREAMS_MAX)
        return NULL;
    nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (nv == NULL)
        return NULL;
    *v = nv;
    memset(&nv[*n], 0, sizeof(nv[*n]));
    nv[*n].id = id;
    return &nv[(*n)++];
}

int ext_load_pcap(const char *path, int port, struct tr_file *tf, char *err, size_t errlen)
{
    char filter[96], portstr[16];
    char *argv[] = {"tshark",
                    "-r",
                    (char *)(uintptr_t)path,
                    "-n",
                    "-o",
                    "tcp.desegment_tcp_streams:FALSE",
                    "-Y",
                    filter,
                    "-T",
                    "fields",
                    "-E",
                    "separator=/t",
                    "-e",
                    "frame.time_epoch",
                    "-e",
                    "tcp.stream",
                    "-e",
                    "tcp.dstport",
                    "-e",
                    "tcp.payload",
                    NULL};
    posix_spawn_file_actions_t fa;
    struct pcap_stream *streams = NULL;
    size_t nstreams = 0, lcap = 0, i;
    char *line = NULL;
    ssize_t got;
    int pipefd[2], status, rc = -1;
    pid_t pid;
    FILE *f;

    memset(tf, 0, sizeof(*tf));
    if (access(path, R_OK) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    snprintf(portstr, sizeof(portstr), "%d", port);
    /* data segments of that port, retransmissions left out */
    snprintf(filter, sizeof(filter), "tcp.port==%s && tcp.len>0 && !tcp.analysis.retransmission",
             portstr);
    if (pipe(pipefd) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    /* tshark's chatter ("Running as user root...") is not ours to print */
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    posix_spawn_file_actions_addclose(&fa, pipefd[1]);
    status = posix_spawnp(&pid, "tshark", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (status != 0) {
        close(pipefd[0]);
        if (status == ENOENT)
            snprintf(err, errlen,
                     "--pcap needs tshark, which is not installed "
                     "(Debian: apt-get install tshark)");
        else
            snprintf(err, errlen, "cannot run tshark: %s", strerror(status));
        return -1;
    }
    f = fdopen(pipefd[0], "r");
    if (f == NULL) {
        close(pipefd[0]);
        waitpid(pid, NULL, 0);
        snprintf(err, errlen, "fdopen: %s", strerror(errno));
        return -1;
    }
    while ((got = getline(&line, &lcap, f)) > 0) {
        char *fields[4], *p = line;
        struct pcap_stream *ps;
        struct tr_step st;
        int k;
        if (line[got - 1] == '\n')
            line[--got] = '\0';
        for (k = 0; k < 4; k++) {
            fields[k] = p;
            p = strchr(p, '\t');
            if (p == NULL && k < 3)
                break;
            if (p != NULL)
                *p++ = '\0';
        }
        if (k < 3 || fields[3] == NULL)
            continue;
        ps = stream_for(&streams, &nstreams, strtol(fields[1], NULL, 10));
        if (ps == NULL) {
            snprintf(err, errlen, "%s: too many TCP streams", path);
            goto out;
        }
        memset(&st, 0, sizeof(st));
        st.dir = atoi(fields[2]) == port ? IMAP_C2S : IMAP_S2C;
        st.ts_us = (int64_t)(strtod(fields[0], NULL) * 1e6);
        st.data = unhex(fields[3], strlen(fields[3]), &st.len);
        if (st.data == NULL)
            continue;
        if (ps->s.nsteps == ps->cap) {
            size_t nc = ps->cap ? ps->cap * 2 : 64;
            struct tr_step *ns = realloc(ps->s.steps, nc * sizeof(*ns));
            if (ns == NULL) {
                free(st.data);
                snprintf(err, errlen, "out of memory");
                goto out;
            }
            ps->s.steps = ns;
            ps->cap = nc;
        }
        ps->s.steps[ps->s.nsteps++] = st;
    }
    rc = 0;
out:
    free(line);
    fclose(f);
    if (waitpid(pid, &status, 0) > 0 && rc == 0 &&
        (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        snprintf(err, errlen, "tshark could not read %s (exit status %d)", path,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        rc = -1;
    }
    if (rc == 0) {
        tf->sessions = calloc(nstreams ? nstreams : 1, sizeof(*tf->sessions));
        if (tf->sessions == NULL) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    }
    for (i = 0; i < nstreams; i++) {
        if (rc == 0) {
            char name[64];
            snprintf(name, sizeof(name), "tcp.stream %ld", streams[i].id);
            streams[i].s.name = strdup(name);
            tf->sessions[tf->nsessions++] = streams[i].s;
        } else {
            size_t k;
            for (k = 0; k < streams[i].s.nsteps; k++)
                free(streams[i].s.steps[k].data);
            free(streams[i].s.steps);
        }
    }
    free(streams);
    if (rc == 0 && tf->nsessions == 0) {
        snprintf(err, errlen, "%s: no IMAP data on TCP port %d (--port to choose another)", path,
                 port);
        tr_free(tf);
        rc = -1;
    }
    return rc;
}
