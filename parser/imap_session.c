/* imap_session.c - both directions of one session (see imap_session.h). */
#include "imap_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_caps.h"
#include "imap_session_int.h"
#include "imap_token.h"

/* ---------------------------------------------------------------- helpers */

void imap_session_config_default(struct imap_session_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->redact = 1;
    cfg->literal_keep = IMAP_LEX_KEEP_PER_LITERAL;
    cfg->literal_keep_total = IMAP_LEX_KEEP_TOTAL;
    cfg->strip_compress = 1;
    cfg->strip_channel_binding = 1;
    cfg->client_tls = 1;
    cfg->server_tls = 1;
    cfg->ka_tag_prefix = "PXK";
}

static char *dup_str(struct imap_str s, size_t max)
{
    size_t n = s.len < max ? s.len : max;
    char *p;

    if (s.p == NULL)
        return NULL;
    p = malloc(n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s.p, n);
    p[n] = '\0';
    return p;
}

static void set_owned(char **slot, char *value)
{
    free(*slot);
    *slot = value;
}

struct imap_str sess_cstr(const char *s)
{
    return s != NULL ? (struct imap_str){s, strlen(s)} : IMAP_STR_NULL;
}

void sess_emit(struct imap_session *s, struct imap_event *ev)
{
    ev->ts_us = s->wall_us;
    if (s->cb != NULL)
        s->cb(s->cb_arg, ev);
}

void sess_event_init(struct imap_event *ev, enum imap_ev_type type)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
}

/* The common part only, for events whose union member is then assigned
 * whole (the hot path: one per server line). */
static void event_head(struct imap_event *ev, enum imap_ev_type type)
{
    ev->type = type;
    ev->has_dir = 0;
    ev->off = 0;
    ev->flags = 0;
    ev->ts_us = 0;
}

void sess_event_dir(struct imap_event *ev, enum imap_dir dir, uint64_t off)
{
    ev->has_dir = 1;
    ev->dir = dir;
    ev->off = off;
}

void sess_emit_anomaly(struct imap_session *s, int has_dir, enum imap_dir dir, uint64_t off,
                       const char *kind, struct imap_str tag, const char *text)
{
    struct imap_event ev;

    sess_event_init(&ev, IMAP_EV_ANOMALY);
    if (has_dir)
        sess_event_dir(&ev, dir, off);
    ev.u.anomaly.kind = sess_cstr(kind);
    ev.u.anomaly.tag = tag;
    ev.u.anomaly.text = sess_cstr(text);
    sess_emit(s, &ev);
}

static void emit_limit(struct imap_session *s, enum imap_dir dir, uint64_t off, const char *what,
                       uint64_t value, uint64_t max)
{
    struct imap_event ev;

    sess_event_init(&ev, IMAP_EV_LIMIT);
    sess_event_dir(&ev, dir, off);
    ev.u.limit.what = sess_cstr(what);
    ev.u.limit.value = value;
    ev.u.limit.max = max;
    sess_emit(s, &ev);
}

static void emit_parse_error(struct imap_session *s, enum imap_dir dir, uint64_t off,
                             const char *reason, struct imap_str excerpt, const char *resync,
                             struct imap_str tag, struct imap_str cmd)
{
    struct imap_event ev;

    sess_event_init(&ev, IMAP_EV_PARSE_ERROR);
    sess_event_dir(&ev, dir, off);
    ev.u.parse_error.reason = sess_cstr(reason);
    ev.u.parse_error.excerpt = excerpt;
    ev.u.parse_error.resync = sess_cstr(resync);
    ev.u.parse_error.tag = tag;
    ev.u.parse_error.cmd = cmd;
    sess_emit(s, &ev);
}

double sess_ms_since(const struct imap_session *s, int64_t t)
{
    int64_t d = s->mono_us - t;
    return d > 0 ? (double)d / 1000.0 : 0.0;
}

static void report_discard(struct imap_session *s, enum imap_dir dir);

/* ---------------------------------------------------------- commands in flight */

static struct imap_str tag_of(const struct inflight *c)
{
    return (struct imap_str){c->tag, c->tag_len};
}

static long inflight_find(const struct imap_session *s, struct imap_str tag)
{
    size_t i;

    /* oldest first: duplicate tags pair FIFO */
    for (i = 0; i < s->ncmds; i++)
        if (s->cmds[i].tag_len == tag.len && memcmp(s->cmds[i].tag, tag.p, tag.len) == 0)
            return (long)i;
    return -1;
}

static void inflight_remove(struct imap_session *s, long i)
{
    struct inflight *c = &s->cmds[i];

    free(c->mailbox);
    free(c->user);
    memmove(c, c + 1, (s->ncmds - (size_t)i - 1) * sizeof(*c));
    s->ncmds--;
    if (s->await_plus == i)
        s->await_plus = -1;
    else if (s->await_plus > i)
        s->await_plus--;
}

static struct inflight *inflight_add(struct imap_session *s, struct imap_str tag,
                                     struct imap_str cmd, uint64_t off)
{
    struct inflight *c;
    size_t i;

