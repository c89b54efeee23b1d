"""LOGIN password forms and AUTHENTICATE mechanisms: every secret must stay out of the log."""
from _common import *

NOT_AUTH = dict(state="not_authenticated")
AUTHED = dict(state="authenticated")
FAIL = "NO [AUTHENTICATIONFAILED] Authentication failed."

# ---------------------------------------------------------------- LOGIN forms
login_atom = case(
    "login_password_atom", "parse",
    "LOGIN with the password as a plain atom (it may contain '&', '!' and digits): first attempt "
    "fails (NO, state stays not_authenticated), the second succeeds. args shows the user and '***'.",
    [greeting(),
     C(cm("a1 LOGIN bob hunter2", "LOGIN", args="bob ***")),
     S(tg("a1 " + FAIL, "LOGIN", **NOT_AUTH), auth("LOGIN", "NO", user="bob")),
     C(cm("a2 LOGIN bob Tr0ub4dor&3!", "LOGIN", args="bob ***")),
     S(tg("a2 OK [CAPABILITY %s] Logged in" % POSTCAPS, "LOGIN", **AUTHED),
       auth("LOGIN", "OK", user="bob"))],
    must_not_log=["hunter2", "Tr0ub4dor", "4dor&3!"])

login_quoted = case(
    "login_password_quoted_escapes", "parse",
    'LOGIN with a quoted password holding both escapes and SP: "C:\\\\temp\\\\\\"new\\" pw" is '
    'C:\\temp\\"new" pw. A redactor that stops at the first \\" or treats \\\\ as an escape of the '
    "next quote leaks the tail; the quoted user is rendered like an atom (corpus convention).",
    [greeting(),
     C(cm(r'a1 LOGIN "bob" "C:\\temp\\\"new\" pw"', "LOGIN", args="bob ***")),
     S(tg("a1 OK [CAPABILITY %s] Logged in" % POSTCAPS, "LOGIN", **AUTHED),
       auth("LOGIN", "OK", user="bob"))],
    must_not_log=["temp", 'new" pw', 'new\\" pw', "new\\\\\" pw"])

login_sync = case(
    "login_password_sync_literal", "parse",
    "LOGIN with user and password as synchronizing literals. The 13-octet password contains CRLF and "
    "ends in '{2}', so the bytes 'lines{2}\\r\\n' look like a literal marker: only a framer that "
    "counts literal octets stays in sync. Both continuations come before the command event.",
    [greeting(),
     C("a1 LOGIN {3}\r\n"),
     S("+ Ready for literal data\r\n", cont("a1", text="Ready for literal data")),
     C("bob {13}\r\n"),
     S("+ Ready for literal data\r\n", cont("a1", text="Ready for literal data")),
     C("Zq7\r\nlines{2}\r\n",
       ev("command", dir="c2s", tag="a1", cmd="LOGIN", args="bob ***", literals=[3, 13], at="a1 ")),
     S(tg("a1 OK [CAPABILITY %s] Logged in" % POSTCAPS, "LOGIN", **AUTHED),
       auth("LOGIN", "OK", user="bob"))],
    must_not_log=["Zq7", "lines{2}"])

login_plus = case(
    "login_password_literal_plus", "parse",
    "LOGIN with LITERAL+ non-synchronizing literals: no continuation, the data follows at once. "
    "The first password 'w0rd {5}\\r\\n' (10 octets) itself ends like a literal marker; the second "
    "attempt sends the user too as {n+}.",
    [greeting(),
     C(cm("a1 LOGIN carol {10+}\r\nw0rd {5}\r\n", "LOGIN", args="carol ***", literals=[10],
          nonsync=True)),
     S(tg("a1 " + FAIL, "LOGIN", **NOT_AUTH), auth("LOGIN", "NO", user="carol")),
     C(cm("a2 LOGIN {5+}\r\ncarol {6+}\r\nS3cr3t", "LOGIN", args="carol ***", literals=[5, 6],
          nonsync=True)),
     S(tg("a2 OK [CAPABILITY %s] Logged in" % POSTCAPS, "LOGIN", **AUTHED),
       auth("LOGIN", "OK", user="carol"))],
    must_not_log=["w0rd", "S3cr3t"])

