/*
 * decode.c - `imaptap decode FILE...`: the events of recorded sessions.
 *
 * Reads raw captures (logger/capture.h) and text transcripts
 * (transcript.h), drives each session through replay.c -- the parser and
 * logger the proxy uses -- and writes the JSON lines to stdout or --log.
 */
#include "decode.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture.h"
#include "external.h"
#include "jlog.h"
#include "replay.h"
#include "transcript.h"

struct decode_opts {
    struct jlog_opts log;
    const char *log_path;
    int redact;
    int rawlog; /* the files are Dovecot rawlog prefixes */
    int pcap;   /* the files are packet captures */
    int port;   /* IMAP port in captures */
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: imaptap decode [options] FILE...\n"
            "Prints the JSON-lines events of recorded IMAP sessions.\n"
            "FILE is a capture written by --capture, a JSON-lines transcript\n"
            "({\"dir\":\"c2s\"|\"s2c\",\"data\":\"...\"|\"b64\":\"...\",\"ts\":...} per line),\n"
            "a test case object or an array of them; \"-\" reads stdin.\n"
            "  --rawlog             FILE is a Dovecot rawlog pair (PREFIX.in/.out, with\n"
            "                       timestamps); the session starts after login\n"
            "  --pcap               FILE is a cleartext packet capture, read with tshark\n"
            "  --port N             the IMAP port in --pcap captures (default 143)\n"
            "  --log-literals none|size|head:N|full  literal contents in the log (default size)\n"
            "  --no-redact          log credentials in clear (lab use only)\n"
            "  --log FILE           write to FILE instead of stdout\n"
            "  -h, --help           this text\n");
}

/* A stable session id for a transcript: the same file decodes the same way. */
static void sid_for(const char *path, const char *name, char sid[17])
{
    uint64_t h = 1469598103934665603ULL;
    const char *parts[2] = {path, name};
    int i;

    for (i = 0; i < 2; i++) {
        const unsigned char *p = (const unsigned char *)parts[i];
        for (; *p; p++) {
            h ^= *p;
            h *= 1099511628211ULL;
        }
        h ^= 0xff;
    }
    snprintf(sid, 17, "%016llx", (unsigned long long)h);
}

static int64_t file_time_us(const char *path)
{
    struct stat st;

    if (strcmp(path, "-") != 0 && stat(path, &st) == 0)
        return (int64_t)st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000;
    return 0;
}

static void session_options(const struct decode_opts *o, struct imap_session_config *cfg)
{
    imap_session_config_default(cfg);
    cfg->redact = o->redact;
    cfg->keep_literals = o->log.literals >= JLOG_LITERALS_HEAD;
    if (o->log.literals == JLOG_LITERALS_HEAD)
        cfg->literal_keep = (uint32_t)o->log.head_bytes;
    else if (o->log.literals == JLOG_LITERALS_FULL)
        cfg->literal_keep = cfg->literal_keep_total = 64u * 1024 * 1024;
    cfg->start_authenticated = o->rawlog;
}

/* Replays the sessions of a loaded file. */
static int decode_sessions(const struct decode_opts *o, struct jlog *log, const char *path,
                           struct tr_file *tf)
{
    char err[512];
    size_t i, k;
    int64_t base = file_time_us(path);

    for (i = 0; i < tf->nsessions; i++) {
        struct tr_session *ts = &tf->sessions[i];
        struct replay_opts ro;
        struct replay *r;
        char sid[17];
        int64_t t = base;

        memset(&ro, 0, sizeof(ro));
        session_options(o, &ro.session);
        if (ts->obj != NULL && tr_apply_config(json_object_get(ts->obj, "config"), &ro.session, err,
                                               sizeof(err)) < 0) {
            fprintf(stderr, "imaptap decode: %s: case \"%s\": %s\n", path, ts->name, err);
            return 2;
        }
        sid_for(path, ts->name, sid);
        ro.sid = sid;
        ro.log = log;
        r = replay_new(&ro);
        if (r == NULL) {
            fprintf(stderr, "imaptap decode: out of memory\n");
            return 1;
        }
        for (k = 0; k < ts->nsteps; k++) {
            const struct tr_step *st = &ts->steps[k];
            if (st->ts_us != 0)
                t = st->ts_us;
            if (st->is_marker)
                replay_marker(r, st->marker, t);
            else
                replay_chunk(r, st->dir, st->data, st->len, t);
        }
        replay_finish(r, t, 0);
        replay_free(r);
    }
    return 0;
}

