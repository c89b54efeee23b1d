/*
 * tls.h - OpenSSL contexts for both legs and what the log says about them.
 *
 * Client leg: imaptap is the TLS server, with the certificate and key from
 * files, TLS 1.2 or newer.  Server leg: imaptap is a TLS client that sets
 * SNI to the upstream host, verifies the certificate against the system
 * store or --upstream-ca and checks the host name, unless --upstream-insecure.
 * Buffers are released while a connection idles (SSL_MODE_RELEASE_BUFFERS):
 * most of an idle session's memory is OpenSSL's.
 */
#ifndef TLS_H
#define TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "jlog.h"

/* Returns NULL with a one-line message in err: missing or unreadable file,
 * no certificate in it, a key that does not match. */
SSL_CTX *tls_server_ctx(const char *cert, const char *key, char *err, size_t errlen);
SSL_CTX *tls_client_ctx(const char *ca_file, int insecure, char *err, size_t errlen);

/* A client-role SSL for host: SNI (names only, not addresses) and the host
 * name (or address) to verify.  NULL when out of memory. */
SSL *tls_client_ssl(SSL_CTX *ctx, const char *host, int insecure);

/* Describes a finished handshake for the tls event (SNI as sent or
 * received, the peer certificate, verified -1/0/1); the strings live in d. */
struct tls_desc {
    char version[32], cipher[96], sni[256], subject[512], sha256[65];
    struct jlog_tls_info info;
};
void tls_describe(SSL *ssl, const char *leg, int verified, struct tls_desc *d);

/* --keylog: the TLS secrets of both legs go to path in the SSLKEYLOGFILE
 * format (appended, one line per secret, flushed at once), so a packet
 * capture taken beside imaptap can be decrypted by Wireshark.  Returns 0, or
 * -1 with a one-line message in err. */
int tls_keylog_open(const char *path, char *err, size_t errlen);
void tls_keylog_enable(SSL_CTX *ctx);
void tls_keylog_close(void);

/* Why a handshake failed, in one line (verify result or the OpenSSL error). */
void tls_failure(SSL *ssl, unsigned long err, char *buf, size_t buflen);

#endif
