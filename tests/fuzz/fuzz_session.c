/*
 * fuzz_session.c - libFuzzer target: both directions of a session, with the
 * timer, TLS and close markers, driven as the proxy drives it.
 *
 * Input: 2 prefix bytes (fuzz_common.h; the prologue picks a LOGIN form of
 * the client, fed before the records), then records:
 *
 *     op (1 byte)   len (2 bytes, big-endian)   data (len bytes)
 *
 * op & 7: 0 client bytes, 1 server bytes, 2 keepalive timer, 3 TLS handshake
 * (bit 3 set: it failed), 4 client closed, 5 server closed, 6 clock advances
 * by len milliseconds, 7 imap_session_trim().  Markers ignore their data.  A
 * record whose len runs past the input takes the rest.
 *
 * Like the proxy (and proxy/replay.c): client bytes that arrive while a
 * keepalive is outstanding wait and are fed after the next server bytes; a
 * TLS record only counts after a STARTTLS op, for the legs whose plaintext
 * ended (a failed handshake closes the session); a CLOSE op, or both peers
 * closed, ends the session.  Every record's data is fed whole in one run and
 * split in the other; see fuzz_common.h for the invariants.
 */
#include "fuzz_common.h"

static const struct fz_step pro_none[] = {{IMAP_C2S, NULL}};
static const struct fz_step pro_atom[] = {{IMAP_C2S, "a1 LOGIN u " FZ_PW "\r\n"}, {IMAP_C2S, NULL}};
static const struct fz_step pro_greet[] = {
    {IMAP_S2C, "* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN STARTTLS] ready\r\n"},
    {IMAP_C2S, "a1 LOGIN \"u\" \"" FZ_PW "\"\r\n"},
    {IMAP_C2S, NULL}};
static const struct fz_step pro_sync[] = {{IMAP_C2S, "a1 LOGIN u {10}\r\n"},
                                          {IMAP_S2C, "+ go ahead\r\n"},
                                          {IMAP_C2S, FZ_PW "\r\n"},
                                          {IMAP_C2S, NULL}};
static const struct fz_step pro_nonsync[] = {{IMAP_C2S, "a1 LOGIN u {10+}\r\n" FZ_PW "\r\n"},
                                             {IMAP_C2S, NULL}};
static const struct fz_step pro_sasl_ir[] = {{IMAP_C2S, "a1 AUTHENTICATE PLAIN " FZ_PLAIN "\r\n"},
                                             {IMAP_C2S, NULL}};
static const struct fz_step pro_sasl[] = {{IMAP_C2S, "a1 AUTHENTICATE PLAIN\r\n"},
                                          {IMAP_S2C, "+ \r\n"},
                                          {IMAP_C2S, FZ_PLAIN "\r\n"},
                                          {IMAP_C2S, NULL}};
static const struct fz_step pro_logged_in[] = {
    {IMAP_S2C, "* OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE] ready\r\n"},
    {IMAP_C2S, "a1 LOGIN u " FZ_PW "\r\n"},
    {IMAP_S2C, "a1 OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE MOVE] Logged in\r\n"},
    {IMAP_C2S, "a2 SELECT INBOX\r\n"},
    {IMAP_S2C, "* 3 EXISTS\r\na2 OK [READ-WRITE] done\r\n"},
    {IMAP_C2S, NULL}};

static const struct fz_step *const prologues[8] = {
    pro_none, pro_atom, pro_greet, pro_sync, pro_nonsync, pro_sasl_ir, pro_sasl, pro_logged_in,
};

struct deferred {
    uint8_t *p;
    size_t len, size;
};

static void defer_add(struct deferred *d, const uint8_t *p, size_t n)
{
    if (n == 0)
        return;
    if (d->len + n > d->size) {
        size_t ns = d->size ? d->size : 256;
        while (ns < d->len + n)
            ns *= 2;
        d->p = realloc(d->p, ns);
        FZ_CHECK(d->p != NULL, "out of memory");
        d->size = ns;
    }
    memcpy(d->p + d->len, p, n);
    d->len += n;
}

/* Whether the proxy would run a TLS handshake at a TLS record depends on the
 * STARTTLS ops, which a session with relay off does not make: the relay-on
 * run (fz_target runs one first) records its decisions and the relay-off run
 * replays them (bit 0: handshake, bit 1: client leg, bit 2: server leg). */
struct ctx {
    const struct fz_prefix *f;
    const uint8_t *p;
    size_t n;
    unsigned char *tls; /* one decision per TLS record */
    size_t ntls;
};