login_bad = case(
    "login_password_malformed_unterminated_quote", "parse",
    "A LOGIN line whose quoted password is never closed ('\"Gh0st{6}' then CRLF). It is a "
    "parse_error (unterminated_quote, tag and cmd readable), resync at the CRLF; the '{6}' inside "
    "the open quote is not a literal. The excerpt must not contain the password. The server's BAD "
    "completes the LOGIN (auth status BAD) and the next LOGIN parses normally.",
    [greeting(),
     C('a1 LOGIN alice "Gh0st{6}\r\n',
       perr("c2s", reason="unterminated_quote", resync="next_line", tag="a1", cmd="LOGIN")),
     S(tg("a1 BAD Error in IMAP command LOGIN: Invalid arguments.", "LOGIN", **NOT_AUTH),
       auth("LOGIN", "BAD")),
     C(cm('a2 LOGIN alice "Gh0st pw"', "LOGIN", args="alice ***")),
     S(tg("a2 OK [CAPABILITY %s] Logged in" % POSTCAPS, "LOGIN", **AUTHED),
       auth("LOGIN", "OK", user="alice"))],
    must_not_log=["Gh0st"])

# ---------------------------------------------------------------- AUTHENTICATE
PLAIN1 = b64("admin\0alice\0Wr0ngPass")
plain_cont = case(
    "auth_plain_bare_plus_authzid", "parse",
    "AUTHENTICATE PLAIN without SASL-IR; the server's challenge is a bare '+' (no SP). The client "
    "line carries authzid 'admin', authcid 'alice' and a wrong password: the auth event reports "
    "the authcid. Then a retry succeeds.",
    [greeting(),
     C(cm("a1 AUTHENTICATE PLAIN", "AUTHENTICATE", args="PLAIN")),
     S("+\r\n", cont("a1", "sasl")),
     C(PLAIN1 + CRLF, sasl("a1", len=len(PLAIN1))),
     S(tg("a1 " + FAIL, "AUTHENTICATE", **NOT_AUTH),
       auth("AUTHENTICATE", "NO", mech="PLAIN", user="alice")),
     C(cm("a2 AUTHENTICATE PLAIN", "AUTHENTICATE", args="PLAIN")),
     S("+\r\n", cont("a2", "sasl")),
     C(b64("\0alice\0R1ghtPass") + CRLF, sasl("a2", len=len(b64("\0alice\0R1ghtPass")))),
     S(tg("a2 OK [CAPABILITY %s] Logged in" % POSTCAPS, "AUTHENTICATE", **AUTHED),
       auth("AUTHENTICATE", "OK", mech="PLAIN", user="alice"))],
    must_not_log=[PLAIN1, "Wr0ngPass", b64("\0alice\0R1ghtPass"), "R1ghtPass"])

IR1, IR2 = b64("\0alice\0badpw1"), b64("\0alice\0G00dPw!")
plain_ir = case(
    "auth_plain_sasl_ir_failure_then_retry", "parse",
    "AUTHENTICATE PLAIN with SASL-IR twice: the first initial response is refused (NO "
    "[AUTHENTICATIONFAILED]), the second accepted. No continuation is involved; args is 'PLAIN ***'.",
    [greeting("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready"),
     C(cm("a1 AUTHENTICATE PLAIN " + IR1, "AUTHENTICATE", args="PLAIN ***")),
     S(tg("a1 " + FAIL, "AUTHENTICATE", **NOT_AUTH),
       auth("AUTHENTICATE", "NO", mech="PLAIN", user="alice")),
     C(cm("a2 AUTHENTICATE PLAIN " + IR2, "AUTHENTICATE", args="PLAIN ***")),
     S(tg("a2 OK [CAPABILITY IMAP4rev1 IDLE MOVE] Logged in", "AUTHENTICATE", **AUTHED),
       auth("AUTHENTICATE", "OK", mech="PLAIN", user="alice"))],
    must_not_log=[IR1, IR2, "badpw1", "G00dPw!"])

