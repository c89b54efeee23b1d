/*
 * fuzz_c2s.c - libFuzzer target: the client-to-server stream of a session.
 *
 * Input: 2 prefix bytes (fuzz_common.h: split pattern, limits, config; the
 * prologue picks a LOGIN/AUTHENTICATE form whose password is the marker),
 * then the client's bytes.  With the option bit the server acknowledges the
 * prologue first, so the stream runs in the authenticated state with the
 * post-login limits.  The stream is fed whole and split; see fuzz_common.h
 * for the invariants.
 */
#include "fuzz_common.h"

#define OK_LOGIN "a OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE ID ENABLE] Logged in\r\n"

static const struct fz_step pro_none[] = {{IMAP_C2S, NULL}};
static const struct fz_step pro_atom[] = {{IMAP_C2S, "a LOGIN u " FZ_PW "\r\n"}, {IMAP_C2S, NULL}};
static const struct fz_step pro_quoted[] = {{IMAP_C2S, "a LOGIN \"u\" \"" FZ_PW "\"\r\n"},
                                            {IMAP_C2S, NULL}};
static const struct fz_step pro_sync[] = {{IMAP_C2S, "a LOGIN u {10}\r\n"},
                                          {IMAP_S2C, "+ go ahead\r\n"},
                                          {IMAP_C2S, FZ_PW "\r\n"},
                                          {IMAP_C2S, NULL}};
static const struct fz_step pro_nonsync[] = {{IMAP_C2S, "a LOGIN u {10+}\r\n" FZ_PW "\r\n"},
                                             {IMAP_C2S, NULL}};
static const struct fz_step pro_sasl_ir[] = {{IMAP_C2S, "a AUTHENTICATE PLAIN " FZ_PLAIN "\r\n"},
                                             {IMAP_C2S, NULL}};
static const struct fz_step pro_sasl[] = {{IMAP_C2S, "a AUTHENTICATE PLAIN\r\n"},
                                          {IMAP_S2C, "+ \r\n"},
                                          {IMAP_C2S, FZ_PLAIN "\r\n"},
                                          {IMAP_C2S, NULL}};
static const struct fz_step pro_two_lits[] = {{IMAP_C2S, "a LOGIN {1}\r\n"}, {IMAP_S2C, "+ \r\n"},
                                              {IMAP_C2S, "u {10}\r\n"},      {IMAP_S2C, "+ \r\n"},
                                              {IMAP_C2S, FZ_PW "\r\n"},      {IMAP_C2S, NULL}};

static const struct fz_step *const prologues[8] = {
    pro_none, pro_atom, pro_quoted, pro_sync, pro_nonsync, pro_sasl_ir, pro_sasl, pro_two_lits,
};

static const struct fz_step ack_preauth[] = {{IMAP_S2C, "* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n"},
                                             {IMAP_C2S, NULL}};
static const struct fz_step ack_login[] = {{IMAP_S2C, OK_LOGIN}, {IMAP_C2S, NULL}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_prefix f;
    const struct fz_step *ack = NULL, *pre = NULL;

    if (size < 2)
        return 0;
    fz_prefix_read(data, &f);
    if (f.option)
        ack = f.prologue == 0 ? ack_preauth : ack_login;
    /* the multi-step forms continue a LOGIN/AUTHENTICATE: not refusable */
    if (f.variant == 2 && (f.prologue == 3 || f.prologue == 6 || f.prologue == 7))
        pre = fz_pre_starttls;
    fz_dir_target("fuzz_c2s", IMAP_C2S, &f, pre, prologues[f.prologue], ack, 0, data + 2, size - 2);
    return 0;
}
