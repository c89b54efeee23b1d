/*
 * pretty.c - `imaptap pretty`: the log as a transcript, one line per event.
 *
 *   a4081be5     0.011 C: t3 UID FETCH 1:* (FLAGS)
 *   a4081be5     0.012 S: * 1 FETCH (UID 1 FLAGS (\Seen))
 *   a4081be5     0.012 S: t3 OK Fetch completed.  0.251 ms
 *
 * Columns: the session id's first 8 digits (left out under --session),
 * seconds since the session started, a marker (C: client, S: server,
 * ** imaptap itself, !! anomalies, parse errors and limits, == session
 * open and close), the event in IMAP form.  Strings from the log are
 * escaped, so no control sequence in a log reaches the terminal.
 *
 * Filters: --session keeps the sessions whose id starts with the prefix;
 * --user keeps whole sessions and has to hold a session's lines until its
 * user is known (bounded, see PRETTY_HOLD_*); --command, --status and
 * --mailbox keep events (command/completion pairs, and with --mailbox the
 * responses about that mailbox), the session's header printed before its
 * first kept event.
 */
#include "pretty.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "logread.h"
#include "sesstab.h"

#define PRETTY_SESSIONS_MAX 100000      /* sessions tracked; the least recently active goes */
#define PRETTY_HOLD_LINES   10000       /* lines held per session until its user is known */
#define PRETTY_HOLD_BYTES   (64u << 20) /* lines held in all */
#define PRETTY_PENDING_MAX  1024        /* commands per session awaiting their completion */

/* ANSI SGR sequences; empty strings without colour */
enum colour { C_RESET, C_DIM, C_BOLD, C_CLIENT, C_OK, C_NO, C_BAD, C_WARN, C_SELF, C_N };
static const char *const sgr[C_N] = {
    "\033[0m",  "\033[2m",  "\033[1m",    "\033[36m", "\033[32m",
    "\033[33m", "\033[31m", "\033[1;31m", "\033[35m",
};
static const char *const sid_sgr[] = {"\033[34m", "\033[32m", "\033[33m",
                                      "\033[35m", "\033[36m", "\033[94m"};

/* ---- a growing string ---- */

struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        char *np;

        while (ncap < b->len + n + 1)
            ncap *= 2;
        if ((np = realloc(b->p, ncap)) == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        sb_putn(b, tmp, (size_t)n);
        return;
    }
    {
        char *big = malloc((size_t)n + 1);
        if (big == NULL) {
            b->oom = 1;
            return;
        }
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        sb_putn(b, big, (size_t)n);
        free(big);
    }
}

/* Text from the log, made safe for a terminal: C0 and C1 controls and DEL
 * become \xNN or \u00NN (UTF-8 passes through: the logger wrote valid UTF-8). */
static void sb_esc(struct sbuf *b, const char *s, size_t n, int quote)
{
    size_t i, run = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        int c1 = c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
                 (unsigned char)s[i + 1] <= 0x9f;

        if (c >= 0x20 && c != 0x7f && !c1 && !(quote && (c == '"' || c == '\\')))
            continue;
        sb_putn(b, s + run, i - run);
        if (c1) {
            snprintf(esc, sizeof(esc), "\\u%04x", (unsigned char)s[i + 1]);
            i++;
        } else if (c == '"' || c == '\\') {
            snprintf(esc, sizeof(esc), "\\%c", c);
        } else if (c == '\r') {
            snprintf(esc, sizeof(esc), "\\r");
        } else if (c == '\n') {
            snprintf(esc, sizeof(esc), "\\n");
        } else if (c == '\t') {
            snprintf(esc, sizeof(esc), "\\t");
        } else {
            snprintf(esc, sizeof(esc), "\\x%02x", c);
        }
        sb_puts(b, esc);
        run = i + 1;
    }
    sb_putn(b, s + run, n - run);
}

/* A string member, escaped; nothing when absent. */
static int sb_field(struct sbuf *b, const json_t *obj, const char *key, int quote)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_string(v))
        return 0;
    if (quote)
        sb_putn(b, "\"", 1);
    sb_esc(b, json_string_value(v), json_string_length(v), quote);
    if (quote)
        sb_putn(b, "\"", 1);
    return 1;
}

/* An array of strings joined by spaces. */
static void sb_strlist(struct sbuf *b, const json_t *arr)
{
    size_t i;
    json_t *v;

    json_array_foreach(arr, i, v)
    {
        if (i > 0)
            sb_putn(b, " ", 1);
        if (json_is_string(v))
            sb_esc(b, json_string_value(v), json_string_length(v), 0);
    }
}

/* A duration in the unit a person reads best. */
static void sb_ms(struct sbuf *b, double ms)
{
    if (ms < 1)
        sb_printf(b, "%.3f ms", ms);
    else if (ms < 100)
        sb_printf(b, "%.1f ms", ms);
    else if (ms < 1000)
        sb_printf(b, "%.0f ms", ms);
    else
        sb_printf(b, "%.1f s", ms / 1000);
}

/* ---- options and state ---- */

struct popts {
    int colour;
    int follow;
    const char *session, *user, *mailbox, *command, *status;
};

/* One rendered line held back (until the user of its session is known). */
struct held {
    struct held *next;
    size_t len;
    char text[];
};

/* A command awaiting its completion; line is NULL once printed. */
struct pend {
    struct pend *next;
    char *tag;
    char *line;
};

enum ustate { U_PENDING, U_MATCH, U_NOMATCH };

struct psess {
    struct sesstab_node node; /* first: the sid, and the table's links */
    int64_t start_us;         /* -1 until a valid ts */
    enum ustate ustate;
    struct held *held, *held_tail;
    size_t nheld;
    unsigned long dropped; /* lines not held (over the bounds) */
    char *header;          /* printed before the first kept event */
    int header_shown, any_out;
    char *selected, *selected_utf8;      /* --mailbox: the selected mailbox */
    char *sel_tag, *sel_mbox, *sel_utf8; /* a SELECT/EXAMINE in flight */
    struct pend *pend;
    size_t npend;
};