LU, LP = b64("bob@example.org"), b64("L0g1nMech!")
auth_login = case(
    "auth_login_mechanism_prompts", "parse",
    "AUTHENTICATE LOGIN: '+ VXNlcm5hbWU6' (Username:) and '+ UGFzc3dvcmQ6' (Password:) prompts, "
    "each answered by one base64 line logged only as a length. The user comes from the first "
    "response, base64-decoded.",
    [greeting("* OK [CAPABILITY IMAP4rev1 AUTH=LOGIN AUTH=PLAIN] ready"),
     C(cm("a1 AUTHENTICATE LOGIN", "AUTHENTICATE", args="LOGIN")),
     S("+ VXNlcm5hbWU6\r\n", cont("a1", "sasl")),
     C(LU + CRLF, sasl("a1", len=len(LU))),
     S("+ UGFzc3dvcmQ6\r\n", cont("a1", "sasl")),
     C(LP + CRLF, sasl("a1", len=len(LP))),
     S(tg("a1 OK Logged in", "AUTHENTICATE", **AUTHED),
       auth("AUTHENTICATE", "OK", mech="LOGIN", user="bob@example.org"))],
    must_not_log=[LP, "L0g1nMech"])

XO1 = b64("user=someone@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01")
XO2 = b64("user=someone@example.com\x01auth=Bearer ya29.a0AfB_byC9newTOKENxyz\x01\x01")
XERR = b64('{"status":"401","schemes":"bearer mac","scope":"https://mail.google.com/"}')
xoauth2 = case(
    "auth_xoauth2_failure_empty_response", "parse",
    "XOAUTH2 with SASL-IR: the server answers a stale token with '+ base64(JSON error)', the "
    "client must send an empty line (a SASL response of length 0, not a command), then NO follows. "
    "The retry with a fresh token succeeds. The user comes from 'user='; the token never appears.",
    [greeting("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=PLAIN] ready"),
     C(cm("a1 AUTHENTICATE XOAUTH2 " + XO1, "AUTHENTICATE", args="XOAUTH2 ***")),
     S("+ " + XERR + CRLF, cont("a1", "sasl")),
     C(CRLF, sasl("a1", len=0)),
     S(tg("a1 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)", "AUTHENTICATE", **NOT_AUTH),
       auth("AUTHENTICATE", "NO", mech="XOAUTH2", user="someone@example.com")),
     C(cm("a2 AUTHENTICATE XOAUTH2 " + XO2, "AUTHENTICATE", args="XOAUTH2 ***")),
     S(tg("a2 OK [CAPABILITY %s] someone@example.com authenticated (Success)" % POSTCAPS,
          "AUTHENTICATE", **AUTHED),
       auth("AUTHENTICATE", "OK", mech="XOAUTH2", user="someone@example.com"))],
    must_not_log=[XO1, XO2, "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", "a0AfB_byC9newTOKENxyz"])

OB = b64("n,a=user@example.com,\x01host=imap.example.com\x01port=993\x01"
         "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01")
OBERR = b64('{"status":"invalid_token","scope":"example_scope",'
            '"openid-configuration":"https://example.com/.well-known/openid-configuration"}')
oauthbearer = case(
    "auth_oauthbearer_failure_aq", "parse",
    "OAUTHBEARER (RFC 7628) with SASL-IR; failure: '+ base64(JSON)', the client answers 'AQ==' "
    "(one %x01, 4 octets) and the server sends NO. The user comes from the gs2 header 'a='.",
    [greeting("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=OAUTHBEARER] ready"),
     C(cm("a1 AUTHENTICATE OAUTHBEARER " + OB, "AUTHENTICATE", args="OAUTHBEARER ***")),
     S("+ " + OBERR + CRLF, cont("a1", "sasl")),
     C("AQ==\r\n", sasl("a1", len=4)),
     S(tg("a1 NO SASL authentication failed", "AUTHENTICATE", **NOT_AUTH),
       auth("AUTHENTICATE", "NO", mech="OAUTHBEARER", user="user@example.com"))],
    must_not_log=[OB, "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg"])