static void run(struct fz_run *r, const void *arg, const char *marker, int split, int relay)
{
    const struct ctx *cx = arg;
    const struct fz_prefix *f = cx->f;
    const uint8_t *p = cx->p;
    size_t n = cx->n;
    struct imap_session_config cfg;
    struct fz_split sp;
    struct fz_split *spp = split ? &sp : NULL;
    struct deferred def = {NULL, 0, 0};
    int64_t clock_us = 1700000000000000ll;
    size_t ntls = 0;
    int rc;

    fz_split_init(&sp, f->split_kind, f->split_param);
    fz_config(f, relay, &cfg);
    fz_run_init(r, &cfg, fz_has_marker_start(p, n) ? NULL : marker);
    r->marker_name = split ? "split" : "whole";
    imap_session_set_clock(r->s, clock_us, 0);
    /* the multi-step forms continue a LOGIN/AUTHENTICATE: not refusable */
    if (f->variant == 2 && (f->prologue == 3 || f->prologue == 6))
        fz_steps(r, fz_pre_starttls, marker, spp);
    fz_steps(r, prologues[f->prologue], marker, spp);
    while (n >= 1 && !r->closed && !(r->d[0].eof && r->d[1].eof)) {
        unsigned op = p[0];
        size_t len = 0;
        const uint8_t *data;

        if (n >= 3) {
            len = (size_t)p[1] << 8 | p[2];
            p += 3;
            n -= 3;
        } else {
            p += n;
            n = 0;
        }
        if (len > n)
            len = n;
        data = p;
        p += len;
        n -= len;
        clock_us += 1000;
        imap_session_set_clock(r->s, clock_us, clock_us - 1700000000000000ll);

        switch (op & 7) {
        case 0:
            if (r->d[IMAP_C2S].eof)
                break;
            if (imap_session_keepalive_pending(r->s))
                defer_add(&def, data, len);
            else
                fz_feed(r, IMAP_C2S, data, len, spp);
            break;
        case 1:
            if (r->d[IMAP_S2C].eof)
                break;
            fz_feed(r, IMAP_S2C, data, len, spp);
            if (def.len > 0 && !imap_session_keepalive_pending(r->s) && !r->d[IMAP_C2S].eof) {
                size_t k = def.len;
                def.len = 0;
                fz_feed(r, IMAP_C2S, def.p, k, spp);
            }
            break;
        case 2:
            rc = imap_session_keepalive(r->s);
            FZ_CHECK(rc >= -1 && rc <= 1, "imap_session_keepalive returned %d", rc);
            fz_after(r);
            break;
        case 3: {
            int cl = r->d[IMAP_C2S].starttls_op, sv = r->d[IMAP_S2C].starttls_op;
            if (ntls < cx->ntls) {
                if (relay)
                    cx->tls[ntls] = (unsigned char)((cl || sv) | cl << 1 | sv << 2);
                cl = (cx->tls[ntls] >> 1) & 1;
                sv = (cx->tls[ntls] >> 2) & 1;
                ntls++;
            }
            if (!cl && !sv)
                break; /* no handshake without a STARTTLS op */
            if (op & 8) {
                imap_session_tls_failed(r->s, cl, "handshake failed");
                fz_after(r);
                r->closed = 1; /* the proxy closes the session */
                break;
            }
            {
                uint64_t dropped = r->d[IMAP_S2C].dropped;
                imap_session_tls_started(r->s, cl, sv);
                r->d[IMAP_C2S].after_starttls = r->d[IMAP_S2C].after_starttls = 0;
                r->d[IMAP_C2S].starttls_op = r->d[IMAP_S2C].starttls_op = 0;
                fz_after(r);
                FZ_CHECK(sv || r->d[IMAP_S2C].dropped == dropped,
                         "tls_started(client leg only) dropped %llu server bytes",
                         (unsigned long long)(r->d[IMAP_S2C].dropped - dropped));
            }
            break;
        }
        case 4:
            fz_eof(r, IMAP_C2S);
            break;
        case 5:
            fz_eof(r, IMAP_S2C);
            break;
        case 6:
            clock_us += (int64_t)len * 1000;
            imap_session_set_clock(r->s, clock_us, clock_us - 1700000000000000ll);
            break;
        default:
            imap_session_trim(r->s);
            fz_after(r);
            break;
        }
    }
    free(def.p);
    fz_finish(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_prefix f;
    struct ctx cx;

    if (size < 2)
        return 0;
    fz_prefix_read(data, &f);
    cx.f = &f;
    cx.p = data + 2;
    cx.n = size - 2;
    cx.ntls = cx.n / 3 + 1;
    cx.tls = calloc(cx.ntls, 1);
    FZ_CHECK(cx.tls != NULL, "out of memory");
    fz_target("fuzz_session", run, &cx, &f);
    free(cx.tls);
    return 0;
}