struct pretty {
    struct popts o;
    int event_filter; /* --command, --status or --mailbox */
    int show_sid;
    char first_sid[24];
    struct sesstab sessions;
    size_t held_bytes;
    struct sbuf line, text; /* the line being built, and its event part */
};

static const char *col(const struct pretty *p, enum colour c)
{
    return p->o.colour ? sgr[c] : "";
}

static void held_free(struct pretty *p, struct psess *s)
{
    while (s->held != NULL) {
        struct held *h = s->held;
        s->held = h->next;
        p->held_bytes -= h->len;
        free(h);
    }
    s->held_tail = NULL;
    s->nheld = 0;
}

static void pend_free(struct pend *e)
{
    free(e->tag);
    free(e->line);
    free(e);
}

static void sess_free(struct pretty *p, struct psess *s)
{
    sesstab_remove(&p->sessions, &s->node);
    held_free(p, s);
    while (s->pend != NULL) {
        struct pend *e = s->pend;
        s->pend = e->next;
        pend_free(e);
    }
    free(s->header);
    free(s->selected);
    free(s->selected_utf8);
    free(s->sel_tag);
    free(s->sel_mbox);
    free(s->sel_utf8);
    free(s);
}

/* The session of sid; *created_r says whether it is new. */
static struct psess *sess_get(struct pretty *p, const char *sid, int *created_r)
{
    struct psess *s;

    *created_r = 0;
    s = (struct psess *)sesstab_find(&p->sessions, sid);
    if (s != NULL)
        return s;
    if (p->sessions.n >= PRETTY_SESSIONS_MAX)
        sess_free(p, (struct psess *)p->sessions.oldest);
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return NULL;
    if (sesstab_insert(&p->sessions, &s->node, sid) < 0) {
        free(s);
        return NULL;
    }
    s->start_us = -1;
    s->ustate = p->o.user != NULL ? U_PENDING : U_MATCH;
    *created_r = 1;
    return s;
}

/* ---- output ---- */

static void write_text(const char *text, size_t len)
{
    fwrite(text, 1, len, stdout);
}

static void write_line(struct psess *s, const char *text, size_t len)
{
    if (s->header != NULL && !s->header_shown) {
        s->header_shown = 1;
        write_text(s->header, strlen(s->header));
    }
    write_text(text, len);
}

/* Prints a line now, or holds it while the session's user is unknown. */
static void out_line(struct pretty *p, struct psess *s, const char *text, size_t len)
{
    struct held *h;

    s->any_out = 1;
    if (s->ustate == U_MATCH) {
        write_line(s, text, len);
        return;
    }
    if (s->ustate == U_NOMATCH)
        return;
    if (s->nheld >= PRETTY_HOLD_LINES || p->held_bytes + len > PRETTY_HOLD_BYTES ||
        (h = malloc(sizeof(*h) + len)) == NULL) {
        s->dropped++;
        return;
    }
    h->next = NULL;
    h->len = len;
    memcpy(h->text, text, len);
    if (s->held_tail != NULL)
        s->held_tail->next = h;
    else
        s->held = h;
    s->held_tail = h;
    s->nheld++;
    p->held_bytes += len;
}

/* The session's user is decided: print or forget what was held. */
static void user_decided(struct pretty *p, struct psess *s, int match)
{
    struct held *h;

    if (s->ustate != U_PENDING)
        return;
    s->ustate = match ? U_MATCH : U_NOMATCH;
    if (match) {
        for (h = s->held; h != NULL; h = h->next)
            write_line(s, h->text, h->len);
        if (s->dropped > 0) {
            char note[160];
            int n = snprintf(note, sizeof(note),
                             "%-*.*s%s%s... %lu lines not shown: held too long before the user "
                             "was known%s\n",
                             p->show_sid ? 8 : 0, p->show_sid ? 8 : 0, s->node.sid,
                             p->show_sid ? " " : "", col(p, C_DIM), s->dropped, col(p, C_RESET));
            write_text(note, (size_t)n < sizeof(note) ? (size_t)n : sizeof(note) - 1);
        }
    }
    held_free(p, s);
}

/* ---- rendering: the event in IMAP form, into p->text ---- */

/* Flags that change how to read an event. */
static void render_flags(struct sbuf *b, const json_t *ev)
{
    static const struct {
        const char *key, *label;
    } flags[] = {
        {"held", "held by keepalive"},    {"swallowed", "swallowed"},
        {"local", "answered by imaptap"}, {"aborted", "literal refused"},
        {"discarded", "discarded"},       {"truncated", "truncated"},
        {"lossy", "not UTF-8"},
    };
    size_t i;

    for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (json_is_true(json_object_get(ev, flags[i].key)))
            sb_printf(b, " [%s]", flags[i].label);
}

/* The args summary with literal markers {N} shown as {N bytes}. */
static void render_args(struct sbuf *b, const char *a, size_t n)
{
    size_t i = 0, run = 0;
    int quoted = 0;

    while (i < n) {
        size_t j, d;

        if (quoted) {
            if (a[i] == '\\' && i + 1 < n)
                i++;
            else if (a[i] == '"')
                quoted = 0;
            i++;
            continue;
        }
        if (a[i] == '"') {
            quoted = 1;
            i++;
            continue;
        }
        j = i + (a[i] == '~');
        if (j < n && a[j] == '{' && (i == 0 || a[i - 1] == ' ' || a[i - 1] == '(')) {
            for (d = j + 1; d < n && a[d] >= '0' && a[d] <= '9'; d++)
                ;
            if (d > j + 1 && d < n && a[d] == '+')
                d++;
            if (d > j + 1 && d < n && a[d] == '}' &&
                (d + 1 == n || a[d + 1] == ' ' || a[d + 1] == ')')) {
                size_t digits = d - j - 1 - (a[d - 1] == '+');
                sb_esc(b, a + run, i - run, 0);
                sb_putn(b, "{", 1);
                sb_putn(b, a + j + 1, digits);
                sb_puts(b, " bytes}");
                i = run = d + 1;
                continue;
            }
        }
        i++;
    }
    sb_esc(b, a + run, n - run, 0);
}