CRAM = b64("tim b913a602c7eda7a495b4e6e7334d3890")
cram = case(
    "auth_cram_md5", "parse",
    "CRAM-MD5 (RFC 2195 example): '+ base64(<challenge>)', the client answers base64('tim "
    "<hexdigest>'); the digest is open to offline dictionary attacks and must not be logged.",
    [greeting("* OK [CAPABILITY IMAP4rev1 AUTH=CRAM-MD5] ready"),
     C(cm("a1 AUTHENTICATE CRAM-MD5", "AUTHENTICATE", args="CRAM-MD5")),
     S("+ " + b64("<1896.697170952@postoffice.reston.mci.net>") + CRLF, cont("a1", "sasl")),
     C(CRAM + CRLF, sasl("a1", len=len(CRAM))),
     S(tg("a1 OK CRAM-MD5 authentication successful", "AUTHENTICATE", **AUTHED),
       auth("AUTHENTICATE", "OK", mech="CRAM-MD5"))],
    must_not_log=[CRAM, "b913a602c7eda7a495b4e6e7334d3890"])

SC1 = b64("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
SS1 = b64("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
SC2 = b64("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
          "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
SS2 = b64("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
scram = case(
    "auth_scram_sha256", "parse",
    "SCRAM-SHA-256 (RFC 7677 example messages): client-first as SASL-IR, server-first as a '+' "
    "challenge, client-final with the proof, server-final as a '+' challenge, and an empty client "
    "line before the tagged OK. All client lines are secret: the initial response is '***' in "
    "args, the two later lines are client_line events with lengths only.",
    [greeting("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=SCRAM-SHA-256 AUTH=PLAIN] ready"),
     C(cm("a1 AUTHENTICATE SCRAM-SHA-256 " + SC1, "AUTHENTICATE", args="SCRAM-SHA-256 ***")),
     S("+ " + SS1 + CRLF, cont("a1", "sasl")),
     C(SC2 + CRLF, sasl("a1", len=len(SC2))),
     S("+ " + SS2 + CRLF, cont("a1", "sasl")),
     C(CRLF, sasl("a1", len=0)),
     S(tg("a1 OK Logged in", "AUTHENTICATE", **AUTHED),
       auth("AUTHENTICATE", "OK", mech="SCRAM-SHA-256"))],
    must_not_log=[SC1, SC2, "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="])

unknown_mech = case(
    "auth_unknown_mechanism", "parse",
    "AUTHENTICATE with a mechanism the server does not know: an immediate tagged NO ends the "
    "exchange (no continuation), so the next client line is an ordinary command, not SASL data.",
    [greeting(),
     C(cm("a1 AUTHENTICATE X-UNKNOWN-MECH", "AUTHENTICATE", args="X-UNKNOWN-MECH")),
     S(tg("a1 NO [CANNOT] Unsupported authentication mechanism.", "AUTHENTICATE", **NOT_AUTH),
       auth("AUTHENTICATE", "NO", mech="X-UNKNOWN-MECH")),
     C(cm("a2 LOGIN alice s3cr3t", "LOGIN", args="alice ***")),
     S(tg("a2 OK [CAPABILITY %s] Logged in" % POSTCAPS, "LOGIN", **AUTHED),
       auth("LOGIN", "OK", user="alice"))])

empty_ir = case(
    "auth_empty_initial_response", "parse",
    "SASL-IR '=' (RFC 4959): an empty initial response, here for ANONYMOUS, accepted at once. "
    "The '=' is not a continuation line and no client_line follows.",
    [greeting("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=ANONYMOUS AUTH=PLAIN] ready"),
     C(cm("a1 AUTHENTICATE ANONYMOUS =", "AUTHENTICATE")),
     S(tg("a1 OK Anonymous login", "AUTHENTICATE", **AUTHED),
       auth("AUTHENTICATE", "OK", mech="ANONYMOUS")),
     C(cm("a2 LIST \"\" \"*\"", "LIST")),
     S(un(r'* LIST (\HasNoChildren) "/" INBOX',
          list={"attrs": ["\\HasNoChildren"], "delim": "/", "name": "INBOX"}),
       tg("a2 OK List completed.", "LIST"))],
    must_not_log=[])

CASES = [login_atom, login_quoted, login_sync, login_plus, login_bad, plain_cont, plain_ir,
         auth_login, xoauth2, oauthbearer, cram, scram, unknown_mech, empty_ir]
