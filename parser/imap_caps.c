/* imap_caps.c - capability edits (see imap_caps.h). */
#include "imap_caps.h"

#include <string.h>
#include <strings.h>

#define CAPS_MAX 512 /* atoms per list looked at; the rest pass unchanged */

int imap_caps_policy_active(const struct imap_caps_policy *pol)
{
    return pol->strip_compress || pol->strip_channel_binding || pol->strip_starttls ||
           pol->add_starttls || pol->cleartext_refuse_auth;
}

static int has_prefix_ci(struct imap_str s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && imap_str_eq_ci((struct imap_str){s.p, n}, prefix);
}

static int has_suffix_ci(struct imap_str s, const char *suffix)
{
    size_t n = strlen(suffix);
    return s.len >= n && imap_str_eq_ci((struct imap_str){s.p + s.len - n, n}, suffix);
}

/* Is there an "<c>-PLUS" in the list? */
static int has_plus_sibling(const struct imap_str *atoms, size_t n, struct imap_str c)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (atoms[i].len == c.len + 5 && has_suffix_ci(atoms[i], "-PLUS") &&
            strncasecmp(atoms[i].p, c.p, c.len) == 0)
            return 1;
    return 0;
}

int imap_caps_apply(struct imap_arena *a, const struct imap_caps_policy *pol, struct imap_str list,
                    struct imap_caps_edit *edit)
{
    struct imap_str atoms[CAPS_MAX];
    size_t natoms = 0, i, nrem = 0, nadd = 0;
    unsigned char drop[CAPS_MAX];
    int any_plus = 0, has_starttls = 0, has_logindisabled = 0;
    const char *p = list.p, *end = list.p + list.len;
    struct imap_str *removed, *added;
    struct imap_buf out;

    memset(edit, 0, sizeof(*edit));
    while (p < end && natoms < CAPS_MAX) {
        const char *s;
        while (p < end && *p == ' ')
            p++;
        s = p;
        while (p < end && *p != ' ')
            p++;
        if (p > s)
            atoms[natoms++] = (struct imap_str){s, (size_t)(p - s)};
    }
    for (i = 0; i < natoms; i++) {
        if (has_prefix_ci(atoms[i], "AUTH=") && has_suffix_ci(atoms[i], "-PLUS"))
            any_plus = 1;
        if (imap_str_eq_ci(atoms[i], "STARTTLS"))
            has_starttls = 1;
        if (imap_str_eq_ci(atoms[i], "LOGINDISABLED"))
            has_logindisabled = 1;
    }
    for (i = 0; i < natoms; i++) {
        struct imap_str c = atoms[i];
        drop[i] = 0;
        if (pol->strip_compress && has_prefix_ci(c, "COMPRESS="))
            drop[i] = 1;
        /* channel binding cannot cross a TLS-terminating proxy: every
         * AUTH=*-PLUS goes, and with it every SCRAM and the plain sibling of
         * each -PLUS (without -PLUS a capable client sends gs2 flag "y",
         * which a server offering -PLUS must refuse: RFC 5802, RFC 5801).
         * EXTERNAL means the client certificate, which cannot pass either. */
        if (pol->strip_channel_binding &&
            (imap_str_eq_ci(c, "AUTH=EXTERNAL") ||
             (has_prefix_ci(c, "AUTH=") && has_suffix_ci(c, "-PLUS")) ||
             (any_plus && (has_prefix_ci(c, "AUTH=SCRAM-") || has_plus_sibling(atoms, natoms, c)))))
            drop[i] = 1;
        if (pol->strip_starttls && imap_str_eq_ci(c, "STARTTLS"))
            drop[i] = 1;
        if (pol->cleartext_refuse_auth && has_prefix_ci(c, "AUTH="))
            drop[i] = 1;
        nrem += drop[i];
    }
    if (pol->add_starttls && !has_starttls && !pol->strip_starttls)
        nadd++;
    if (pol->cleartext_refuse_auth && !has_logindisabled)
        nadd++;
    if (nrem == 0 && nadd == 0)
        return 0;

    removed = nrem ? imap_arena_alloc(a, nrem * sizeof(*removed)) : NULL;
    added = nadd ? imap_arena_alloc(a, nadd * sizeof(*added)) : NULL;
    if ((nrem && removed == NULL) || (nadd && added == NULL))
        return -1;
    imap_buf_init(&out, a, list.len + 32);
    /* the kept atoms, joined by single spaces as the grammar has them */
    p = list.p;
    for (i = 0; i < natoms; i++) {
        const char *s = atoms[i].p;
        if (drop[i]) {
            removed[edit->nremoved++] = atoms[i];
            p = s + atoms[i].len;
            continue;
        }
        if (out.len > 0)
            imap_buf_addc(&out, ' ');
        imap_buf_add(&out, s, atoms[i].len);
        p = s + atoms[i].len;
    }
    if (natoms == CAPS_MAX && p < end) {
        /* atoms past what we look at pass as they are */
        imap_buf_add(&out, p, (size_t)(end - p));
    }
    if (pol->add_starttls && !has_starttls && !pol->strip_starttls) {
        added[edit->nadded++] = IMAP_STR_LIT("STARTTLS");
        imap_buf_adds(&out, out.len ? " STARTTLS" : "STARTTLS");
    }
    if (pol->cleartext_refuse_auth && !has_logindisabled) {
        added[edit->nadded++] = IMAP_STR_LIT("LOGINDISABLED");
        imap_buf_adds(&out, out.len ? " LOGINDISABLED" : "LOGINDISABLED");
    }
    if (out.failed)
        return -1;
    edit->text = imap_buf_str(&out);
    edit->removed = removed;
    edit->added = added;
    return 1;
}