static void render_code(struct sbuf *b, const json_t *ev)
{
    if (json_is_string(json_object_get(ev, "code"))) {
        sb_puts(b, " [");
        sb_field(b, ev, "code", 0);
        if (json_is_string(json_object_get(ev, "code_data"))) {
            sb_puts(b, " ");
            sb_field(b, ev, "code_data", 0);
        }
        sb_puts(b, "]");
    }
    if (json_is_string(json_object_get(ev, "text"))) {
        sb_puts(b, " ");
        sb_field(b, ev, "text", 0);
    }
}

static void render_caps_removed(struct sbuf *b, const json_t *ev)
{
    json_t *rm = json_object_get(ev, "caps_removed");

    if (json_array_size(rm) > 0) {
        sb_puts(b, " [imaptap removed: ");
        sb_strlist(b, rm);
        sb_puts(b, "]");
    }
}

static void render_fetch(struct sbuf *b, const json_t *f)
{
    json_t *v, *env, *parts, *part;
    size_t i;
    const char *sep = "";

    sb_puts(b, " (");
    if ((v = json_object_get(f, "uid")) != NULL && json_is_integer(v)) {
        sb_printf(b, "%sUID %lld", sep, (long long)json_integer_value(v));
        sep = " ";
    }
    if (json_is_array(v = json_object_get(f, "flags"))) {
        sb_printf(b, "%sFLAGS (", sep);
        sb_strlist(b, v);
        sb_puts(b, ")");
        sep = " ";
    }
    if (json_is_integer(v = json_object_get(f, "modseq"))) {
        sb_printf(b, "%sMODSEQ (%lld)", sep, (long long)json_integer_value(v));
        sep = " ";
    }
    if (json_is_integer(v = json_object_get(f, "size"))) {
        sb_printf(b, "%sRFC822.SIZE %lld", sep, (long long)json_integer_value(v));
        sep = " ";
    }
    if (json_is_string(json_object_get(f, "internaldate"))) {
        sb_printf(b, "%sINTERNALDATE ", sep);
        sb_field(b, f, "internaldate", 1);
        sep = " ";
    }
    if (json_is_object(env = json_object_get(f, "envelope"))) {
        sb_printf(b, "%sENVELOPE (", sep);
        if (!sb_field(b, env, "subject", 1))
            sb_puts(b, "NIL");
        if (json_is_string(json_object_get(env, "from"))) {
            sb_puts(b, " from ");
            sb_field(b, env, "from", 1);
        }
        sb_puts(b, ")");
        sep = " ";
    }
    parts = json_object_get(f, "parts");
    json_array_foreach(parts, i, part)
    {
        sb_puts(b, sep);
        if (!sb_field(b, part, "section", 0))
            sb_puts(b, "?");
        sb_printf(b, " {%lld bytes}", (long long)ev_int(part, "size", 0));
        sep = " ";
    }
    sb_puts(b, ")");
}

static void render_untagged(struct sbuf *b, const json_t *ev)
{
    const char *name = ev_str(ev, "name");
    json_t *v, *lits;
    int has_parts = 0;

    sb_puts(b, "*");
    if (json_is_integer(v = json_object_get(ev, "n")))
        sb_printf(b, " %lld", (long long)json_integer_value(v));
    sb_puts(b, " ");
    if (!sb_field(b, ev, "name", 0))
        sb_puts(b, "?");
    if (name == NULL) {
        render_code(b, ev);
    } else if (strcmp(name, "FETCH") == 0 && json_is_object(v = json_object_get(ev, "fetch"))) {
        render_fetch(b, v);
        has_parts = json_array_size(json_object_get(v, "parts")) > 0;
    } else if (strcmp(name, "CAPABILITY") == 0 || strcmp(name, "ENABLED") == 0) {
        if (json_array_size(json_object_get(ev, "caps")) > 0) {
            sb_puts(b, " ");
            sb_strlist(b, json_object_get(ev, "caps"));
        }
    } else if (strcmp(name, "FLAGS") == 0 && json_is_array(v = json_object_get(ev, "flags"))) {
        sb_puts(b, " (");
        sb_strlist(b, v);
        sb_puts(b, ")");
    } else if (json_is_object(v = json_object_get(ev, "vanished"))) {
        if (json_is_true(json_object_get(v, "earlier")))
            sb_puts(b, " (EARLIER)");
        sb_puts(b, " ");
        sb_field(b, v, "uids", 0);
    } else if (json_is_object(v = json_object_get(ev, "list"))) {
        json_t *delim = json_object_get(v, "delim");

        sb_puts(b, " (");
        sb_strlist(b, json_object_get(v, "attrs"));
        sb_puts(b, ") ");
        if (json_is_string(delim))
            sb_field(b, v, "delim", 1);
        else
            sb_puts(b, "NIL");
        sb_puts(b, " ");
        sb_field(b, v, "name", 1);
        if (json_is_string(json_object_get(v, "name_utf8"))) {
            sb_puts(b, " (");
            sb_field(b, v, "name_utf8", 0);
            sb_puts(b, ")");
        }
    } else if (json_is_object(v = json_object_get(ev, "mbox_status"))) {
        const char *k;
        json_t *item;
        const char *sep = "";

        sb_puts(b, " ");
        sb_field(b, v, "mailbox", 1);
        sb_puts(b, " (");
        json_object_foreach(json_object_get(v, "items"), k, item)
        {
            sb_printf(b, "%s", sep);
            sb_esc(b, k, strlen(k), 0);
            sb_printf(b, " %lld", (long long)json_integer_value(item));
            sep = " ";
        }
        sb_puts(b, ")");
    } else if (json_is_object(v = json_object_get(ev, "search"))) {
        if (json_is_string(json_object_get(v, "tag"))) {
            sb_puts(b, " (TAG ");
            sb_field(b, v, "tag", 1);
            sb_puts(b, ")");
        }
        sb_printf(b, " (%lld results)", (long long)ev_int(v, "count", 0));
    } else if (json_is_object(v = json_object_get(ev, "id"))) {
        sb_puts(b, " (");
        if (json_is_string(json_object_get(v, "name"))) {
            sb_puts(b, "name ");
            sb_field(b, v, "name", 1);
        }
        if (json_is_string(json_object_get(v, "version"))) {
            sb_puts(b, json_is_string(json_object_get(v, "name")) ? " version " : "version ");
            sb_field(b, v, "version", 1);
        }
        sb_puts(b, ")");
    } else {
        render_code(b, ev);
        if (json_is_string(json_object_get(ev, "state"))) {
            sb_puts(b, " (now ");
            sb_field(b, ev, "state", 0);
            sb_puts(b, ")");
        }
    }
    lits = json_object_get(ev, "literals");
    if (!has_parts && json_array_size(lits) > 0) {
        size_t i;
        json_t *l;

        json_array_foreach(lits, i, l)
        {
            sb_printf(b, " {%lld bytes}", (long long)json_integer_value(l));
        }
    }
    render_caps_removed(b, ev);
    if (json_is_true(json_object_get(ev, "greeting")))
        sb_puts(b, " (greeting)");
}

