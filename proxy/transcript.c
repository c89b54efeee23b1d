/* transcript.c - reading recorded sessions (see transcript.h). */
#include "transcript.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap_sasl.h"

#define TR_LINE_MAX (64u * 1024 * 1024) /* one chunk line of a JSON-lines file */

unsigned char *tr_latin1_bytes(const char *s, size_t n, size_t *len_r)
{
    unsigned char *out = malloc(n + 1);
    size_t i = 0, o = 0;

    if (out == NULL)
        return NULL;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            out[o++] = c;
            i++;
        } else if ((c & 0xE0) == 0xC0 && i + 1 < n && c <= 0xC3) {
            out[o++] = (unsigned char)(((c & 0x1F) << 6) | ((unsigned char)s[i + 1] & 0x3F));
            i += 2;
        } else {
            free(out);
            return NULL;
        }
    }
    *len_r = o;
    return out;
}

static int parse_marker(const char *dir, struct tr_step *st)
{
    static const struct {
        const char *name;
        enum replay_marker m;
    } markers[] = {
        {"tls", REPLAY_TLS},
        {"timer", REPLAY_TIMER},
        {"c2s_eof", REPLAY_C2S_EOF},
        {"s2c_eof", REPLAY_S2C_EOF},
    };
    size_t i;

    if (strcmp(dir, "c2s") == 0 || strcmp(dir, "s2c") == 0) {
        st->is_marker = 0;
        st->dir = dir[0] == 'c' ? IMAP_C2S : IMAP_S2C;
        return 0;
    }
    for (i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
        if (strcmp(dir, markers[i].name) == 0) {
            st->is_marker = 1;
            st->marker = markers[i].m;
            return 0;
        }
    }
    return -1;
}

/* Seconds since the epoch (number) or RFC 3339 text, to microseconds. */
static int parse_ts(const json_t *ts, int64_t *ts_us)
{
    if (json_is_number(ts)) {
        double v = json_number_value(ts);
        if (v < 0 || v > 32503680000.0)
            return -1;
        *ts_us = (int64_t)(v * 1e6 + 0.5);
        return 0;
    }
    if (json_is_string(ts)) {
        struct tm tm;
        const char *s = json_string_value(ts), *rest;
        long usec = 0;
        memset(&tm, 0, sizeof(tm));
        rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (rest == NULL)
            return -1;
        if (*rest == '.') {
            long scale = 100000;
            for (rest++; *rest >= '0' && *rest <= '9'; rest++) {
                usec += (*rest - '0') * scale;
                scale /= 10;
            }
        }
        if (strcmp(rest, "Z") != 0 && strcmp(rest, "+00:00") != 0)
            return -1;
        *ts_us = (int64_t)timegm(&tm) * 1000000 + usec;
        return 0;
    }
    return -1;
}

static int push_step(struct tr_session *ts, const struct tr_step *st)
{
    struct tr_step *ns;

    if ((ts->nsteps & (ts->nsteps - 1)) == 0) {
        size_t cap = ts->nsteps ? ts->nsteps * 2 : 16;
        if (cap < 16)
            cap = 16;
        ns = realloc(ts->steps, cap * sizeof(*ns));
        if (ns == NULL)
            return -1;
        ts->steps = ns;
    }
    ts->steps[ts->nsteps++] = *st;
    return 0;
}

static int push_session(struct tr_file *tf, struct tr_session *s)
{
    struct tr_session *ns = realloc(tf->sessions, (tf->nsessions + 1) * sizeof(*ns));

    if (ns == NULL)
        return -1;
    tf->sessions = ns;
    tf->sessions[tf->nsessions++] = *s;
    return 0;
}

/* One JSON-lines chunk object. */
static int chunk_from_json(const json_t *o, struct tr_step *st, char *why, size_t whylen)
{
    const json_t *dir = json_object_get(o, "dir"), *data = json_object_get(o, "data"),
                 *b64 = json_object_get(o, "b64"), *ts = json_object_get(o, "ts");

    memset(st, 0, sizeof(*st));
    if (!json_is_string(dir) || parse_marker(json_string_value(dir), st) < 0) {
        snprintf(
            why, whylen,
            "\"dir\" must be \"c2s\", \"s2c\", \"tls\", \"timer\", \"c2s_eof\" or \"s2c_eof\"");
        return -1;
    }
    if (ts != NULL && parse_ts(ts, &st->ts_us) < 0) {
        snprintf(why, whylen, "\"ts\" must be seconds since the epoch or RFC 3339 UTC text");
        return -1;
    }
    if (st->is_marker)
        return 0;
    if (json_is_string(data) && b64 == NULL) {
        size_t n = json_string_length(data);
        st->data = malloc(n ? n : 1);
        if (st->data == NULL)
            return -1;
        memcpy(st->data, json_string_value(data), n);
        st->len = n;
        return 0;
    }
    if (json_is_string(b64) && data == NULL) {
        size_t n = json_string_length(b64);
        long dl;
        st->data = malloc(n / 4 * 3 + 3);
        if (st->data == NULL)
            return -1;
        dl = imap_base64_decode(json_string_value(b64), n, st->data, n / 4 * 3 + 3);
        if (dl < 0) {
            free(st->data);
            st->data = NULL;
            snprintf(why, whylen, "\"b64\" is not valid base64");
            return -1;
        }
        st->len = (size_t)dl;
        return 0;
    }
    snprintf(why, whylen, "a chunk needs either \"data\" (text) or \"b64\" (base64), not both");
    return -1;
}