    if (tag.len > IMAP_LEX_TAG_MAX)
        tag.len = IMAP_LEX_TAG_MAX;
    if (inflight_find(s, tag) >= 0)
        sess_emit_anomaly(s, 1, IMAP_C2S, off, "duplicate_tag", tag,
                          "a command with this tag is still in flight");
    if (s->ncmds >= INFLIGHT_MAX) {
        sess_emit_anomaly(s, 1, IMAP_C2S, off, "too_many_in_flight", tag,
                          "oldest command forgotten");
        inflight_remove(s, 0);
    }
    if (s->ncmds == s->cmds_size) {
        size_t nsize = s->cmds_size ? s->cmds_size * 2 : 4;
        struct inflight *nc = realloc(s->cmds, nsize * sizeof(*nc));
        if (nc == NULL)
            return NULL;
        s->cmds = nc;
        s->cmds_size = nsize;
    }
    c = &s->cmds[s->ncmds++];
    memset(c, 0, sizeof(*c));
    memcpy(c->tag, tag.p, tag.len);
    c->tag_len = tag.len;
    for (i = 0; i < cmd.len && i < CMD_NAME_MAX - 1; i++) {
        char ch = cmd.p[i];
        c->cmd[i] = (char)(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
    }
    c->id = imap_cmd_lookup(cmd.len > 4 && imap_str_eq_ci((struct imap_str){cmd.p, 4}, "UID ")
                                ? (struct imap_str){cmd.p + 4, cmd.len - 4}
                                : cmd);
    c->t_mono = s->mono_us;
    return c;
}

/* ------------------------------------------------------------ heads of lines */

/* Splits the first n space-separated words of a line head. */
size_t sess_head_words(const struct imap_unit *u, struct imap_str *w, size_t n)
{
    const char *p = u->text, *end = u->text + u->text_len;
    size_t k = 0;

    while (k < n && p < end) {
        const char *s0 = p;
        while (p < end && *p != ' ' && *p != '\r' && *p != '\n')
            p++;
        w[k++] = (struct imap_str){s0, (size_t)(p - s0)};
        if (p < end && *p == ' ')
            p++;
        else
            break;
    }
    return k;
}

/* The tag and command name ("UID FETCH" as one slice) of a command head. */
static int command_head(const struct imap_unit *u, struct imap_str *tag, struct imap_str *cmd)
{
    struct imap_str w[3];
    size_t n = sess_head_words(u, w, 3);

    if (n < 2 || w[0].len == 0 || w[1].len == 0)
        return -1;
    *tag = w[0];
    *cmd = w[1];
    if (n >= 3 && imap_str_eq_ci(w[1], "UID") && w[2].len > 0)
        *cmd = (struct imap_str){w[1].p, (size_t)(w[2].p + w[2].len - w[1].p)};
    /* a literal marker or list glued to the name is not part of it */
    for (size_t i = 0; i < cmd->len; i++) {
        if (cmd->p[i] == '{' || cmd->p[i] == '(' || cmd->p[i] == '"') {
            cmd->len = i;
            break;
        }
    }
    return cmd->len > 0 ? 0 : -1;
}

/* Where a capability list sits in a server line, if it has one. */
static int caps_locate(const char *t, size_t n, int complete, struct imap_str *list)
{
    struct imap_unit tmp = {0};
    struct imap_str w[3];
    size_t k;
    const char *p, *end = t + n;

    tmp.text = t;
    tmp.text_len = n;
    k = sess_head_words(&tmp, w, 3);
    if (k >= 2 && w[0].len == 1 && w[0].p[0] == '*' && imap_str_eq_ci(w[1], "CAPABILITY")) {
        p = w[1].p + w[1].len;
        if (p < end && *p == ' ')
            p++;
        *list = (struct imap_str){p, (size_t)(end - p)};
        return 1;
    }
    if (k >= 3 && w[2].len >= 11 && imap_str_eq_ci((struct imap_str){w[2].p, 11}, "[CAPABILITY") &&
        (w[2].len == 11 || w[2].p[11] == ']' || w[2].p[11] == ' ' || !complete)) {
        const char *close;
        p = w[2].p + 11;
        if (p < end && *p == ' ')
            p++;
        close = memchr(p, ']', (size_t)(end - p));
        if (close == NULL)
            return complete ? 0 : 1;
        *list = (struct imap_str){p, (size_t)(close - p)};
        return 1;
    }
    return 0;
}

/* A cheap look before caps_locate: "* C..." or a "[C" after the second word. */
static int maybe_caps_line(const struct imap_unit *u)
{
    const char *t = u->text, *sp;
    size_t n = u->text_len;

    if (u->kind == IMAP_UNIT_DATA)
        return n > 2 && (t[2] == 'C' || t[2] == 'c');
    if (u->kind != IMAP_UNIT_STATUS && u->kind != IMAP_UNIT_TAGGED)
        return 0;
    sp = memchr(t, ' ', n);
    if (sp == NULL || (sp = memchr(sp + 1, ' ', n - (size_t)(sp + 1 - t))) == NULL)
        return 0;
    return (size_t)(sp + 2 - t) < n && sp[1] == '[' && (sp[2] == 'C' || sp[2] == 'c');
}

static void caps_policy(const struct imap_session *s, struct imap_caps_policy *pol)
{
    memset(pol, 0, sizeof(*pol));
    pol->strip_compress = s->cfg.strip_compress;
    pol->strip_channel_binding = s->cfg.strip_channel_binding;
    /* STARTTLS only where imaptap can do it: a cleartext leg with a certificate */
    pol->strip_starttls = s->cfg.client_tls || !s->cfg.client_starttls;
    pol->add_starttls = !s->cfg.client_tls && s->cfg.client_starttls;
    pol->cleartext_refuse_auth = !s->cfg.client_tls && s->cfg.require_tls;
}

/* ------------------------------------------------------------------- relay */

static void relay_decide_to(struct imap_session *s, enum imap_dir dir, enum imap_relay_kind kind,
                            uint64_t to)
{
    if (s->cfg.relay)
        imap_relay_input_to(&s->d[dir].relay, kind, to);
}

/* A local answer to the client, placed at the next boundary of the server's stream. */
static void relay_answer_client(struct imap_session *s, const char *line)
{
    struct dir_state *sd = &s->d[IMAP_S2C];

    if (!s->cfg.relay)
        return;
    imap_relay_park(&sd->relay, line, strlen(line));
    if (imap_lex_at_boundary(sd->lx) && sd->relay.decided == imap_lex_offset(sd->lx))
        imap_relay_at_boundary(&sd->relay);
}

static uint64_t hold_max(const struct imap_session *s)
{
    return s->cfg.hold_max ? s->cfg.hold_max : IMAP_SESSION_HOLD_MAX;
}

/* At the end of a feed: what can be decided of the unit in progress. */
static void relay_settle(struct imap_session *s, enum imap_dir dir)
{
    struct dir_state *ds = &s->d[dir];
    uint64_t fed = imap_lex_offset(ds->lx);

    if (!s->cfg.relay)
        return;
    if (ds->discarding) {
        imap_relay_input_to(&ds->relay, IMAP_RELAY_DROP, fed);
        return;
    }
    if (imap_lex_at_boundary(ds->lx) || imap_lex_mode(ds->lx) == IMAP_LEX_RAW) {
        imap_relay_input_to(&ds->relay, IMAP_RELAY_PASS, fed);
        imap_relay_at_boundary(&ds->relay);
        return;
    }
    switch (ds->mode) {
    case UM_STREAM:
        imap_relay_input_to(&ds->relay, IMAP_RELAY_PASS, fed);
        break;
    case UM_DROP:
        imap_relay_input_to(&ds->relay, IMAP_RELAY_DROP, fed);
        break;
    case UM_HOLD:
        if (imap_lex_in_literal(ds->lx) || fed - imap_lex_unit_start(ds->lx) > hold_max(s)) {
            if (dir == IMAP_C2S) {
                /* a command judged at its end that cannot wait that long is
                 * refused rather than relayed unjudged (containment) */
                long i = s->ncmds > 0 ? (long)s->ncmds - 1 : -1;
                if (i >= 0 && s->cmds[i].decide_at_end)
                    s->cmds[i].local = s->cmds[i].expungeissued = 1;
                ds->mode = UM_DROP;
                imap_relay_input_to(&ds->relay, IMAP_RELAY_DROP, fed);
                break;
            }
            /* a held line that carries a literal or grows past hold_max is
             * never edited (s2c_caps_edit applies the same rule) */
            ds->mode = UM_STREAM;
            imap_relay_input_to(&ds->relay, IMAP_RELAY_PASS, fed);
        }
        break;
    case UM_KA_HOLD:
        imap_relay_input_to(&ds->relay, IMAP_RELAY_HOLD, fed);
        break;
    case UM_UNDECIDED:
        break;
    }
}

/* ------------------------------------------------------------ state changes */

static void set_limits(struct imap_session *s)
{
    int preauth = s->state == IMAP_STATE_NOT_AUTHENTICATED;
    struct imap_lex_limits lim;
    int dir;

    for (dir = 0; dir < 2; dir++) {
        imap_lex_default_limits((enum imap_dir)dir, preauth, &lim);
        if (dir == IMAP_C2S) {
            uint32_t v = preauth ? s->cfg.c2s_line_max_preauth : s->cfg.c2s_line_max;
            if (v)
                lim.line_max = v;
        } else {
            uint32_t v = preauth ? s->cfg.s2c_line_max_preauth : s->cfg.s2c_line_max;
            if (v)
                lim.line_max = v;
        }
        if (s->cfg.literal_max && !preauth)
            lim.literal_max = s->cfg.literal_max;
        if (s->cfg.keep_literals) {
            lim.keep_per_literal = s->cfg.literal_keep;
            lim.keep_total = s->cfg.literal_keep_total > UINT32_MAX
                                 ? UINT32_MAX
                                 : (uint32_t)s->cfg.literal_keep_total;
            if (lim.keep_per_literal < IMAP_LEX_KEEP_PER_LITERAL)
                lim.keep_per_literal = IMAP_LEX_KEEP_PER_LITERAL;
        }
        imap_lex_set_limits(s->d[dir].lx, &lim);
    }
}

static void set_state(struct imap_session *s, enum imap_state st)
{
    int was_preauth = s->state == IMAP_STATE_NOT_AUTHENTICATED;

    s->state = st;
    if (was_preauth != (st == IMAP_STATE_NOT_AUTHENTICATED))
        set_limits(s);
    if (st != IMAP_STATE_SELECTED)
        set_owned(&s->mailbox, NULL);
}

static void set_user(struct imap_session *s, const char *user)
{
    if (user == NULL || user[0] == '\0')
        return;
    set_owned(&s->user, dup_str(sess_cstr(user), NAME_MAX_STORED));
}

/* ------------------------------------------------------------ client units */

static void c2s_head(void *arg, const struct imap_unit *u)
{
    struct imap_session *s = arg;
    struct dir_state *ds = &s->d[IMAP_C2S];
    struct imap_str tag, cmd;
    struct inflight *c;

    ds->mode = UM_STREAM;
    if (u->kind != IMAP_UNIT_COMMAND || command_head(u, &tag, &cmd) < 0)
        return;
    c = inflight_add(s, tag, cmd, u->off);
    if (c == NULL)
        return;
    if (tag.len < sizeof(s->recent_tags[0])) {
        char *slot = s->recent_tags[s->recent_next++ % 8];
        memcpy(slot, tag.p, tag.len);
        slot[tag.len] = '\0';
    }
    /* commands imaptap answers itself never reach the server */
    if (c->id == IMAP_CMD_COMPRESS && s->cfg.strip_compress)
        c->local = 1;
    if ((c->id == IMAP_CMD_LOGIN || c->id == IMAP_CMD_AUTHENTICATE) && !s->cfg.client_tls &&
        s->cfg.require_tls)
        c->local = 1;
    if (c->id == IMAP_CMD_STARTTLS && !s->cfg.client_tls &&
        (!s->cfg.client_starttls || s->cfg.server_tls || s->cfg.server_starttls_auto))
        c->local = 1;
    if (!c->local && s->held) {
        /* the server's numbering moved on while the client's did not */
        if (imap_ka_msn_by_name(c)) {
            c->local = c->expungeissued = 1;
        } else if (imap_ka_msn_in_criteria(c)) {
            c->decide_at_end = 1;
            ds->mode = UM_HOLD;
            return;
        } else {
            imap_ka_release(s);
        }
    }
    if (c->local)
        ds->mode = UM_DROP;
}

/* The newest command with this tag whose unit has not ended. */
static long inflight_open(const struct imap_session *s, struct imap_str tag)
{
    size_t k;

    for (k = s->ncmds; k > 0; k--) {
        const struct inflight *e = &s->cmds[k - 1];
        if (!e->complete && e->tag_len == tag.len && memcmp(e->tag, tag.p, tag.len) == 0)
            return (long)(k - 1);
    }
    return -1;
}

static void c2s_sync_literal(void *arg, const struct imap_unit *u)
{
    struct imap_session *s = arg;
    struct imap_str tag, cmd;
    long i;

    if (command_head(u, &tag, &cmd) < 0 || (i = inflight_open(s, tag)) < 0)
        return;
    s->await_plus = i;
    if (s->cmds[i].decide_at_end) {
        /* no "+" can be asked for a line that may yet be refused */
        s->cmds[i].local = s->cmds[i].expungeissued = 1;
        s->d[IMAP_C2S].mode = UM_DROP;
    }
    if (s->cmds[i].local) {
        /* no "+" will come from the server: the local answer ends it */
        s->await_plus = -1;
        imap_lex_literal_cancel(s->d[IMAP_C2S].lx);
    }
}

/* Literal flags of a unit, as event flags. */
static unsigned literal_flags(const struct imap_unit *u)
{
    unsigned f = 0;
    size_t i;

    for (i = 0; i < u->nlits; i++) {
        if (u->lits[i].flags & IMAP_LIT_NONSYNC)
            f |= IMAP_EVF_NONSYNC;
        if (u->lits[i].flags & IMAP_LIT_BINARY)
            f |= IMAP_EVF_LITERAL8;
    }
    if (u->flags & IMAP_UNIT_ABORTED)
        f |= IMAP_EVF_ABORTED;
    if (u->flags & IMAP_UNIT_TRUNCATED)
        f |= IMAP_EVF_TRUNCATED;
    return f;
}

static void unit_anomalies(struct imap_session *s, const struct imap_unit *u)
{
    if (u->flags & IMAP_UNIT_BARE_LF)
        sess_emit_anomaly(s, 1, u->dir, u->off, "bare_lf", IMAP_STR_NULL,
                          "line ended in LF without CR");
    if (u->flags & IMAP_UNIT_BARE_CR)
        sess_emit_anomaly(s, 1, u->dir, u->off, "bare_cr", IMAP_STR_NULL,
                          "CR without LF inside a line");
}

static void local_reply(struct imap_session *s, struct inflight *c, const char *status,
                        const char *code, const char *text)
{
    char line[IMAP_LEX_TAG_MAX + 256];
    struct imap_event ev;

    snprintf(line, sizeof(line), "%.*s %s [%s] %s\r\n", (int)c->tag_len, c->tag, status, code,
             text);
    relay_answer_client(s, line);
    sess_event_init(&ev, IMAP_EV_TAGGED);
    ev.flags = IMAP_EVF_LOCAL;
    ev.u.tagged.tag = tag_of(c);
    ev.u.tagged.status = sess_cstr(status);
    ev.u.tagged.code = sess_cstr(code);
    ev.u.tagged.text = sess_cstr(text);
    ev.u.tagged.cmd = sess_cstr(c->cmd);
    ev.u.tagged.has_state = 1;
    ev.u.tagged.state = s->state;
    sess_emit(s, &ev);
}

static void command_done(struct imap_session *s, const struct imap_unit *u,
                         const struct imap_command *cmd, struct inflight *c)
{
    c->complete = 1;
    c->t_mono = s->mono_us;
    if (cmd == NULL)
        return;
    switch (c->id) {
    case IMAP_CMD_LOGIN:
        c->user = dup_str(cmd->user, NAME_MAX_STORED);
        break;
    case IMAP_CMD_SELECT:
    case IMAP_CMD_EXAMINE:
        c->mailbox = dup_str(cmd->ev.mailbox, NAME_MAX_STORED);
        break;
    case IMAP_CMD_AUTHENTICATE:
        if (c->local || (u->flags & IMAP_UNIT_ABORTED))
            break;
        s->sasl_active = 1;
        memcpy(s->sasl_tag, c->tag, c->tag_len + 1);
        imap_sasl_start(&s->sasl, cmd->sasl_mech);
        if (cmd->has_sasl_ir)
            imap_sasl_response(&s->sasl, cmd->sasl_ir);
        imap_lex_set_mode(s->d[IMAP_C2S].lx, IMAP_LEX_TEXT);
        break;
    case IMAP_CMD_IDLE:
        s->idle_pending = 1;
        memcpy(s->idle_tag, c->tag, c->tag_len + 1);
        imap_lex_set_mode(s->d[IMAP_C2S].lx, IMAP_LEX_TEXT);
        break;
    case IMAP_CMD_LOGOUT:
        s->logged_out = 1;
        break;
    case IMAP_CMD_STARTTLS:
        s->starttls_pending = 1;
        s->starttls_local = c->local;
        memcpy(s->starttls_tag, c->tag, c->tag_len + 1);
        break;
    default:
        break;
    }
}

static void c2s_command(struct imap_session *s, const struct imap_unit *u, int held_line)
{
    struct dir_state *ds = &s->d[IMAP_C2S];
    struct imap_msg_opts opts = {s->cfg.redact, s->utf8, s->cfg.keep_literals};
    struct imap_command cmd;
    struct imap_event ev;
    struct inflight *c = NULL;
    struct imap_str tag, name;
    long i = -1;
    int rc;

    memset(&cmd, 0, sizeof(cmd));
    rc = imap_command_parse(u, &ds->arena, &opts, &cmd);
    if (rc == 0 && (u->flags & IMAP_UNIT_NUL)) {
        /* NUL is never legal outside literal8 (RFC 3501 §9 note 3); the
         * parser's excerpt is already redacted */
        rc = -1;
        cmd.err = "nul_octet";
    }
    if (command_head(u, &tag, &name) == 0) {
        i = inflight_open(s, tag);
        if (i < 0 && !(u->flags & IMAP_UNIT_ABORTED)) {
            /* the head did not read as a command head: register it now */
            c = inflight_add(s, tag, name, u->off);
            i = c != NULL ? (long)(c - s->cmds) : -1;
        }
        if (i >= 0)
            c = &s->cmds[i];
    }
    s->commands++;
    if (cmd.depth_exceeded)
        emit_limit(s, IMAP_C2S, u->off, "depth", IMAP_TOK_DEPTH_MAX + 1, IMAP_TOK_DEPTH_MAX);
    if (rc < 0) {
        emit_parse_error(s, IMAP_C2S, u->off, cmd.err ? cmd.err : IMAP_ERR_SYNTAX, cmd.excerpt,
                         "next_line", cmd.ev.tag, cmd.ev.cmd);
    } else {
        event_head(&ev, IMAP_EV_COMMAND);
        sess_event_dir(&ev, IMAP_C2S, u->off);
        ev.flags = literal_flags(u);
        if (cmd.lossy)
            ev.flags |= IMAP_EVF_LOSSY;
        if (cmd.depth_exceeded)
            ev.flags |= IMAP_EVF_TRUNCATED;
        ev.u.command = cmd.ev;
        sess_emit(s, &ev);
    }
    if (held_line) {
        /* containment: relay it only when its criteria hold no sequence set */
        /* a literal in it is refused whether or not it came in one read
         * (relay_settle cannot wait for one): the same answer for any split */
        if (c != NULL && c->decide_at_end && (rc < 0 || cmd.msn || u->nlits_all > 0))
            c->local = c->expungeissued = 1;
        else
            imap_ka_release(s);
        relay_decide_to(s, IMAP_C2S, c != NULL && c->local ? IMAP_RELAY_DROP : IMAP_RELAY_PASS,
                        u->off + u->len);
    }
    if (c == NULL)
        return;
    command_done(s, u, rc < 0 ? NULL : &cmd, c);
    if (c->id == IMAP_CMD_STARTTLS && rc == 0) {
        struct imap_event sev;
        sess_event_init(&sev, IMAP_EV_STARTTLS);
        sev.u.starttls.leg = IMAP_STR_LIT("client");
        sev.u.starttls.state = IMAP_STR_LIT("requested");
        sess_emit(s, &sev);
    }
    if (c->local && c->expungeissued) {
        local_reply(s, c, "NO", "EXPUNGEISSUED",
                    "Messages were expunged: NOOP, then try again with the new numbers");
        inflight_remove(s, c - s->cmds);
        return;
    }
    if (c->local) {
        switch (c->id) {
        case IMAP_CMD_COMPRESS:
            local_reply(s, c, "NO", "CANNOT",
                        "COMPRESS is disabled by imaptap (the log must stay readable)");
            break;
        case IMAP_CMD_LOGIN:
        case IMAP_CMD_AUTHENTICATE:
            local_reply(s, c, "NO", "PRIVACYREQUIRED", "Use STARTTLS first (required by imaptap)");
            break;
        case IMAP_CMD_STARTTLS:
            if (!s->cfg.client_starttls) {
                struct imap_event sev;
                local_reply(s, c, "NO", "CANNOT", "STARTTLS is not available here");
                s->starttls_pending = 0;
                sess_event_init(&sev, IMAP_EV_STARTTLS);
                sev.u.starttls.leg = IMAP_STR_LIT("client");
                sev.u.starttls.state = IMAP_STR_LIT("failed");
                sev.u.starttls.text = IMAP_STR_LIT("no certificate for the client leg");
                sess_emit(s, &sev);
            }
            break;
        default:
            break;
        }
        if (c->id == IMAP_CMD_STARTTLS && s->cfg.client_starttls) {
            /* local STARTTLS: answer now, the client leg upgrades after it */
            struct imap_event sev;
            char line[IMAP_LEX_TAG_MAX + 64];
            snprintf(line, sizeof(line), "%.*s OK Begin TLS negotiation now\r\n", (int)c->tag_len,
                     c->tag);
            relay_answer_client(s, line);
            sess_event_init(&sev, IMAP_EV_TAGGED);
            sev.flags = IMAP_EVF_LOCAL;
            sev.u.tagged.tag = tag_of(c);
            sev.u.tagged.status = IMAP_STR_LIT("OK");
            sev.u.tagged.text = IMAP_STR_LIT("Begin TLS negotiation now");
            sev.u.tagged.cmd = sess_cstr(c->cmd);
            sess_emit(s, &sev);
            s->starttls_pending = 0;
            ds->discarding = 1;
            ds->discard_from = u->off + u->len;
            ds->discard_logged = 0;
            imap_lex_set_mode(ds->lx, IMAP_LEX_DISCARD);
            if (s->cfg.relay) {
                imap_relay_input_to(&ds->relay, IMAP_RELAY_DROP, u->off + u->len);
                imap_relay_emit(&ds->relay, IMAP_RELAY_STARTTLS, NULL, 0);
            }
        }
        inflight_remove(s, c - s->cmds);
        return;
    }
    if (c->id == IMAP_CMD_STARTTLS) {
        /* nothing may follow STARTTLS in plaintext (RFC 3501 §6.2.1) */
        relay_decide_to(s, IMAP_C2S, IMAP_RELAY_PASS, u->off + u->len);
        ds->discarding = 1;
        ds->discard_from = u->off + u->len;
        ds->discard_logged = 0;
        imap_lex_set_mode(ds->lx, IMAP_LEX_DISCARD);
    }
}

/* An unexpected text line may be a command with a password in it (a client
 * that forgot DONE): its excerpt is redacted as a command's would be. */
static struct imap_str text_excerpt(struct imap_session *s, const struct imap_unit *u)
{
    struct imap_msg_opts opts = {s->cfg.redact, s->utf8, 0};
    struct imap_unit as_cmd = *u;
    struct imap_command cmd;