static void render_addr(struct sbuf *b, const json_t *o, const char *hkey)
{
    json_t *h = json_object_get(o, hkey);

    if (!json_is_string(h)) {
        sb_puts(b, "?");
        return;
    }
    /* an IPv6 address gets brackets before the port */
    if (strchr(json_string_value(h), ':') != NULL)
        sb_puts(b, "[");
    sb_field(b, o, hkey, 0);
    if (strchr(json_string_value(h), ':') != NULL)
        sb_puts(b, "]");
    if (json_is_integer(json_object_get(o, "port")))
        sb_printf(b, ":%lld", (long long)ev_int(o, "port", 0));
}

/*
 * Renders the event into p->text and returns its marker and colour; the
 * marker is NULL for an event that is not printed.
 */
static const char *render(struct pretty *p, const json_t *ev, const char *type,
                          enum colour *colour_r)
{
    struct sbuf *b = &p->text;
    const char *dir = ev_str(ev, "dir");
    const char *mark = dir == NULL ? "**" : strcmp(dir, "c2s") == 0 ? "C:" : "S:";
    json_t *v;

    *colour_r = dir != NULL && strcmp(dir, "c2s") == 0 ? C_CLIENT : C_N;
    if (strcmp(type, "command") == 0) {
        sb_field(b, ev, "tag", 0);
        sb_puts(b, " ");
        sb_field(b, ev, "cmd", 0);
        if (json_is_string(v = json_object_get(ev, "args")) && json_string_length(v) > 0) {
            sb_puts(b, " ");
            render_args(b, json_string_value(v), json_string_length(v));
        }
        if (json_is_string(json_object_get(ev, "mailbox_utf8"))) {
            sb_puts(b, " (mailbox ");
            sb_field(b, ev, "mailbox_utf8", 1);
            sb_puts(b, ")");
        }
    } else if (strcmp(type, "tagged") == 0) {
        const char *status = ev_str(ev, "status");

        sb_field(b, ev, "tag", 0);
        sb_puts(b, " ");
        if (status != NULL) {
            enum colour c = strcmp(status, "OK") == 0   ? C_OK
                            : strcmp(status, "NO") == 0 ? C_NO
                                                        : C_BAD;
            sb_puts(b, col(p, c));
            sb_field(b, ev, "status", 0);
            sb_puts(b, col(p, C_RESET));
        }
        render_code(b, ev);
        render_caps_removed(b, ev);
        if (json_is_number(json_object_get(ev, "ms"))) {
            sb_puts(b, "  ");
            sb_puts(b, col(p, C_DIM));
            sb_ms(b, ev_num(ev, "ms", 0));
            sb_puts(b, col(p, C_RESET));
        }
    } else if (strcmp(type, "untagged") == 0) {
        render_untagged(b, ev);
    } else if (strcmp(type, "continue") == 0) {
        const char *what = ev_str(ev, "for");

        sb_puts(b, "+");
        if (json_is_string(json_object_get(ev, "text"))) {
            sb_puts(b, " ");
            sb_field(b, ev, "text", 0);
        } else {
            sb_printf(b, " (%s%s%lld bytes)",
                      what == NULL                ? ""
                      : strcmp(what, "sasl") == 0 ? "SASL challenge"
                                                  : what,
                      what ? ", " : "", (long long)ev_int(ev, "len", 0));
        }
    } else if (strcmp(type, "client_line") == 0) {
        if (json_is_true(json_object_get(ev, "cancel")))
            sb_puts(b, "* (SASL exchange cancelled)");
        else
            sb_printf(b, "(%s, %lld bytes)",
                      ev_str(ev, "kind") && strcmp(ev_str(ev, "kind"), "sasl") == 0
                          ? "SASL response"
                          : "client data",
                      (long long)ev_int(ev, "len", 0));
    } else if (strcmp(type, "idle") == 0) {
        const char *state = ev_str(ev, "state");

        if (state != NULL && strcmp(state, "done") == 0) {
            sb_puts(b, "DONE  idle ");
            sb_ms(b, ev_num(ev, "ms", 0));
        } else {
            sb_puts(b, "+ (idling, ");
            sb_field(b, ev, "tag", 0);
            sb_puts(b, ")");
        }
    } else if (strcmp(type, "auth") == 0) {
        mark = "**";
        *colour_r = C_SELF;
        sb_puts(b, "auth ");
        /* LOGIN, or AUTHENTICATE and the mechanism (which may be LOGIN too) */
        if (json_is_string(json_object_get(ev, "mech"))) {
            sb_puts(b, "AUTHENTICATE ");
            sb_field(b, ev, "mech", 0);
        } else if (!sb_field(b, ev, "method", 0)) {
            sb_puts(b, "?");
        }
        sb_puts(b, " ");
        if (!sb_field(b, ev, "user", 0))
            sb_puts(b, "(user unknown)");
        if (json_is_string(json_object_get(ev, "status"))) {
            sb_puts(b, " ");
            sb_field(b, ev, "status", 0);
        }
    } else if (strcmp(type, "tls") == 0) {
        json_t *peer = json_object_get(ev, "peer");

        mark = "**";
        *colour_r = C_SELF;
        sb_puts(b, "tls ");
        sb_field(b, ev, "leg", 0);
        sb_puts(b, " leg ");
        sb_field(b, ev, "version", 0);
        sb_puts(b, " ");
        sb_field(b, ev, "cipher", 0);
        if (json_is_string(json_object_get(ev, "sni"))) {
            sb_puts(b, " sni ");
            sb_field(b, ev, "sni", 0);
        }
        if (json_is_object(peer) && json_is_string(json_object_get(peer, "subject"))) {
            sb_puts(b, " peer ");
            sb_field(b, peer, "subject", 1);
        }
        if (json_is_boolean(v = json_object_get(ev, "verified")))
            sb_puts(b, json_is_true(v) ? " verified" : " NOT verified");
    } else if (strcmp(type, "starttls") == 0) {
        const char *state = ev_str(ev, "state");

        mark = state != NULL && strcmp(state, "failed") == 0 ? "!!" : "**";
        *colour_r = mark[0] == '!' ? C_WARN : C_SELF;
        sb_puts(b, "starttls ");
        sb_field(b, ev, "leg", 0);
        sb_puts(b, " leg ");
        sb_field(b, ev, "state", 0);
        if (json_is_string(json_object_get(ev, "text"))) {
            sb_puts(b, ": ");
            sb_field(b, ev, "text", 0);
        }
    } else if (strcmp(type, "keepalive") == 0) {
        mark = "**";
        *colour_r = C_SELF;
        sb_puts(b, "keepalive ");
        sb_field(b, ev, "tag", 0);
        if (json_is_string(json_object_get(ev, "cmd"))) {
            sb_puts(b, " ");
            sb_field(b, ev, "cmd", 0);
        }
        sb_puts(b, " ");
        sb_field(b, ev, "state", 0);
        if (json_is_number(json_object_get(ev, "ms"))) {
            sb_puts(b, " ");
            sb_ms(b, ev_num(ev, "ms", 0));
        }
        if (json_is_integer(json_object_get(ev, "held")))
            sb_printf(b, ", %lld held", (long long)ev_int(ev, "held", 0));
    } else if (strcmp(type, "anomaly") == 0 || strcmp(type, "parse_error") == 0 ||
               strcmp(type, "limit") == 0) {
        mark = "!!";
        *colour_r = C_WARN;
        if (strcmp(type, "anomaly") == 0) {
            sb_puts(b, "anomaly ");
            sb_field(b, ev, "kind", 0);
        } else if (strcmp(type, "parse_error") == 0) {
            sb_puts(b, "parse error ");
            sb_field(b, ev, "reason", 0);
        } else {
            sb_puts(b, "limit ");
            sb_field(b, ev, "what", 0);
        }
        if (dir != NULL)
            sb_puts(b, strcmp(dir, "c2s") == 0 ? " (client)" : " (server)");
        if (json_is_string(json_object_get(ev, "tag"))) {
            sb_puts(b, " tag ");
            sb_field(b, ev, "tag", 0);
        }
        if (json_is_string(json_object_get(ev, "cmd"))) {
            sb_puts(b, " ");
            sb_field(b, ev, "cmd", 0);
        }
        if (strcmp(type, "limit") == 0)
            sb_printf(b, ": %lld > %lld", (long long)ev_int(ev, "value", 0),
                      (long long)ev_int(ev, "max", 0));
        if (json_is_string(json_object_get(ev, "text"))) {
            sb_puts(b, ": ");
            sb_field(b, ev, "text", 0);
        }
        if (json_is_string(json_object_get(ev, "excerpt"))) {
            sb_puts(b, ": ");
            sb_field(b, ev, "excerpt", 1);
        }
        if (json_is_integer(json_object_get(ev, "bytes")))
            sb_printf(b, " (%lld bytes)", (long long)ev_int(ev, "bytes", 0));
        if (json_is_string(json_object_get(ev, "resync"))) {
            sb_puts(b, " (resync: ");
            sb_field(b, ev, "resync", 0);
            sb_puts(b, ")");
        }
    } else if (strcmp(type, "session_open") == 0 || strcmp(type, "session_close") == 0) {
        return NULL; /* headers and footers are built apart */
    } else {
        mark = "**";
        sb_puts(b, "event ");
        sb_esc(b, type, strlen(type), 1);
    }
    render_flags(b, ev);
    return mark;
}

