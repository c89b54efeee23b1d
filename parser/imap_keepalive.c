/*
 * imap_keepalive.c - imaptap's own keepalive commands and the containment
 * of what the server sends during them (design.md §3, protocol.md §4).
 *
 * A keepalive (NOOP, SEARCH UID * or IDLE) is sent only when it is safe,
 * its answers never reach the client, and EXPUNGE/VANISHED it provokes are
 * held with everything after them until the client's next command may see
 * them; commands that would act on renumbered messages are refused locally.
 */
#include <stdio.h>
#include <string.h>

#include "imap_session_int.h"

/* ------------------------------------------------------------ containment */

/* EXPUNGE, or VANISHED without (EARLIER): a message went away. */
int imap_ka_expunge_like(const struct imap_unit *u)
{
    struct imap_str w[3];
    size_t n;

    if (u->kind != IMAP_UNIT_DATA)
        return 0;
    n = sess_head_words(u, w, 3);
    if (n >= 3 && imap_str_eq_ci(w[2], "EXPUNGE"))
        return 1;
    return n >= 2 && imap_str_eq_ci(w[1], "VANISHED") &&
           !(n >= 3 && imap_str_eq_ci(w[2], "(EARLIER)"));
}

uint64_t imap_ka_held_max(const struct imap_session *s)
{
    return s->cfg.held_max ? s->cfg.held_max : IMAP_SESSION_HELD_MAX;
}

/* The held responses go to the client now, ahead of anything later. */
void imap_ka_release(struct imap_session *s)
{
    struct dir_state *sd = &s->d[IMAP_S2C];
    struct imap_event ev;

    if (!s->held)
        return;
    if (s->cfg.relay)
        imap_relay_emit(&sd->relay, IMAP_RELAY_RELEASE, NULL, 0);
    /* the rest of a unit in progress follows: with relay on or off alike,
     * so that `imaptap decode` flags it as the live log did */
    if (sd->mode == UM_KA_HOLD)
        sd->mode = UM_STREAM;
    sess_event_init(&ev, IMAP_EV_KEEPALIVE);
    ev.u.keepalive.tag = sess_cstr(s->ka_tag);
    ev.u.keepalive.state = IMAP_STR_LIT("released");
    ev.u.keepalive.has_held = 1;
    ev.u.keepalive.held = s->held_count;
    sess_emit(s, &ev);
    s->held = 0;
    s->held_count = s->held_bytes = 0;
}

/* Sequence-number commands that can be judged by their name (non-UID). */
int imap_ka_msn_by_name(const struct inflight *c)
{
    if (strncmp(c->cmd, "UID ", 4) == 0)
        return 0;
    switch (c->id) {
    case IMAP_CMD_FETCH:
    case IMAP_CMD_STORE:
    case IMAP_CMD_COPY:
    case IMAP_CMD_MOVE:
    case IMAP_CMD_SEARCH:
    case IMAP_CMD_SORT:
    case IMAP_CMD_THREAD:
        return 1;
    default:
        return 0;
    }
}

/* UID SEARCH/SORT/THREAD: sequence sets may hide in the criteria. */
int imap_ka_msn_in_criteria(const struct inflight *c)
{
    return strncmp(c->cmd, "UID ", 4) == 0 &&
           (c->id == IMAP_CMD_SEARCH || c->id == IMAP_CMD_SORT || c->id == IMAP_CMD_THREAD);
}

/* ---------------------------------------------------------------- keepalive */

/* Is this server line the reply to imaptap's own keepalive command? */
enum ka_kind imap_ka_reply(const struct imap_session *s, const struct imap_unit *u)
{
    struct imap_str w[3];
    size_t n = sess_head_words(u, w, 3);