/* A case object (protocol.md §8). */
static int case_from_json(json_t *o, struct tr_session *s, char *why, size_t whylen)
{
    const json_t *tl = json_object_get(o, "timeline"), *name = json_object_get(o, "name");
    size_t i;

    memset(s, 0, sizeof(*s));
    s->name = strdup(json_is_string(name) ? json_string_value(name) : "case");
    if (s->name == NULL)
        return -1;
    if (!json_is_array(tl)) {
        snprintf(why, whylen, "case \"%s\" has no \"timeline\" array", s->name);
        return -1;
    }
    for (i = 0; i < json_array_size(tl); i++) {
        const json_t *e = json_array_get(tl, i), *dir = json_object_get(e, "dir"),
                     *data = json_object_get(e, "data");
        struct tr_step st;
        memset(&st, 0, sizeof(st));
        if (!json_is_string(dir) || parse_marker(json_string_value(dir), &st) < 0) {
            snprintf(why, whylen, "case \"%s\": timeline[%zu] has a bad \"dir\"", s->name, i);
            return -1;
        }
        if (!st.is_marker) {
            if (!json_is_string(data)) {
                snprintf(why, whylen, "case \"%s\": timeline[%zu] has no \"data\"", s->name, i);
                return -1;
            }
            st.data = tr_latin1_bytes(json_string_value(data), json_string_length(data), &st.len);
            if (st.data == NULL) {
                snprintf(why, whylen, "case \"%s\": timeline[%zu] has a character above U+00FF",
                         s->name, i);
                return -1;
            }
        }
        if (push_step(s, &st) < 0) {
            free(st.data);
            return -1;
        }
    }
    s->obj = json_incref(o);
    return 0;
}

static void session_free(struct tr_session *s)
{
    size_t i;

    for (i = 0; i < s->nsteps; i++)
        free(s->steps[i].data);
    free(s->steps);
    free(s->name);
    json_decref(s->obj);
}

/* JSON lines: read line by line so the line number of an error is known. */
static int load_lines(FILE *f, const char *path, struct tr_file *tf, char *err, size_t errlen)
{
    struct tr_session s;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long lineno = 0;
    const char *base = strrchr(path, '/');

    memset(&s, 0, sizeof(s));
    s.name = strdup(base ? base + 1 : path);
    if (s.name == NULL)
        return -1;
    while ((n = getline(&line, &cap, f)) >= 0) {
        json_error_t je;
        json_t *o;
        struct tr_step st;
        char why[160];
        size_t i = 0;
        lineno++;
        while (i < (size_t)n &&
               (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n'))
            i++;
        if (i == (size_t)n)
            continue; /* blank line */
        if ((size_t)n > TR_LINE_MAX) {
            snprintf(err, errlen, "%s:%lu: line longer than %u bytes", path, lineno, TR_LINE_MAX);
            goto fail;
        }
        o = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &je);
        if (o == NULL || !json_is_object(o)) {
            snprintf(err, errlen, "%s:%lu: not a JSON object%s%s", path, lineno,
                     o == NULL ? ": " : "", o == NULL ? je.text : "");
            json_decref(o);
            goto fail;
        }
        if (chunk_from_json(o, &st, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "%s:%lu: %s", path, lineno, why);
            json_decref(o);
            goto fail;
        }
        json_decref(o);
        if (push_step(&s, &st) < 0) {
            free(st.data);
            snprintf(err, errlen, "%s:%lu: out of memory", path, lineno);
            goto fail;
        }
    }
    free(line);
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        session_free(&s);
        return -1;
    }
    if (push_session(tf, &s) < 0) {
        session_free(&s);
        return -1;
    }
    return 0;
fail:
    free(line);
    session_free(&s);
    return -1;
}