static void render_header(struct pretty *p, const json_t *ev, const char *sid, int opened)
{
    struct sbuf *b = &p->text;
    json_t *client = json_object_get(ev, "client"), *up = json_object_get(ev, "upstream");

    sb_puts(b, "session ");
    sb_esc(b, sid, strlen(sid), 0);
    if (json_is_string(json_object_get(ev, "ts"))) {
        sb_puts(b, " at ");
        sb_field(b, ev, "ts", 0);
    }
    if (!opened) {
        sb_puts(b, " (no session_open line)");
        return;
    }
    if (json_is_object(client)) {
        sb_puts(b, " client ");
        render_addr(b, client, "addr");
    }
    if (json_is_string(json_object_get(ev, "listener"))) {
        sb_puts(b, " on ");
        sb_field(b, ev, "listener", 0);
    }
    if (json_is_object(up)) {
        sb_puts(b, " upstream ");
        render_addr(b, up, "host");
    }
    if (json_is_false(json_object_get(ev, "redact")))
        sb_puts(b, " [credentials NOT redacted]");
}

static void render_footer(struct pretty *p, const json_t *ev)
{
    struct sbuf *b = &p->text;
    json_t *bytes = json_object_get(ev, "bytes");

    sb_puts(b, "session closed: ");
    if (!sb_field(b, ev, "reason", 0))
        sb_puts(b, "?");
    if (json_is_string(json_object_get(ev, "user"))) {
        sb_puts(b, ", user ");
        sb_field(b, ev, "user", 0);
    }
    sb_printf(b, ", %lld commands", (long long)ev_int(ev, "commands", 0));
    if (json_is_object(bytes))
        sb_printf(b, ", bytes c2s %lld s2c %lld", (long long)ev_int(bytes, "c2s", 0),
                  (long long)ev_int(bytes, "s2c", 0));
    if (json_is_number(json_object_get(ev, "duration_ms"))) {
        sb_puts(b, ", ");
        sb_ms(b, ev_num(ev, "duration_ms", 0));
    }
    if (json_is_integer(json_object_get(ev, "dropped")))
        sb_printf(b, ", %lld log lines dropped", (long long)ev_int(ev, "dropped", 0));
    render_flags(b, ev);
}

