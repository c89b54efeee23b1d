/*
 * imap_caps.h - capability edits (protocol.md §5.3, design.md §3).
 *
 * The capability lists the server sends (the greeting's code, * CAPABILITY,
 * a tagged OK's code) are edited on their way to the client: COMPRESS is
 * removed so the log stays readable, channel-binding SASL mechanisms are
 * removed because they cannot cross a TLS-terminating proxy, and the
 * security of the client leg decides STARTTLS and LOGINDISABLED.  Only the
 * list changes (re-joined with single spaces, as the grammar has it);
 * everything else on the line stays as it was.
 */
#ifndef IMAP_CAPS_H
#define IMAP_CAPS_H

#include "imap_arena.h"
#include "imap_types.h"

struct imap_caps_policy {
    int strip_compress;        /* COMPRESS=* */
    int strip_channel_binding; /* AUTH=*-PLUS, their siblings, SCRAM beside them, EXTERNAL */
    int strip_starttls;        /* the client leg is already TLS */
    int add_starttls;          /* cleartext client leg that imaptap can upgrade */
    int cleartext_refuse_auth; /* --require-tls on cleartext: LOGINDISABLED, no AUTH= */
};

/* Non-zero when the policy can change anything at all. */
int imap_caps_policy_active(const struct imap_caps_policy *pol);

struct imap_caps_edit {
    struct imap_str text;           /* the edited list (arena) */
    const struct imap_str *removed; /* atoms removed, in line order */
    size_t nremoved;
    const struct imap_str *added;
    size_t nadded;
};

/*
 * Edits a space-separated capability list.  Returns 1 when it changed (edit
 * filled), 0 when it stays as it is, -1 when the arena is full.
 */
int imap_caps_apply(struct imap_arena *a, const struct imap_caps_policy *pol, struct imap_str list,
                    struct imap_caps_edit *edit);

#endif