int tr_load(const char *path, struct tr_file *tf, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    json_error_t je;
    json_t *root;
    int c, rc = -1;
    char why[200];

    memset(tf, 0, sizeof(*tf));
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    /* A whole-file JSON value that is an object with a timeline, or an array,
     * is a case file; anything else is JSON lines. */
    do
        c = getc(f);
    while (c == ' ' || c == '\t' || c == '\r' || c == '\n');
    if (c == EOF) {
        snprintf(err, errlen, "%s: empty file", path);
        goto out;
    }
    ungetc(c, f);
    if (c == '[' || (c == '{' && f != stdin)) {
        long start = ftell(f);
        root = json_loadf(f, JSON_ALLOW_NUL | JSON_DISABLE_EOF_CHECK, &je);
        if (root != NULL && json_is_object(root) && json_object_get(root, "timeline") != NULL) {
            struct tr_session s;
            if (case_from_json(root, &s, why, sizeof(why)) < 0 || push_session(tf, &s) < 0) {
                snprintf(err, errlen, "%s: %s", path, why);
                json_decref(root);
                goto out;
            }
            json_decref(root);
            rc = 0;
            goto out;
        }
        if (root != NULL && json_is_array(root)) {
            size_t i;
            for (i = 0; i < json_array_size(root); i++) {
                struct tr_session s;
                if (case_from_json(json_array_get(root, i), &s, why, sizeof(why)) < 0 ||
                    push_session(tf, &s) < 0) {
                    snprintf(err, errlen, "%s: element %zu: %s", path, i, why);
                    json_decref(root);
                    goto out;
                }
            }
            json_decref(root);
            rc = 0;
            goto out;
        }
        if (c == '[') {
            snprintf(err, errlen, "%s:%d: %s", path, root == NULL ? je.line : 1,
                     root == NULL ? je.text : "not an array of cases");
            json_decref(root);
            goto out;
        }
        json_decref(root);
        if (fseek(f, start, SEEK_SET) < 0) {
            snprintf(err, errlen, "%s: cannot rewind: %s", path, strerror(errno));
            goto out;
        }
    }
    rc = load_lines(f, path, tf, err, errlen);
out:
    if (f != stdin)
        fclose(f);
    if (rc < 0)
        tr_free(tf);
    return rc;
}

void tr_free(struct tr_file *tf)
{
    size_t i;

    for (i = 0; i < tf->nsessions; i++)
        session_free(&tf->sessions[i]);
    free(tf->sessions);
    memset(tf, 0, sizeof(*tf));
}

int tr_apply_config(const json_t *config, struct imap_session_config *cfg, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    void *it;

    if (config == NULL || json_is_null(config))
        return 0;
    if (!json_is_object(config)) {
        snprintf(err, errlen, "\"config\" must be an object");
        return -1;
    }
    /* jansson iterates through non-const objects; the iterator does not modify */
    for (it = json_object_iter((json_t *)(uintptr_t)config); it != NULL;
         it = json_object_iter_next((json_t *)(uintptr_t)config, it)) {
        key = json_object_iter_key(it);
        v = json_object_iter_value(it);
        if (strcmp(key, "keepalive_s") == 0 && json_is_integer(v)) {
            /* the timer markers say when it fires */
        } else if (strcmp(key, "keepalive_tag_prefix") == 0 && json_is_string(v)) {
            cfg->ka_tag_prefix = json_string_value(v);
        } else if (strcmp(key, "keepalive_selected") == 0 && json_is_string(v)) {
            cfg->ka_cmd =
                strcmp(json_string_value(v), "search") == 0 ? IMAP_KA_SEARCH : IMAP_KA_NOOP;
        } else if (strcmp(key, "keepalive_mode") == 0 && json_is_string(v) &&
                   (strcmp(json_string_value(v), "idle") == 0 ||
                    strcmp(json_string_value(v), "noop") == 0)) {
            cfg->ka_idle = strcmp(json_string_value(v), "idle") == 0;
        } else if (strcmp(key, "client_tls") == 0 && json_is_string(v)) {
            cfg->client_tls = strcmp(json_string_value(v), "implicit") == 0;
            cfg->client_starttls = !cfg->client_tls;
        } else if (strcmp(key, "server_tls") == 0 && json_is_string(v)) {
            cfg->server_tls = strcmp(json_string_value(v), "implicit") == 0;
        } else if (strcmp(key, "strip_caps") == 0 && json_is_array(v)) {
            size_t i;
            cfg->strip_compress = 0;
            for (i = 0; i < json_array_size(v); i++) {
                const char *c = json_string_value(json_array_get(v, i));
                if (c != NULL && strncmp(c, "COMPRESS=", 9) == 0)
                    cfg->strip_compress = 1;
            }
        } else if (strcmp(key, "strip_channel_binding_mechs") == 0 && json_is_boolean(v)) {
            cfg->strip_channel_binding = json_is_true(v);
        } else if (strcmp(key, "require_tls") == 0 && json_is_boolean(v)) {
            cfg->require_tls = json_is_true(v);
        } else {
            snprintf(err, errlen, "config: unknown key or bad value for \"%s\"", key);
            return -1;
        }
    }
    return 0;
}