/* Puts the sid and time columns, the marker and p->text together in
 * p->line. */
static void compose(struct pretty *p, const struct psess *s, int64_t ts_us, const char *mark,
                    enum colour colour)
{
    struct sbuf *l = &p->line;

    l->len = 0;
    if (p->show_sid) {
        if (p->o.colour)
            sb_puts(l, sid_sgr[sesstab_hash(s->node.sid) % (sizeof(sid_sgr) / sizeof(sid_sgr[0]))]);
        sb_printf(l, "%-8.8s", s->node.sid);
        sb_puts(l, col(p, C_RESET));
        sb_puts(l, " ");
    }
    sb_puts(l, col(p, C_DIM));
    if (ts_us >= 0 && s->start_us >= 0)
        sb_printf(l, "%9.3f", (double)(ts_us - s->start_us) / 1e6);
    else
        sb_printf(l, "%9s", "?");
    sb_puts(l, col(p, C_RESET));
    sb_puts(l, " ");
    if (colour != C_N)
        sb_puts(l, col(p, colour));
    sb_printf(l, "%s ", mark);
    sb_putn(l, p->text.p ? p->text.p : "", p->text.len);
    if (colour != C_N)
        sb_puts(l, col(p, C_RESET));
    sb_puts(l, "\n");
}

/* ---- filters ---- */

static int same_mailbox(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return 0;
    if (strcasecmp(a, "INBOX") == 0)
        return strcasecmp(b, "INBOX") == 0;
    return strcmp(a, b) == 0;
}

/* --command CMD matches CMD and its UID form. */
static int cmd_match(const struct pretty *p, const char *cmd)
{
    const char *want = p->o.command;

    if (want == NULL)
        return 1;
    if (cmd == NULL)
        return 0;
    if (strcasecmp(cmd, want) == 0)
        return 1;
    return strncasecmp(cmd, "UID ", 4) == 0 && strcasecmp(cmd + 4, want) == 0;
}

static int names_mailbox(const struct pretty *p, const json_t *ev)
{
    const char *m = p->o.mailbox;

    return same_mailbox(ev_str(ev, "mailbox"), m) || same_mailbox(ev_str(ev, "mailbox_utf8"), m) ||
           same_mailbox(ev_str(json_object_get(ev, "list"), "name"), m) ||
           same_mailbox(ev_str(json_object_get(ev, "list"), "name_utf8"), m) ||
           same_mailbox(ev_str(json_object_get(ev, "mbox_status"), "mailbox"), m);
}

static int set_str(char **dst, const char *src)
{
    char *n = NULL;

    if (src != NULL && (n = strdup(src)) == NULL)
        return -1;
    free(*dst);
    *dst = n;
    return 0;
}

/* Follows the selected mailbox (for --mailbox), in both forms. */
static int track_selected(struct psess *s, const json_t *ev, const char *type)
{
    const char *tag = ev_str(ev, "tag"), *cmd = ev_str(ev, "cmd");

    if (strcmp(type, "command") == 0 && cmd != NULL &&
        (strcmp(cmd, "SELECT") == 0 || strcmp(cmd, "EXAMINE") == 0))
        return set_str(&s->sel_tag, tag) | set_str(&s->sel_mbox, ev_str(ev, "mailbox")) |
               set_str(&s->sel_utf8, ev_str(ev, "mailbox_utf8"));
    if (strcmp(type, "tagged") == 0 && tag != NULL) {
        const char *status = ev_str(ev, "status");
        int ok = status != NULL && strcmp(status, "OK") == 0;

        if (s->sel_tag != NULL && strcmp(tag, s->sel_tag) == 0) {
            /* a failed SELECT leaves no mailbox selected (RFC 9051 6.3.2) */
            int rc = set_str(&s->selected, ok ? s->sel_mbox : NULL) |
                     set_str(&s->selected_utf8, ok ? s->sel_utf8 : NULL);
            free(s->sel_tag);
            s->sel_tag = NULL;
            return rc;
        }
        if (ok && cmd != NULL && (strcmp(cmd, "CLOSE") == 0 || strcmp(cmd, "UNSELECT") == 0))
            return set_str(&s->selected, NULL) | set_str(&s->selected_utf8, NULL);
    }
    return 0;
}

/* Whether the session has the --mailbox selected, or is selecting it. */
static int in_mailbox(const struct pretty *p, const struct psess *s)
{
    const char *m = p->o.mailbox;

    return same_mailbox(s->selected, m) || same_mailbox(s->selected_utf8, m) ||
           (s->sel_tag != NULL && (same_mailbox(s->sel_mbox, m) || same_mailbox(s->sel_utf8, m)));
}