    if (n == 0)
        return KA_NOT_OURS;
    if (u->kind == IMAP_UNIT_CONTINUE && s->ka_idle && !s->ka_idle_started)
        return KA_IDLE_PLUS;
    if (u->kind == IMAP_UNIT_TAGGED && w[0].len == strlen(s->ka_tag) &&
        memcmp(w[0].p, s->ka_tag, w[0].len) == 0)
        return KA_COMPLETION;
    if (u->kind != IMAP_UNIT_DATA || !s->ka_search || n < 2 || w[0].len != 1)
        return KA_NOT_OURS;
    /* client commands wait while ours is out, so a SEARCH answer is ours */
    if (imap_str_eq_ci(w[1], "SEARCH"))
        return KA_SEARCH_ANSWER;
    if (imap_str_eq_ci(w[1], "ESEARCH") && n >= 3) {
        /* (TAG "PXK1") */
        const char *p = w[2].p, *end = u->text + u->text_len;
        size_t tl = strlen(s->ka_tag);
        if (end - p > 6 && imap_str_eq_ci((struct imap_str){p, 5}, "(TAG ")) {
            p += 5;
            if (p < end && *p == '"')
                p++;
            if ((size_t)(end - p) >= tl && memcmp(p, s->ka_tag, tl) == 0 &&
                (size_t)(end - p) > tl && (p[tl] == '"' || p[tl] == ')'))
                return KA_SEARCH_ANSWER;
        }
    }
    return KA_NOT_OURS;
}

static int ka_safe(const struct imap_session *s)
{
    const struct dir_state *c = &s->d[IMAP_C2S], *v = &s->d[IMAP_S2C];

    return s->greeting_seen && !s->failed &&
           (s->state == IMAP_STATE_AUTHENTICATED || s->state == IMAP_STATE_SELECTED) &&
           s->ncmds == 0 && !s->ka_pending && !s->sasl_active && !s->idle_pending &&
           !s->idle_active && !s->starttls_pending && !s->logged_out && !s->bye && !c->discarding &&
           !v->discarding && imap_lex_at_boundary(c->lx) &&
           imap_lex_mode(c->lx) == IMAP_LEX_NORMAL && imap_lex_mode(v->lx) == IMAP_LEX_NORMAL &&
           (!s->cfg.relay || imap_session_relay_pending(s, IMAP_C2S) == 0);
}

static int ka_tag_used(const struct imap_session *s, const char *tag)
{
    size_t i;

    for (i = 0; i < 8; i++)
        if (strcmp(s->recent_tags[i], tag) == 0)
            return 1;
    return 0;
}

static void ka_write(struct imap_session *s, const char *line, size_t n)
{
    if (s->cfg.relay)
        imap_relay_emit(&s->d[IMAP_C2S].relay, IMAP_RELAY_INSERT, line, n);
}

/* Sends a new keepalive command: IDLE, SEARCH UID * or NOOP. */
static void ka_send(struct imap_session *s)
{
    const char *prefix = s->cfg.ka_tag_prefix ? s->cfg.ka_tag_prefix : "PXK";
    const char *verb;
    char line[96];
    struct imap_event ev;
    int n;

    do {
        snprintf(s->ka_tag, sizeof(s->ka_tag), "%.24s%u", prefix, ++s->ka_counter);
    } while (ka_tag_used(s, s->ka_tag));
    /* IDLE only where the server has it; SEARCH only in the selected state */
    s->ka_idle = s->cfg.ka_idle && s->server_idle;
    s->ka_search = !s->ka_idle && s->cfg.ka_cmd == IMAP_KA_SEARCH && !s->ka_no_search &&
                   s->state == IMAP_STATE_SELECTED;
    s->ka_idle_started = s->ka_done_sent = s->ka_want_done = s->ka_renew = 0;
    verb = s->ka_idle ? "IDLE" : s->ka_search ? "SEARCH UID *" : "NOOP";
    n = snprintf(line, sizeof(line), "%s %s\r\n", s->ka_tag, verb);
    ka_write(s, line, (size_t)n);
    s->ka_pending = 1;
    s->ka_sent = s->mono_us;
    s->ka_wait_since = s->mono_us ? s->mono_us : 1;
    sess_event_init(&ev, IMAP_EV_KEEPALIVE);
    ev.u.keepalive.tag = sess_cstr(s->ka_tag);
    ev.u.keepalive.cmd = s->ka_idle     ? IMAP_STR_LIT("IDLE")
                         : s->ka_search ? IMAP_STR_LIT("SEARCH")
                                        : IMAP_STR_LIT("NOOP");
    ev.u.keepalive.state = IMAP_STR_LIT("sent");
    sess_emit(s, &ev);
}

