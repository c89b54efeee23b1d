/* imap_types.c - helpers for the shared types. */
#include "imap_types.h"

#include "imap_event.h"

int imap_str_eq_ci(struct imap_str s, const char *word)
{
    size_t i;

    if (s.p == NULL)
        return 0;
    for (i = 0; i < s.len; i++) {
        unsigned char a = (unsigned char)s.p[i], b = (unsigned char)word[i];
        if (b == '\0')
            return 0;
        if (a >= 'a' && a <= 'z')
            a = (unsigned char)(a - 'a' + 'A');
        if (b >= 'a' && b <= 'z')
            b = (unsigned char)(b - 'a' + 'A');
        if (a != b)
            return 0;
    }
    return word[i] == '\0';
}

int imap_str_to_u64(struct imap_str s, uint64_t max, uint64_t *value_r)
{
    uint64_t v = 0;
    size_t i;

    if (s.p == NULL || s.len == 0 || s.len > 20)
        return -1;
    for (i = 0; i < s.len; i++) {
        unsigned d = (unsigned char)s.p[i] - '0';
        if (d > 9)
            return -1;
        /* overflow check before the multiplication, in a form that cannot overflow */
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *value_r = v;
    return 0;
}

const char *imap_dir_name(enum imap_dir dir)
{
    return dir == IMAP_C2S ? "c2s" : "s2c";
}

const char *imap_state_name(enum imap_state state)
{
    switch (state) {
    case IMAP_STATE_NOT_AUTHENTICATED:
        return "not_authenticated";
    case IMAP_STATE_AUTHENTICATED:
        return "authenticated";
    case IMAP_STATE_SELECTED:
        return "selected";
    case IMAP_STATE_LOGOUT:
        return "logout";
    }
    return "unknown";
}

const char *imap_ev_name(enum imap_ev_type type)
{
    static const char *const names[] = {
        [IMAP_EV_COMMAND] = "command",
        [IMAP_EV_CONTINUE] = "continue",
        [IMAP_EV_CLIENT_LINE] = "client_line",
        [IMAP_EV_UNTAGGED] = "untagged",
        [IMAP_EV_TAGGED] = "tagged",
        [IMAP_EV_IDLE] = "idle",
        [IMAP_EV_AUTH] = "auth",
        [IMAP_EV_STARTTLS] = "starttls",
        [IMAP_EV_KEEPALIVE] = "keepalive",
        [IMAP_EV_ANOMALY] = "anomaly",
        [IMAP_EV_PARSE_ERROR] = "parse_error",
        [IMAP_EV_LIMIT] = "limit",
    };
    if ((unsigned)type < sizeof(names) / sizeof(names[0]) && names[type] != NULL)
        return names[type];
    return "unknown";
}