/* Remembers a command until its completion; line may be NULL. */
static int pend_add(struct psess *s, const char *tag, const char *line, size_t len)
{
    struct pend *e, **pp;

    if (tag == NULL)
        return 0;
    if (s->npend >= PRETTY_PENDING_MAX) {
        e = s->pend; /* the oldest: its completion never came */
        s->pend = e->next;
        pend_free(e);
        s->npend--;
    }
    if ((e = calloc(1, sizeof(*e))) == NULL || (e->tag = strdup(tag)) == NULL ||
        (line != NULL && (e->line = strndup(line, len)) == NULL)) {
        if (e != NULL)
            pend_free(e);
        return -1;
    }
    for (pp = &s->pend; *pp != NULL; pp = &(*pp)->next)
        ;
    *pp = e;
    s->npend++;
    return 0;
}

/* Takes the oldest pending command with this tag (NULL if none). */
static struct pend *pend_take(struct psess *s, const char *tag)
{
    struct pend **pp;

    if (tag == NULL)
        return NULL;
    for (pp = &s->pend; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->tag, tag) == 0) {
            struct pend *e = *pp;
            *pp = e->next;
            s->npend--;
            return e;
        }
    }
    return NULL;
}

/*
 * Under --command, --status or --mailbox: prints the event if it is kept.
 * A command is kept when it matches --command and names (or runs in) the
 * --mailbox; under --status it waits for its completion, printed with it
 * when the status matches.  Other events are kept only for --mailbox alone:
 * responses naming it, and whatever happens while it is selected.
 */
static int filter_event(struct pretty *p, struct psess *s, const json_t *ev, const char *type)
{
    const char *line = p->line.p;
    size_t len = p->line.len;

    if (strcmp(type, "command") == 0) {
        if (!cmd_match(p, ev_str(ev, "cmd")))
            return 0;
        if (p->o.mailbox != NULL && !names_mailbox(p, ev) && !in_mailbox(p, s))
            return 0;
        if (p->o.status != NULL)
            return pend_add(s, ev_str(ev, "tag"), line, len);
        out_line(p, s, line, len);
        return p->o.mailbox != NULL ? pend_add(s, ev_str(ev, "tag"), NULL, 0) : 0;
    }
    if (strcmp(type, "tagged") == 0) {
        struct pend *e =
            p->o.mailbox != NULL || p->o.status != NULL ? pend_take(s, ev_str(ev, "tag")) : NULL;
        const char *status = ev_str(ev, "status");
        int keep = cmd_match(p, ev_str(ev, "cmd"));

        if (p->o.status != NULL && (status == NULL || strcasecmp(status, p->o.status) != 0))
            keep = 0;
        /* --mailbox needs the command; without it, a completion whose
         * command came before the log began is still shown */
        if (p->o.mailbox != NULL && e == NULL)
            keep = 0;
        if (keep && e != NULL && e->line != NULL)
            out_line(p, s, e->line, strlen(e->line));
        if (keep)
            out_line(p, s, line, len);
        if (e != NULL)
            pend_free(e);
        return 0;
    }
    if (p->o.mailbox == NULL || p->o.command != NULL || p->o.status != NULL)
        return 0;
    if (strcmp(type, "auth") == 0 || strcmp(type, "tls") == 0 || strcmp(type, "starttls") == 0)
        return 0;
    if (names_mailbox(p, ev) || in_mailbox(p, s))
        out_line(p, s, line, len);
    return 0;
}

/* ---- one event ---- */

static int pretty_event(struct pretty *p, const json_t *ev)
{
    const char *type = ev_str(ev, "ev"), *sid = ev_str(ev, "sid");
    int64_t ts = ev_ts_us(ev);
    struct psess *s;
    const char *mark;
    enum colour colour = C_N;
    int created, rc = 0;

    if (type == NULL)
        type = "?";
    if (sid == NULL)
        sid = "-";
    if (p->o.session != NULL && strncasecmp(sid, p->o.session, strlen(p->o.session)) != 0)
        return 0;
    if ((s = sess_get(p, sid, &created)) == NULL)
        return -1;
    if (p->o.session != NULL && !p->show_sid) {
        /* the prefix matched a second session: tell them apart */
        if (p->first_sid[0] == '\0')
            snprintf(p->first_sid, sizeof(p->first_sid), "%s", sid);
        else if (strcmp(p->first_sid, sid) != 0)
            p->show_sid = 1;
    }
    if (s->start_us < 0 && ts >= 0)
        s->start_us = ts;

    /* the header: at session_open, or made up at a session's first line */
    if (strcmp(type, "session_open") == 0 || created) {
        int opened = strcmp(type, "session_open") == 0;

        p->text.len = 0;
        render_header(p, ev, sid, opened);
        compose(p, s, ts, "==", C_BOLD);
        if (p->line.oom)
            return -1;
        if (p->event_filter) {
            if (set_str(&s->header, p->line.p) < 0)
                return -1;
        } else {
            out_line(p, s, p->line.p, p->line.len);
        }
        if (opened)
            return 0;
    }
    if (p->o.mailbox != NULL && track_selected(s, ev, type) < 0)
        return -1;

    p->text.len = 0;
    if (strcmp(type, "session_close") == 0) {
        const char *user = ev_str(ev, "user");

        render_footer(p, ev);
        compose(p, s, ts, "==", C_BOLD);
        if (p->o.user != NULL)
            user_decided(p, s, user != NULL && strcmp(user, p->o.user) == 0);
        if (!p->event_filter || s->any_out)
            out_line(p, s, p->line.p, p->line.len);
        sess_free(p, s);
        return p->line.oom || p->text.oom ? -1 : 0;
    }
    mark = render(p, ev, type, &colour);
    if (mark == NULL)
        return 0;
    compose(p, s, ts, mark, colour);
    if (p->line.oom || p->text.oom)
        return -1;
    if (p->o.user != NULL && strcmp(type, "auth") == 0) {
        const char *user = ev_str(ev, "user"), *status = ev_str(ev, "status");

        /* any attempt as the user shows the session; another user's
         * success settles it */
        if (user != NULL && strcmp(user, p->o.user) == 0)
            user_decided(p, s, 1);
        else if (status != NULL && strcmp(status, "OK") == 0)
            user_decided(p, s, 0);
    }
    if (p->event_filter)
        rc = filter_event(p, s, ev, type);
    else
        out_line(p, s, p->line.p, p->line.len);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: imaptap pretty [options] [LOG...]\n"
            "Prints imaptap JSON-lines logs (stdin when no LOG is given) as transcripts, one\n"
            "line per event: session id (first 8 digits), seconds since the session began,\n"
            "C: client, S: server, ** imaptap, !! anomalies, parse errors and limits,\n"
            "== session start and end.\n"
            "  --session SID        only sessions whose id starts with SID (no id column)\n"
            "  --user USER          only sessions of USER: those with an auth event naming\n"
            "                       USER (whatever its outcome) or a session_close with it.\n"
            "                       A session's lines are held until an auth names USER or\n"
            "                       another user logs in successfully, or the session ends\n"
            "                       (at most %d lines each, the rest counted); sessions\n"
            "                       still undecided at the end of the input are not shown\n"
            "  --command CMD        only commands CMD (and UID CMD) and their completions\n"
            "  --status OK|NO|BAD   only command/completion pairs with that status\n"
            "  --mailbox MBOX       only commands naming MBOX or sent while it is selected,\n"
            "                       their completions, and responses about it\n"
            "  --follow             keep reading the last LOG as it grows (tail -f); a\n"
            "                       truncated or rotated file is read again from its start\n"
            "  --color auto|always|never  colour (default auto: when stdout is a terminal\n"
            "                       and NO_COLOR is not set)\n"
            "  -h, --help           this text\n"
            "Filters combine (all must hold); with --command, --status or --mailbox a\n"
            "session's header and footer frame its kept events.\n"
            "Exit status: 0; 1 on a read or write error; 2 on a bad option, a LOG that\n"
            "cannot be opened, or unreadable lines (reported as FILE:LINE on stderr).\n",
            PRETTY_HOLD_LINES);
}