/* Ends imaptap's own IDLE (DONE); its tagged OK completes it. */
static void ka_done(struct imap_session *s, int renew)
{
    /* a fresh IDLE follows only a renewal nobody interrupted: once the
     * client wants to talk, its command goes first */
    if (!renew)
        s->ka_renew = 0;
    else if (!s->ka_done_sent && !s->ka_want_done)
        s->ka_renew = 1;
    if (!s->ka_idle_started) {
        s->ka_want_done = 1; /* right after the "+" */
        return;
    }
    if (s->ka_done_sent)
        return;
    ka_write(s, "DONE\r\n", 6);
    s->ka_done_sent = 1;
    s->ka_wait_since = s->mono_us ? s->mono_us : 1;
}

int imap_session_keepalive(struct imap_session *s)
{
    if (s->ka_stopped || imap_lex_mode(s->d[IMAP_C2S].lx) == IMAP_LEX_RAW ||
        imap_lex_mode(s->d[IMAP_S2C].lx) == IMAP_LEX_RAW)
        return -1;
    if (s->ka_pending && s->ka_idle) {
        /* imaptap's IDLE has run for an interval: a fresh one (RFC 2177: at
         * least every 29 minutes) */
        ka_done(s, 1);
        return 1;
    }
    if (!ka_safe(s))
        return 0;
    ka_send(s);
    return 1;
}

void imap_session_keepalive_interrupt(struct imap_session *s)
{
    if (s->ka_pending && s->ka_idle)
        ka_done(s, 0);
}

int imap_session_holding(const struct imap_session *s)
{
    return s->held;
}

int64_t imap_session_keepalive_waiting(const struct imap_session *s)
{
    return s->ka_pending ? s->ka_wait_since : 0;
}

int imap_session_keepalive_pending(const struct imap_session *s)
{
    return s->ka_pending;
}

/* The server answered the keepalive: log it, never relay it. */
void imap_ka_unit(struct imap_session *s, const struct imap_unit *u, enum ka_kind kind,
                  struct imap_response *r, int rc)
{
    struct imap_event ev;
    int renew;

    if (kind == KA_SEARCH_ANSWER) {
        sess_event_init(&ev, IMAP_EV_UNTAGGED);
        sess_event_dir(&ev, IMAP_S2C, u->off);
        ev.flags = IMAP_EVF_SWALLOWED;
        if (rc == 0)
            ev.u.untagged = r->untagged;
        else
            ev.u.untagged.name = IMAP_STR_LIT("SEARCH");
        sess_emit(s, &ev);
        return;
    }
    sess_event_init(&ev, IMAP_EV_KEEPALIVE);
    sess_event_dir(&ev, IMAP_S2C, u->off);
    ev.u.keepalive.tag = sess_cstr(s->ka_tag);
    if (kind == KA_IDLE_PLUS) {
        s->ka_idle_started = 1;
        s->ka_wait_since = 0; /* an IDLE may last: no reply is due now */
        ev.u.keepalive.state = IMAP_STR_LIT("idle_start");
        sess_emit(s, &ev);
        if (s->ka_want_done)
            ka_done(s, s->ka_renew);
        return;
    }
    ev.u.keepalive.has_ms = 1;
    ev.u.keepalive.ms = sess_ms_since(s, s->ka_sent);
    ev.u.keepalive.has_held = 1;
    ev.u.keepalive.held = s->held_count;
    renew = s->ka_idle && s->ka_renew;
    if (imap_str_eq_ci(r->tagged.status, "OK")) {
        ev.u.keepalive.state = s->ka_idle ? IMAP_STR_LIT("idle_done") : IMAP_STR_LIT("ok");
    } else {
        ev.u.keepalive.state =
            imap_str_eq_ci(r->tagged.status, "NO") ? IMAP_STR_LIT("no") : IMAP_STR_LIT("bad");
        if (s->ka_search)
            s->ka_no_search = 1; /* SEARCH was an optimization: NOOP from now on */
        else
            s->ka_stopped = 1; /* a refused NOOP or IDLE will be refused again */
        renew = 0;
    }
    s->ka_pending = 0;
    s->ka_idle = 0;
    sess_emit(s, &ev);
    /* a renewal goes straight back into IDLE while the client stays silent */
    if (renew && ka_safe(s))
        ka_send(s);
}