static int decode_transcript(const struct decode_opts *o, struct jlog *log, const char *path)
{
    struct tr_file tf;
    char err[512];
    int rc;

    if (o->rawlog)
        rc = ext_load_rawlog(path, &tf, err, sizeof(err));
    else if (o->pcap)
        rc = ext_load_pcap(path, o->port, &tf, err, sizeof(err));
    else
        rc = tr_load(path, &tf, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "imaptap decode: %s\n", err);
        return 2;
    }
    rc = decode_sessions(o, log, path, &tf);
    tr_free(&tf);
    return rc;
}

/* Options a capture's meta record carries, applied to the session. */
static void meta_apply(json_t *meta, struct imap_session_config *cfg)
{
    json_t *opt = json_object_get(meta, "options");
    json_t *v;

    if (!json_is_object(opt))
        return;
    if ((v = json_object_get(opt, "client_tls")) != NULL)
        cfg->client_tls = json_is_true(v);
    if ((v = json_object_get(opt, "client_starttls")) != NULL)
        cfg->client_starttls = json_is_true(v);
    if ((v = json_object_get(opt, "server_tls")) != NULL)
        cfg->server_tls = json_is_true(v);
    if ((v = json_object_get(opt, "server_starttls_auto")) != NULL)
        cfg->server_starttls_auto = json_is_true(v);
    if ((v = json_object_get(opt, "require_tls")) != NULL)
        cfg->require_tls = json_is_true(v);
    if ((v = json_object_get(opt, "strip_compress")) != NULL)
        cfg->strip_compress = json_is_true(v);
    if ((v = json_object_get(opt, "strip_channel_binding")) != NULL)
        cfg->strip_channel_binding = json_is_true(v);
    if ((v = json_object_get(opt, "keepalive_search")) != NULL)
        cfg->ka_cmd = json_is_true(v) ? IMAP_KA_SEARCH : IMAP_KA_NOOP;
    if ((v = json_object_get(opt, "keepalive_idle")) != NULL)
        cfg->ka_idle = json_is_true(v);
    if (json_is_string(v = json_object_get(opt, "keepalive_prefix")))
        cfg->ka_tag_prefix = json_string_value(v); /* lives as long as meta */
}

static void endpoint(json_t *o, const char *host_key, struct jlog_endpoint *ep)
{
    ep->addr = json_string_value(json_object_get(o, host_key));
    ep->port = (int)json_integer_value(json_object_get(o, "port"));
}

static int decode_capture(const struct decode_opts *o, struct jlog *log, const char *path, FILE *f)
{
    struct cap_reader *cr;
    struct cap_record rec;
    struct replay_opts ro;
    struct replay *r = NULL;
    char err[512], sid[17];
    json_t *meta = NULL;
    int64_t last = 0;
    int rc, status = 0;

    cr = cap_reader_new(f, err, sizeof(err));
    if (cr == NULL) {
        fprintf(stderr, "imaptap decode: %s: %s\n", path, err);
        return 2;
    }
    memset(&ro, 0, sizeof(ro));
    session_options(o, &ro.session);
    ro.log = log;
    while ((rc = cap_read(cr, &rec, err, sizeof(err))) > 0) {
        last = rec.ts_us;
        if (r == NULL) {
            /* the session starts with the meta record, or with the first data */
            struct jlog_endpoint client = {0}, up = {0};
            const char *listener = NULL, *msid = NULL;
            if (rec.type == CAP_META) {
                meta = json_loadb((const char *)rec.data, rec.len, 0, NULL);
                meta_apply(meta, &ro.session);
                msid = json_string_value(json_object_get(meta, "sid"));
                endpoint(json_object_get(meta, "client"), "addr", &client);
                endpoint(json_object_get(meta, "upstream"), "host", &up);
                listener = json_string_value(json_object_get(meta, "listener"));
            }
            if (msid != NULL && strlen(msid) == 16) {
                ro.sid = msid;
            } else {
                sid_for(path, "capture", sid);
                ro.sid = sid;
            }
            r = replay_new(&ro);
            if (r == NULL) {
                fprintf(stderr, "imaptap decode: out of memory\n");
                status = 1;
                break;
            }
            if (rec.type == CAP_META) {
                replay_open(r, rec.ts_us, client.addr ? &client : NULL, listener,
                            up.addr ? &up : NULL);
                continue;
            }
        }
        switch (rec.type) {
        case CAP_C2S:
        case CAP_S2C:
            replay_chunk(r, rec.type == CAP_C2S ? IMAP_C2S : IMAP_S2C, rec.data, rec.len,
                         rec.ts_us);
            break;
        case CAP_TLS:
            replay_marker(r, REPLAY_TLS, rec.ts_us);
            break;
        case CAP_C2S_EOF:
            replay_marker(r, REPLAY_C2S_EOF, rec.ts_us);
            break;
        case CAP_S2C_EOF:
            replay_marker(r, REPLAY_S2C_EOF, rec.ts_us);
            break;
        case CAP_TIMER:
            replay_marker(r, REPLAY_TIMER, rec.ts_us);
            break;
        case CAP_META:
            break;
        }
    }
    if (rc < 0) {
        fprintf(stderr, "imaptap decode: %s: %s\n", path, err);
        status = 2;
    }
    if (r != NULL) {
        replay_finish(r, last, 1);
        replay_free(r);
    }
    json_decref(meta);
    cap_reader_free(cr);
    return status;
}