int pretty_main(int argc, char **argv)
{
    enum { O_SESSION = 256, O_USER, O_MAILBOX, O_COMMAND, O_STATUS, O_FOLLOW, O_COLOR };
    static const struct option longopts[] = {
        {"session", required_argument, NULL, O_SESSION},
        {"user", required_argument, NULL, O_USER},
        {"mailbox", required_argument, NULL, O_MAILBOX},
        {"command", required_argument, NULL, O_COMMAND},
        {"status", required_argument, NULL, O_STATUS},
        {"follow", no_argument, NULL, O_FOLLOW},
        {"color", required_argument, NULL, O_COLOR},
        {"colour", required_argument, NULL, O_COLOR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct pretty p;
    struct logread *lr;
    const char *colour = "auto";
    char err[512];
    int c, status = 0, rc;

    memset(&p, 0, sizeof(p));
    optind = 1;
    opterr = 0; /* our own messages, naming the subcommand */
    while ((c = getopt_long(argc, argv, ":hf", longopts, NULL)) != -1) {
        switch (c) {
        case O_SESSION:
            p.o.session = optarg;
            break;
        case O_USER:
            p.o.user = optarg;
            break;
        case O_MAILBOX:
            p.o.mailbox = optarg;
            break;
        case O_COMMAND:
            p.o.command = optarg;
            break;
        case O_STATUS:
            if (strcasecmp(optarg, "OK") != 0 && strcasecmp(optarg, "NO") != 0 &&
                strcasecmp(optarg, "BAD") != 0) {
                fprintf(stderr, "imaptap pretty: --status: \"%s\" is not OK, NO or BAD\n", optarg);
                return 2;
            }
            p.o.status = optarg;
            break;
        case 'f':
        case O_FOLLOW:
            p.o.follow = 1;
            break;
        case O_COLOR:
            if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "always") != 0 &&
                strcmp(optarg, "never") != 0) {
                fprintf(stderr, "imaptap pretty: --color: \"%s\" is not auto, always or never\n",
                        optarg);
                return 2;
            }
            colour = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "imaptap pretty: %s needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "imaptap pretty: unknown option %s (see imaptap pretty --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (strcmp(colour, "always") == 0)
        p.o.colour = 1;
    else if (strcmp(colour, "auto") == 0)
        p.o.colour = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL &&
                     !(getenv("TERM") != NULL && strcmp(getenv("TERM"), "dumb") == 0);
    p.event_filter = p.o.command != NULL || p.o.status != NULL || p.o.mailbox != NULL;
    p.show_sid = p.o.session == NULL;
    lr = logread_open((const char *const *)(argv + optind), p.o.follow, NULL, NULL, err,
                      sizeof(err));
    if (lr == NULL) {
        fprintf(stderr, "imaptap pretty: %s\n", err);
        return 2;
    }
    if (p.o.follow)
        setvbuf(stdout, NULL, _IOLBF, 0); /* each event shows as it comes */
    for (;;) {
        json_t *ev;

        rc = logread_next(lr, &ev, NULL, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, "imaptap pretty: %s\n", err);
            status = 1;
            break;
        }
        if (rc == 0)
            break;
        rc = pretty_event(&p, ev);
        json_decref(ev);
        if (rc < 0) {
            fprintf(stderr, "imaptap pretty: out of memory\n");
            status = 1;
            break;
        }
        if (ferror(stdout))
            break;
    }
    if (status == 0 && logread_bad_lines(lr) > 0)
        status = 2;
    logread_close(lr);
    while (p.sessions.oldest != NULL)
        sess_free(&p, (struct psess *)p.sessions.oldest);
    sesstab_free(&p.sessions);
    free(p.line.p);
    free(p.text.p);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "imaptap pretty: writing the output: %s\n", strerror(errno));
        status = 1;
    }
    return status;
}