    as_cmd.kind = IMAP_UNIT_COMMAND;
    memset(&cmd, 0, sizeof(cmd));
    imap_command_parse(&as_cmd, &s->d[IMAP_C2S].arena, &opts, &cmd);
    return cmd.excerpt;
}

static void c2s_text(struct imap_session *s, const struct imap_unit *u)
{
    struct imap_event ev;
    struct imap_str line = {u->text, u->text_len};

    if (s->sasl_active) {
        sess_event_init(&ev, IMAP_EV_CLIENT_LINE);
        sess_event_dir(&ev, IMAP_C2S, u->off);
        ev.u.client_line.kind = IMAP_STR_LIT("sasl");
        ev.u.client_line.tag = sess_cstr(s->sasl_tag);
        ev.u.client_line.len = u->text_len;
        if (u->text_len == 1 && u->text[0] == '*')
            ev.flags |= IMAP_EVF_CANCEL;
        imap_sasl_response(&s->sasl, line);
        sess_emit(s, &ev);
        return;
    }
    if (s->idle_pending || s->idle_active) {
        if (imap_str_eq_ci(line, "DONE")) {
            sess_event_init(&ev, IMAP_EV_IDLE);
            sess_event_dir(&ev, IMAP_C2S, u->off);
            ev.u.idle.tag = sess_cstr(s->idle_tag);
            ev.u.idle.state = IMAP_STR_LIT("done");
            if (s->idle_active) {
                ev.u.idle.has_ms = 1;
                ev.u.idle.ms = sess_ms_since(s, s->idle_start);
            }
            sess_emit(s, &ev);
        } else {
            emit_parse_error(s, IMAP_C2S, u->off, IMAP_ERR_SYNTAX, text_excerpt(s, u), "next_line",
                             sess_cstr(s->idle_tag), IMAP_STR_LIT("IDLE"));
        }
        /* after DONE the client may pipeline its next command at once */
        s->idle_plus_late = s->idle_pending;
        s->idle_pending = s->idle_active = 0;
        imap_lex_set_mode(s->d[IMAP_C2S].lx, IMAP_LEX_NORMAL);
        return;
    }
    /* text mode with nothing to expect: read the line as a command */
    imap_lex_set_mode(s->d[IMAP_C2S].lx, IMAP_LEX_NORMAL);
    emit_parse_error(s, IMAP_C2S, u->off, IMAP_ERR_SYNTAX, text_excerpt(s, u), "next_line",
                     IMAP_STR_NULL, IMAP_STR_NULL);
}

static void c2s_unit(void *arg, const struct imap_unit *u)
{
    struct imap_session *s = arg;
    struct dir_state *ds = &s->d[IMAP_C2S];
    enum unit_mode mode = ds->mode;

    imap_arena_reset(&ds->arena);
    ds->mode = UM_UNDECIDED;
    if (mode == UM_UNDECIDED)
        mode = UM_STREAM;
    if (mode != UM_HOLD)
        relay_decide_to(s, IMAP_C2S, mode == UM_DROP ? IMAP_RELAY_DROP : IMAP_RELAY_PASS,
                        u->off + u->len);
    unit_anomalies(s, u);
    if (u->kind == IMAP_UNIT_COMMAND)
        c2s_command(s, u, mode == UM_HOLD);
    else
        c2s_text(s, u);
}

/* ------------------------------------------------------------ server units */

static void s2c_head(void *arg, const struct imap_unit *u)
{
    struct imap_session *s = arg;
    struct dir_state *ds = &s->d[IMAP_S2C];
    struct imap_caps_policy pol;
    struct imap_str list;

    ds->mode = UM_STREAM;
    if (u->kind == IMAP_UNIT_DATA || u->kind == IMAP_UNIT_STATUS) {
        if (!s->held && s->ka_pending && imap_ka_expunge_like(u)) {
            /* the server renumbers for imaptap's command, not the client's */
            s->held = 1;
            sess_emit_anomaly(s, 1, IMAP_S2C, u->off, "expunge_during_keepalive",
                              sess_cstr(s->ka_tag),
                              "held until the client's next command that allows it");
        }
        if (s->held) {
            struct imap_str w[2];
            if (u->kind == IMAP_UNIT_STATUS && sess_head_words(u, w, 2) == 2 &&
                imap_str_eq_ci(w[1], "BYE")) {
                imap_ka_release(s); /* everything, then the BYE */
            } else {
                ds->mode = UM_KA_HOLD; /* in the server's order, after the first */
                return;
            }
        }
    }
    if (s->ka_pending) {
        struct imap_str w[2];
        if (imap_ka_reply(s, u) != KA_NOT_OURS) {
            ds->mode = UM_DROP; /* never reaches the client */
            return;
        }
        /* an ESEARCH's (TAG "x") may lie past the head: decide at its end */
        if (s->ka_search && u->kind == IMAP_UNIT_DATA && sess_head_words(u, w, 2) == 2 &&
            imap_str_eq_ci(w[1], "ESEARCH")) {
            ds->mode = UM_HOLD;
            return;
        }
    }
    if (!s->cfg.relay)
        return;
    if (maybe_caps_line(u)) { /* the cheap look first */
        caps_policy(s, &pol);
        if (imap_caps_policy_active(&pol) && caps_locate(u->text, u->text_len, 0, &list))
            ds->mode = UM_HOLD;
    }
    if (u->kind == IMAP_UNIT_TAGGED && s->starttls_pending && !s->starttls_local) {
        struct imap_str w[1];
        if (sess_head_words(u, w, 1) == 1 && imap_str_eq_ci(w[0], s->starttls_tag) &&
            strlen(s->starttls_tag) == w[0].len)
            ds->mode = UM_HOLD;
    }
}

/* Splits an edited capability list into the event's caps array. */
static void caps_as_relayed(struct imap_arena *a, struct imap_str list,
                            const struct imap_str **caps, size_t *ncaps)
{
    size_t n = 0, i = 0, k;
    struct imap_str *arr;

    for (k = 0; k < list.len; k++)
        n += (k == 0 || list.p[k - 1] == ' ') && list.p[k] != ' ';
    arr = n ? imap_arena_alloc(a, n * sizeof(*arr)) : NULL;
    if (n > 0 && arr == NULL)
        return;
    for (k = 0; k < list.len && i < n; k++) {
        if ((k == 0 || list.p[k - 1] == ' ') && list.p[k] != ' ') {
            size_t e = k;
            while (e < list.len && list.p[e] != ' ')
                e++;
            arr[i++] = (struct imap_str){list.p + k, e - k};
        }
    }
    *caps = arr;
    *ncaps = i;
}

/* Applies capability edits to a held line; the event then shows the list
 * as relayed (caps, code_data) and what was removed (caps_removed). */
static void s2c_caps_edit(struct imap_session *s, const struct imap_unit *u,
                          struct imap_response *r, const struct imap_str **removed,
                          size_t *nremoved)
{
    struct dir_state *ds = &s->d[IMAP_S2C];
    struct imap_caps_policy pol;
    struct imap_caps_edit edit;
    struct imap_str list;
    struct imap_buf line;

    *removed = NULL;
    *nremoved = 0;
    caps_policy(s, &pol);
    if (!imap_caps_policy_active(&pol) || !maybe_caps_line(u) ||
        !caps_locate(u->text, u->text_len, 1, &list))
        return;
    if ((u->flags & IMAP_UNIT_TRUNCATED) || u->nlits_all > 0 || u->len > hold_max(s)) {
        /* too long to hold: relayed as it came, and the log says so */
        sess_emit_anomaly(s, 1, IMAP_S2C, u->off, "capability_line_not_edited", IMAP_STR_NULL,
                          "a capability line too long or with a literal is relayed unedited");
        return;
    }
    if (imap_caps_apply(&ds->arena, &pol, list, &edit) <= 0)
        return;
    *removed = edit.removed;
    *nremoved = edit.nremoved;
    if (u->kind == IMAP_UNIT_TAGGED) {
        caps_as_relayed(&ds->arena, edit.text, &r->tagged.caps, &r->tagged.ncaps);
        if (imap_str_eq_ci(r->tagged.code, "CAPABILITY"))
            r->tagged.code_data = edit.text;
    } else {
        caps_as_relayed(&ds->arena, edit.text, &r->untagged.caps, &r->untagged.ncaps);
        if (imap_str_eq_ci(r->untagged.code, "CAPABILITY"))
            r->untagged.code_data = edit.text;
    }
    if (!s->cfg.relay || ds->mode != UM_HOLD)
        return;
    imap_buf_init(&line, &ds->arena, u->text_len + edit.text.len + 8);
    imap_buf_add(&line, u->text, (size_t)(list.p - u->text));
    imap_buf_add(&line, edit.text.p, edit.text.len);
    imap_buf_add(&line, list.p + list.len, u->text_len - (size_t)(list.p + list.len - u->text));
    if (u->flags & IMAP_UNIT_BARE_LF)
        imap_buf_addc(&line, '\n');
    else
        imap_buf_add(&line, "\r\n", 2);
    if (line.failed)
        return;
    imap_relay_input_to(&ds->relay, IMAP_RELAY_DROP, u->off + u->len);
    imap_relay_emit(&ds->relay, IMAP_RELAY_INSERT, line.p, line.len);
    ds->mode = UM_DROP; /* the unit's bytes are decided */
}

static void s2c_continue(struct imap_session *s, const struct imap_unit *u, struct imap_response *r)
{
    struct imap_event ev;
    struct inflight *c;

    sess_event_init(&ev, IMAP_EV_CONTINUE);
    sess_event_dir(&ev, IMAP_S2C, u->off);
    ev.u.cont = r->cont;
    if (s->await_plus >= 0) {
        c = &s->cmds[s->await_plus];
        ev.u.cont.tag = tag_of(c);
        ev.u.cont.for_ = IMAP_STR_LIT("literal");
        s->await_plus = -1;
        sess_emit(s, &ev);
        imap_lex_literal_go(s->d[IMAP_C2S].lx);
        return;
    }
    if (s->sasl_active) {
        ev.u.cont.tag = sess_cstr(s->sasl_tag);
        ev.u.cont.for_ = IMAP_STR_LIT("sasl");
        ev.u.cont.text = IMAP_STR_NULL; /* challenges are logged by length */
        sess_emit(s, &ev);
        return;
    }
    if (s->idle_plus_late) {
        /* the client said DONE before this "+": it only confirms the IDLE */
        s->idle_plus_late = 0;
        ev.u.cont.tag = sess_cstr(s->idle_tag);
        ev.u.cont.for_ = IMAP_STR_LIT("idle");
        sess_emit(s, &ev);
        return;
    }
    if (s->idle_pending) {
        s->idle_pending = 0;
        s->idle_active = 1;
        s->idle_start = s->mono_us;
        sess_event_init(&ev, IMAP_EV_IDLE);
        sess_event_dir(&ev, IMAP_S2C, u->off);
        ev.u.idle.tag = sess_cstr(s->idle_tag);
        ev.u.idle.state = IMAP_STR_LIT("start");
        sess_emit(s, &ev);
        return;
    }
    /* nothing waits for it: an anomaly that carries the text */
    sess_event_init(&ev, IMAP_EV_ANOMALY);
    sess_event_dir(&ev, IMAP_S2C, u->off);
    ev.u.anomaly.kind = IMAP_STR_LIT("unexpected_continuation");
    ev.u.anomaly.text = r->cont.text;
    sess_emit(s, &ev);
}

static void auth_event(struct imap_session *s, struct inflight *c, struct imap_str status)
{
    struct imap_event ev;
    const char *user = NULL;

    sess_event_init(&ev, IMAP_EV_AUTH);
    if (c->id == IMAP_CMD_LOGIN) {
        ev.u.auth.method = IMAP_STR_LIT("LOGIN");
        user = c->user;
    } else {
        ev.u.auth.method = IMAP_STR_LIT("AUTHENTICATE");
        ev.u.auth.mech = sess_cstr(s->sasl.mech);
        if (!s->sasl.cancelled && s->sasl.user[0] != '\0')
            user = s->sasl.user;
    }
    ev.u.auth.user = sess_cstr(user);
    ev.u.auth.status = status;
    if (imap_str_eq_ci(status, "OK"))
        set_user(s, user);
    sess_emit(s, &ev);
}

/* What the server can do, as far as keepalive cares. */
static void note_server_caps(struct imap_session *s, const struct imap_str *caps, size_t n)
{
    size_t i;

    s->server_idle = 0;
    for (i = 0; i < n; i++)
        if (imap_str_eq_ci(caps[i], "IDLE"))
            s->server_idle = 1;
}

static void s2c_tagged(struct imap_session *s, const struct imap_unit *u, struct imap_response *r,
                       const struct imap_str *removed, size_t nremoved)
{
    struct dir_state *ds = &s->d[IMAP_S2C];
    struct imap_ev_tagged *t = &r->tagged;
    struct imap_event ev;
    struct inflight *c = NULL;
    long i = inflight_find(s, t->tag);
    int ok = imap_str_eq_ci(t->status, "OK");
    int starttls_ok = 0;

    if (i >= 0) {
        c = &s->cmds[i];
        if (s->await_plus == i) {
            /* the sync literal was refused: the client will not send it */
            s->await_plus = -1;
            imap_lex_literal_cancel(s->d[IMAP_C2S].lx);
            i = inflight_find(s, t->tag);
            c = i >= 0 ? &s->cmds[i] : NULL;
        }
    }
    if (c == NULL)
        sess_emit_anomaly(s, 1, IMAP_S2C, u->off, "unknown_tag", t->tag,
                          "a completion for a tag no command used");
    if (c != NULL) {
        switch (c->id) {
        case IMAP_CMD_LOGIN:
        case IMAP_CMD_AUTHENTICATE:
            if (ok)
                set_state(s, IMAP_STATE_AUTHENTICATED);
            break;
        case IMAP_CMD_SELECT:
        case IMAP_CMD_EXAMINE:
            if (ok) {
                set_state(s, IMAP_STATE_SELECTED);
                set_owned(&s->mailbox, c->mailbox);
                c->mailbox = NULL;
            } else if (imap_str_eq_ci(t->status, "NO") && s->state == IMAP_STATE_SELECTED) {
                set_state(s, IMAP_STATE_AUTHENTICATED);
            }
            break;
        case IMAP_CMD_CLOSE:
        case IMAP_CMD_UNSELECT:
            if (ok)
                set_state(s, IMAP_STATE_AUTHENTICATED);
            break;
        case IMAP_CMD_LOGOUT:
            if (ok)
                set_state(s, IMAP_STATE_LOGOUT);
            break;
        case IMAP_CMD_UNAUTHENTICATE:
            if (ok) {
                set_state(s, IMAP_STATE_NOT_AUTHENTICATED);
                set_owned(&s->user, NULL);
            }
            break;
        case IMAP_CMD_STARTTLS:
            s->starttls_pending = 0;
            starttls_ok = ok;
            break;
        default:
            break;
        }
    }
    event_head(&ev, IMAP_EV_TAGGED);
    sess_event_dir(&ev, IMAP_S2C, u->off);
    if (t->ncaps > 0)
        note_server_caps(s, t->caps, t->ncaps);
    ev.u.tagged = *t;
    ev.u.tagged.caps_removed = removed;
    ev.u.tagged.ncaps_removed = nremoved;
    if (c != NULL) {
        ev.u.tagged.cmd = sess_cstr(c->cmd);
        ev.u.tagged.has_ms = 1;
        ev.u.tagged.ms = sess_ms_since(s, c->t_mono);
    }
    ev.u.tagged.has_state = 1;
    ev.u.tagged.state = s->state;
    if (r->lossy)
        ev.flags |= IMAP_EVF_LOSSY;
    sess_emit(s, &ev);
    if (c == NULL)
        return;
    if (c->id == IMAP_CMD_LOGIN || c->id == IMAP_CMD_AUTHENTICATE)
        auth_event(s, c, t->status);
    if (c->id == IMAP_CMD_AUTHENTICATE && s->sasl_active && strcmp(s->sasl_tag, c->tag) == 0) {
        s->sasl_active = 0;
        memset(&s->sasl, 0, sizeof(s->sasl));
        imap_lex_set_mode(s->d[IMAP_C2S].lx, IMAP_LEX_NORMAL);
    }
    if (c->id == IMAP_CMD_IDLE && strcmp(s->idle_tag, c->tag) == 0) {
        if (s->idle_pending || s->idle_active)
            imap_lex_set_mode(s->d[IMAP_C2S].lx, IMAP_LEX_NORMAL);
        s->idle_pending = s->idle_active = s->idle_plus_late = 0;
    }
    if (c->id == IMAP_CMD_STARTTLS) {
        struct dir_state *cs = &s->d[IMAP_C2S];
        if (starttls_ok) {
            /* the server's next bytes are TLS; plaintext after the OK is injected.
             * The proxy upgrades the server leg, then releases the OK to the
             * client, then upgrades the client leg. */
            if (s->cfg.relay) {
                imap_relay_input_to(&ds->relay, IMAP_RELAY_HOLD, u->off + u->len);
                imap_relay_emit(&ds->relay, IMAP_RELAY_STARTTLS, NULL, 0);
                imap_relay_emit(&ds->relay, IMAP_RELAY_RELEASE, NULL, 0);
                imap_relay_input_to(&cs->relay, IMAP_RELAY_DROP, imap_lex_offset(cs->lx));
                imap_relay_emit(&cs->relay, IMAP_RELAY_STARTTLS, NULL, 0);
            }
            ds->mode = UM_DROP; /* decided above */
            ds->discarding = 1;
            ds->discard_from = u->off + u->len;
            ds->discard_logged = 0;
            imap_lex_set_mode(ds->lx, IMAP_LEX_DISCARD);
        } else {
            struct imap_event sev;
            sess_event_init(&sev, IMAP_EV_STARTTLS);
            sev.u.starttls.leg = IMAP_STR_LIT("server");
            sev.u.starttls.state = IMAP_STR_LIT("failed");
            sev.u.starttls.text = t->text;
            sess_emit(s, &sev);
            if (cs->discarding) {
                /* refused: the client goes on in plaintext */
                report_discard(s, IMAP_C2S);
                cs->discarding = 0;
                imap_lex_reset(cs->lx);
            }
        }
    }
    inflight_remove(s, c - s->cmds);
}

/* n is the upper-case word w (of length wn), ignoring case.  Response names
 * come upper-cased, so the exact compare (inlined for a constant wn) nearly
 * always decides. */
static inline int name_is(struct imap_str n, const char *w, size_t wn)
{
    return n.len == wn && (memcmp(n.p, w, wn) == 0 || imap_str_eq_ci(n, w));
}

#define NAME_IS(n, w) name_is((n), (w), sizeof(w) - 1)

/* EXISTS, EXPUNGE, FETCH, VANISHED: the responses that name messages of the
 * selected mailbox (dispatch on length first: one per server line). */
static int is_mailbox_response(struct imap_str n)
{
    switch (n.len) {
    case 5:
        return NAME_IS(n, "FETCH");
    case 6:
        return NAME_IS(n, "EXISTS");
    case 7:
        return NAME_IS(n, "EXPUNGE");
    case 8:
        return NAME_IS(n, "VANISHED");
    default:
        return 0;
    }
}

static void s2c_untagged(struct imap_session *s, const struct imap_unit *u, struct imap_response *r,
                         int greeting, const struct imap_str *removed, size_t nremoved)
{
    struct imap_ev_untagged *ut = &r->untagged;
    struct imap_event ev;

    event_head(&ev, IMAP_EV_UNTAGGED);
    sess_event_dir(&ev, IMAP_S2C, u->off);
    if (s->d[IMAP_S2C].mode == UM_KA_HOLD)
        ev.flags |= IMAP_EVF_HELD;
    if (ut->ncaps > 0 && !NAME_IS(ut->name, "ENABLED"))
        note_server_caps(s, ut->caps, ut->ncaps);
    if (greeting) {
        ev.flags |= IMAP_EVF_GREETING;
        if (NAME_IS(ut->name, "PREAUTH")) {
            set_state(s, IMAP_STATE_AUTHENTICATED);
            ut->has_state = 1;
            ut->state = IMAP_STATE_AUTHENTICATED;
        }
    } else {
        ut->has_state = 0; /* PREAUTH means something only as the greeting */
    }
    if (NAME_IS(ut->name, "BYE"))
        s->bye = 1;
    if (is_mailbox_response(ut->name)) {
        /* the mailbox a SELECT in progress is opening, else the selected one */
        const char *mbox = s->state == IMAP_STATE_SELECTED ? s->mailbox : NULL;
        size_t i;
        for (i = s->ncmds; i > 0; i--) {
            const struct inflight *c = &s->cmds[i - 1];
            if ((c->id == IMAP_CMD_SELECT || c->id == IMAP_CMD_EXAMINE) && c->mailbox != NULL) {
                mbox = c->mailbox;
                break;
            }
        }
        ut->mailbox = sess_cstr(mbox);
    }
    if (NAME_IS(ut->name, "ENABLED")) {
        size_t i;
        for (i = 0; i < ut->ncaps; i++)
            if (imap_str_eq_ci(ut->caps[i], "UTF8=ACCEPT") ||
                imap_str_eq_ci(ut->caps[i], "IMAP4REV2"))
                s->utf8 = 1;
    }
    ut->caps_removed = removed;
    ut->ncaps_removed = nremoved;
    ev.u.untagged = *ut;
    ev.flags |= literal_flags(u) & (IMAP_EVF_LITERAL8 | IMAP_EVF_TRUNCATED);
    if (r->depth_exceeded)
        ev.flags |= IMAP_EVF_TRUNCATED;
    if (r->lossy)
        ev.flags |= IMAP_EVF_LOSSY;
    sess_emit(s, &ev);
}

static void s2c_unit(void *arg, const struct imap_unit *u)
{
    struct imap_session *s = arg;
    struct dir_state *ds = &s->d[IMAP_S2C];
    struct imap_msg_opts opts = {s->cfg.redact, s->utf8, s->cfg.keep_literals};
    struct imap_response r;
    const struct imap_str *removed = NULL;
    size_t nremoved = 0;
    int greeting = !s->greeting_seen, rc;
    enum ka_kind ka = KA_NOT_OURS;

    imap_arena_reset(&ds->arena);
    s->greeting_seen = 1;
    if (ds->mode == UM_UNDECIDED)
        ds->mode = UM_STREAM;
    unit_anomalies(s, u);
    rc = imap_response_parse(u, &ds->arena, &opts, &r); /* clears r */
    if (rc == 0 && (u->flags & IMAP_UNIT_NUL)) {
        rc = -1;
        r.err = "nul_octet";
        r.excerpt = imap_msg_excerpt(u, IMAP_EXCERPT_MAX);
    }
    if (r.depth_exceeded)
        emit_limit(s, IMAP_S2C, u->off, "depth", IMAP_TOK_DEPTH_MAX + 1, IMAP_TOK_DEPTH_MAX);
    if (s->ka_pending && (ka = imap_ka_reply(s, u)) != KA_NOT_OURS) {
        imap_ka_unit(s, u, ka, &r, rc);
        ds->mode = UM_DROP; /* swallowed, also when it was held to be sure */
    } else if (u->kind != IMAP_UNIT_CONTINUE && rc == 0 && maybe_caps_line(u))
        s2c_caps_edit(s, u, &r, &removed, &nremoved);
    if (ka != KA_NOT_OURS) {
        /* handled above */
    } else if (rc < 0 && !(u->kind == IMAP_UNIT_TAGGED && r.tagged.tag.p != NULL)) {
        emit_parse_error(s, IMAP_S2C, u->off, r.err ? r.err : IMAP_ERR_SYNTAX, r.excerpt,
                         "next_line", r.err_tag, IMAP_STR_NULL);
    } else {
        switch (u->kind) {
        case IMAP_UNIT_CONTINUE:
            s2c_continue(s, u, &r);
            break;
        case IMAP_UNIT_TAGGED:
            s2c_tagged(s, u, &r, removed, nremoved);
            break;
        default:
            s2c_untagged(s, u, &r, greeting, removed, nremoved);
            break;
        }
    }
    /* decide what is left of the unit: as it streamed, held, or dropped */
    if (s->cfg.relay) {
        imap_relay_input_to(&ds->relay,
                            ds->mode == UM_DROP      ? IMAP_RELAY_DROP
                            : ds->mode == UM_KA_HOLD ? IMAP_RELAY_HOLD
                                                     : IMAP_RELAY_PASS,
                            u->off + u->len);
        if (!ds->discarding)
            imap_relay_at_boundary(&ds->relay);
    }
    if (ds->mode == UM_KA_HOLD && s->held) {
        s->held_count++;
        s->held_bytes += u->len;
        if (s->held_bytes > imap_ka_held_max(s)) {
            /* correctness falls back to "deliver now" (protocol.md §2.10) */
            sess_emit_anomaly(s, 1, IMAP_S2C, u->off, "held_overflow", sess_cstr(s->ka_tag),
                              "too much held for the client: released");
            imap_ka_release(s);
        }
    }
    ds->mode = UM_UNDECIDED;
}

/* ---------------------------------------------------------------- problems */

static void lex_problem(struct imap_session *s, enum imap_dir dir, enum imap_lex_problem what,
                        uint64_t off, uint64_t value, uint64_t max)
{
    switch (what) {
    case IMAP_LEX_LIMIT_LINE:
        emit_limit(s, dir, off, "line", value, max);
        break;
    case IMAP_LEX_LIMIT_LITERAL:
        emit_limit(s, dir, off, "literal", value, max);
        break;
    case IMAP_LEX_LIMIT_LITERALS:
        emit_limit(s, dir, off, "literals", value, max);
        break;
    case IMAP_LEX_LIMIT_TAG:
        emit_limit(s, dir, off, "tag", value, max);
        break;
    case IMAP_LEX_EARLY_LITERAL:
        sess_emit_anomaly(s, 1, dir, off, "literal_before_continuation",
                          s->await_plus >= 0 ? tag_of(&s->cmds[s->await_plus]) : IMAP_STR_NULL,
                          "literal octets sent before the server's \"+\"");
        break;
    case IMAP_LEX_GIVE_UP:
        /* a literal count no framer can use: this direction is relayed raw
         * and nothing is injected into the session any more */
        (void)value;
        if (max != 0)
            emit_limit(s, dir, off, "literal", max + 1, max); /* "more than max" */
        emit_parse_error(s, dir, off, IMAP_ERR_BAD_LITERAL, IMAP_STR_NULL, "raw", IMAP_STR_NULL,
                         IMAP_STR_NULL);
        s->ka_stopped = 1;
        break;
    }
}

static void c2s_problem(void *arg, enum imap_lex_problem what, uint64_t off, uint64_t value,
                        uint64_t max)
{
    lex_problem(arg, IMAP_C2S, what, off, value, max);
}

static void s2c_problem(void *arg, enum imap_lex_problem what, uint64_t off, uint64_t value,
                        uint64_t max)
{
    lex_problem(arg, IMAP_S2C, what, off, value, max);
}

static const struct imap_lex_cb c2s_cb = {
    .head = c2s_head,
    .sync_literal = c2s_sync_literal,
    .unit = c2s_unit,
    .problem = c2s_problem,
};

static const struct imap_lex_cb s2c_cb = {
    .head = s2c_head,
    .unit = s2c_unit,
    .problem = s2c_problem,
};

/* -------------------------------------------------------------- public API */

struct imap_session *imap_session_new(const struct imap_session_config *cfg, imap_event_cb *cb,
                                      void *arg)
{
    struct imap_session *s = calloc(1, sizeof(*s));
    int dir;

    if (s == NULL)
        return NULL;
    if (cfg != NULL)
        s->cfg = *cfg;
    else
        imap_session_config_default(&s->cfg);
    s->cb = cb;
    s->cb_arg = arg;
    s->await_plus = -1;
    if (s->cfg.start_authenticated) {
        s->state = IMAP_STATE_AUTHENTICATED;
        s->greeting_seen = 1;
    }
    for (dir = 0; dir < 2; dir++) {
        struct imap_lex_limits lim;
        imap_lex_default_limits((enum imap_dir)dir, 1, &lim);
        s->d[dir].lx =
            imap_lex_new((enum imap_dir)dir, &lim, dir == IMAP_C2S ? &c2s_cb : &s2c_cb, s);
        if (s->d[dir].lx == NULL) {
            imap_session_free(s);
            return NULL;
        }
        imap_arena_init(&s->d[dir].arena);
        imap_relay_init(&s->d[dir].relay);
    }
    set_limits(s);
    return s;
}

void imap_session_free(struct imap_session *s)
{
    int dir;

    if (s == NULL)
        return;
    for (dir = 0; dir < 2; dir++) {
        imap_lex_free(s->d[dir].lx);
        imap_arena_release(&s->d[dir].arena);
        imap_relay_free(&s->d[dir].relay);
    }
    while (s->ncmds > 0)
        inflight_remove(s, (long)s->ncmds - 1);
    free(s->cmds);
    free(s->user);
    free(s->mailbox);
    memset(&s->sasl, 0, sizeof(s->sasl));
    free(s);
}

void imap_session_set_clock(struct imap_session *s, int64_t wall_us, int64_t mono_us)
{
    s->wall_us = wall_us;
    s->mono_us = mono_us;
}

/* Reports plaintext that arrived after STARTTLS and is being discarded. */
static void report_discard(struct imap_session *s, enum imap_dir dir)
{
    struct dir_state *ds = &s->d[dir];
    uint64_t total = imap_lex_offset(ds->lx) - ds->discard_from;

    if (total > ds->discard_logged) {
        struct imap_event ev;
        sess_event_init(&ev, IMAP_EV_ANOMALY);
        sess_event_dir(&ev, dir, ds->discard_from + ds->discard_logged);
        ev.flags = IMAP_EVF_DISCARDED;
        ev.u.anomaly.kind = IMAP_STR_LIT("plaintext_after_starttls");
        ev.u.anomaly.has_bytes = 1;
        ev.u.anomaly.bytes = total - ds->discard_logged;
        ds->discard_logged = total;
        sess_emit(s, &ev);
    }
}

int imap_session_feed(struct imap_session *s, enum imap_dir dir, const char *data, size_t len)
{
    struct dir_state *ds = &s->d[dir];
    int rc = imap_lex_feed(ds->lx, data, len);

    /* discarded plaintext is reported once, when discarding ends (TLS, a
     * refused STARTTLS, EOF): the same event for any split of the reads */
    relay_settle(s, dir);
    if (rc < 0)
        s->failed = 1;
    return rc;
}

void imap_session_eof(struct imap_session *s, enum imap_dir dir)
{
    struct dir_state *ds = &s->d[dir];

    if (ds->discarding)
        report_discard(s, dir);
    if (dir == IMAP_C2S)
        s->await_plus = -1; /* the client is gone: no literal follows a "+" */
    if (!imap_lex_at_boundary(ds->lx) && imap_lex_mode(ds->lx) != IMAP_LEX_RAW && !ds->discarding) {
        uint64_t start = imap_lex_unit_start(ds->lx);
        emit_parse_error(s, dir, start, "incomplete", IMAP_STR_NULL, "eof", IMAP_STR_NULL,
                         IMAP_STR_NULL);
    }
    relay_decide_to(s, dir, IMAP_RELAY_PASS, imap_lex_offset(ds->lx));
}

int imap_session_relay_next(struct imap_session *s, enum imap_dir dir, struct imap_relay_op *op_r)
{
    struct dir_state *ds = &s->d[dir];

    if (ds->relay.failed) {
        /* out of memory in the queue: everything passes as it came */
        uint64_t fed = imap_lex_offset(ds->lx);
        if (fed > ds->popped) {
            op_r->kind = IMAP_RELAY_PASS;
            op_r->len = (size_t)(fed - ds->popped);
            op_r->data = NULL;
            ds->popped = fed;
            return 1;
        }
        return 0;
    }
    if (!imap_relay_pop(&ds->relay, op_r))
        return 0;
    if (op_r->kind == IMAP_RELAY_PASS || op_r->kind == IMAP_RELAY_DROP ||
        op_r->kind == IMAP_RELAY_HOLD)
        ds->popped += op_r->len;
    return 1;
}

size_t imap_session_relay_pending(const struct imap_session *s, enum imap_dir dir)
{
    const struct dir_state *ds = &s->d[dir];
    return (size_t)(imap_lex_offset(ds->lx) - ds->popped);
}

void imap_session_tls_started(struct imap_session *s, int client_leg, int server_leg)
{
    struct imap_event ev;
    int dir;

    for (dir = 0; dir < 2; dir++) {
        struct dir_state *ds = &s->d[dir];
        if (ds->discarding)
            report_discard(s, (enum imap_dir)dir);
        relay_decide_to(s, (enum imap_dir)dir, IMAP_RELAY_DROP, imap_lex_offset(ds->lx));
        ds->discarding = 0;
        ds->mode = UM_UNDECIDED;
        imap_lex_reset(ds->lx);
    }
    if (client_leg)
        s->cfg.client_tls = 1;
    if (server_leg)
        s->cfg.server_tls = 1;
    s->starttls_pending = 0;
    s->await_plus = -1;
    sess_event_init(&ev, IMAP_EV_STARTTLS);
    ev.u.starttls.state = IMAP_STR_LIT("ok");
    if (server_leg) {
        ev.u.starttls.leg = IMAP_STR_LIT("server");
        sess_emit(s, &ev);
    }
    if (client_leg) {
        ev.u.starttls.leg = IMAP_STR_LIT("client");
        sess_emit(s, &ev);
    }
}

void imap_session_tls_failed(struct imap_session *s, int client_leg, const char *why)
{
    struct imap_event ev;
    int dir;

    for (dir = 0; dir < 2; dir++)
        if (s->d[dir].discarding)
            report_discard(s, (enum imap_dir)dir);

    sess_event_init(&ev, IMAP_EV_STARTTLS);
    ev.u.starttls.leg = client_leg ? IMAP_STR_LIT("client") : IMAP_STR_LIT("server");
    ev.u.starttls.state = IMAP_STR_LIT("failed");
    ev.u.starttls.text = sess_cstr(why);
    sess_emit(s, &ev);
}

enum imap_state imap_session_state(const struct imap_session *s)
{
    return s->state;
}

const char *imap_session_user(const struct imap_session *s)
{
    return s->user;
}

const char *imap_session_mailbox(const struct imap_session *s)
{
    return s->mailbox;
}

uint64_t imap_session_commands(const struct imap_session *s)
{
    return s->commands;
}

uint64_t imap_session_bytes(const struct imap_session *s, enum imap_dir dir)
{
    return imap_lex_offset(s->d[dir].lx);
}

int imap_session_logged_out(const struct imap_session *s)
{
    return s->logged_out;
}

int imap_session_mid_unit(const struct imap_session *s, enum imap_dir dir)
{
    const struct imap_lex *lx = s->d[dir].lx;

    return !imap_lex_at_boundary(lx) && imap_lex_mode(lx) != IMAP_LEX_RAW;
}

int imap_session_saw_bye(const struct imap_session *s)
{
    return s->bye;
}

size_t imap_session_memory(const struct imap_session *s)
{
    size_t m = s->cmds_size * sizeof(struct inflight);
    int dir;

    for (dir = 0; dir < 2; dir++)
        m += imap_lex_memory(s->d[dir].lx) + s->d[dir].arena.total +
             imap_relay_memory(&s->d[dir].relay);
    return m;
}

void imap_session_trim(struct imap_session *s)
{
    int dir;

    for (dir = 0; dir < 2; dir++) {
        imap_arena_release(&s->d[dir].arena);
        imap_relay_trim(&s->d[dir].relay);
        imap_lex_trim(s->d[dir].lx);
    }
    if (s->ncmds == 0) {
        free(s->cmds);
        s->cmds = NULL;
        s->cmds_size = 0;
    }
}
