/*
 * fuzz_s2c.c - libFuzzer target: the server-to-client stream of a session.
 *
 * Input: 2 prefix bytes (fuzz_common.h), then the server's bytes.  The
 * prologue is a fixed client side fed first (tags a1, a2... like the golden
 * transcripts, so their completions match): LOGIN, SELECT and FETCH, IDLE,
 * AUTHENTICATE, STARTTLS, an APPEND waiting for "+", COMPRESS and ENABLE.
 * With the option bit the keepalive timer fires after every LF of the
 * stream, so "PXK1 OK" lines are swallowed.  The stream is fed whole and
 * split; see fuzz_common.h for the invariants.
 */
#include "fuzz_common.h"

static const struct fz_step pro_none[] = {{IMAP_C2S, NULL}};
static const struct fz_step pro_login[] = {{IMAP_C2S, "a1 LOGIN u " FZ_PW "\r\n"},
                                           {IMAP_C2S, NULL}};
static const struct fz_step pro_fetch[] = {
    {IMAP_C2S, "a1 LOGIN u " FZ_PW "\r\na2 SELECT INBOX\r\n"},
    {IMAP_C2S, "a3 UID FETCH 1:* (UID FLAGS BODY.PEEK[])\r\n"},
    {IMAP_C2S, NULL}};
static const struct fz_step pro_idle[] = {{IMAP_C2S, "a1 LOGIN \"u\" \"" FZ_PW "\"\r\na2 IDLE\r\n"},
                                          {IMAP_C2S, NULL}};
static const struct fz_step pro_sasl[] = {{IMAP_C2S, "a1 AUTHENTICATE PLAIN\r\n"},
                                          {IMAP_C2S, NULL}};
static const struct fz_step pro_starttls[] = {{IMAP_C2S, "a1 STARTTLS\r\n"}, {IMAP_C2S, NULL}};
static const struct fz_step pro_append[] = {
    {IMAP_C2S, "a1 LOGIN u {10+}\r\n" FZ_PW "\r\na2 APPEND INBOX {5}\r\n"},
    {IMAP_C2S, NULL}};
static const struct fz_step pro_misc[] = {
    {IMAP_C2S, "a1 LOGIN u " FZ_PW "\r\na2 COMPRESS DEFLATE\r\na3 ENABLE UTF8=ACCEPT\r\n"},
    {IMAP_C2S, "a4 SELECT INBOX\r\n"},
    {IMAP_C2S, NULL}};

static const struct fz_step *const prologues[8] = {
    pro_none, pro_login, pro_fetch, pro_idle, pro_sasl, pro_starttls, pro_append, pro_misc,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_prefix f;

    if (size < 2)
        return 0;
    fz_prefix_read(data, &f);
    fz_dir_target("fuzz_s2c", IMAP_S2C, &f, NULL, prologues[f.prologue], NULL, (int)f.option,
                  data + 2, size - 2);
    return 0;
}