static int decode_file(const struct decode_opts *o, struct jlog *log, const char *path)
{
    unsigned char head[CAP_MAGIC_LEN];
    size_t n;
    FILE *f;
    int rc;

    if (strcmp(path, "-") == 0 || o->rawlog || o->pcap)
        return decode_transcript(o, log, path);
    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "imaptap decode: %s: %s\n", path, strerror(errno));
        return 2;
    }
    n = fread(head, 1, sizeof(head), f);
    if (cap_is_capture(head, n)) {
        rewind(f);
        rc = decode_capture(o, log, path, f);
        fclose(f);
        return rc;
    }
    fclose(f);
    return decode_transcript(o, log, path);
}

int decode_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"log-literals", required_argument, NULL, 'L'},
        {"no-redact", no_argument, NULL, 'R'},
        {"log", required_argument, NULL, 'o'},
        {"rawlog", no_argument, NULL, 'r'},
        {"pcap", no_argument, NULL, 'p'},
        {"port", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct decode_opts o;
    struct jlog *log;
    char err[512];
    int c, i, status = 0;

    memset(&o, 0, sizeof(o));
    jlog_opts_default(&o.log);
    o.redact = 1;
    o.log_path = "-";
    o.port = 143;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'L':
            if (jlog_parse_literals(optarg, &o.log) < 0) {
                fprintf(stderr,
                        "imaptap decode: --log-literals: \"%s\" is not none, size, "
                        "head:N or full\n",
                        optarg);
                return 2;
            }
            break;
        case 'R':
            o.redact = 0;
            break;
        case 'o':
            o.log_path = optarg;
            break;
        case 'r':
            o.rawlog = 1;
            break;
        case 'p':
            o.pcap = 1;
            break;
        case 'P': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end != '\0' || v < 1 || v > 65535) {
                fprintf(stderr, "imaptap decode: --port: \"%s\" must be 1-65535\n", optarg);
                return 2;
            }
            o.port = (int)v;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "imaptap decode: bad option (see imaptap decode --help)\n");
            return 2;
        }
    }
    if (o.rawlog && o.pcap) {
        fprintf(stderr, "imaptap decode: --rawlog and --pcap exclude each other\n");
        return 2;
    }
    if (optind >= argc) {
        fprintf(stderr, "imaptap decode: no FILE given (see imaptap decode --help)\n");
        return 2;
    }
    o.log.redact = o.redact;
    o.log.threaded = 0;
    log = jlog_open(o.log_path, &o.log, err, sizeof(err));
    if (log == NULL) {
        fprintf(stderr, "imaptap decode: %s\n", err);
        return 2;
    }
    for (i = optind; i < argc; i++) {
        int rc = decode_file(&o, log, argv[i]);
        if (rc > status)
            status = rc;
    }
    jlog_close(log);
    return status;
}
