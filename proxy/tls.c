/* tls.c - OpenSSL contexts for both legs (see tls.h). */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <sys/uio.h>
#include <stdio.h>
#include <string.h>

static void last_error(const char *what, const char *path, char *err, size_t errlen)
{
    unsigned long e = ERR_peek_last_error();
    char buf[256];

    if (e != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        snprintf(err, errlen, "%s %s: %s", what, path,
                 ERR_reason_error_string(e) ? ERR_reason_error_string(e) : buf);
    } else {
        snprintf(err, errlen, "%s %s: cannot be used", what, path);
    }
    ERR_clear_error();
}

SSL_CTX *tls_server_ctx(const char *cert, const char *key, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        snprintf(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* no session tickets or cache: resumption saves little for long IMAP
     * sessions, and every cached session costs memory per connection */
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* several records per read(2) (conn.c: kick_tls_read) */
    SSL_CTX_set_read_ahead(ctx, 1);
    /* most IMAP clients close without close_notify: that is a close, not an error */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        last_error("--cert", cert, err, errlen);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        last_error("--key", key, err, errlen);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "--key %s does not match the certificate in --cert %s", key, cert);
        ERR_clear_error();
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *tls_client_ctx(const char *ca_file, int insecure, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL) {
        snprintf(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_TICKET);
    SSL_CTX_set_read_ahead(ctx, 1); /* conn.c: kick_tls_read */
    if (insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return ctx;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (ca_file != NULL) {
        /* only the given CAs: an operator who names a CA means that one */
        X509_STORE *store = X509_STORE_new();
        STACK_OF(X509_INFO) * infos;
        BIO *bio = BIO_new_file(ca_file, "r");
        int n = 0, i;
        if (store == NULL || bio == NULL) {
            X509_STORE_free(store);
            BIO_free(bio);
            last_error("--upstream-ca", ca_file, err, errlen);
            goto fail;
        }
        infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
        BIO_free(bio);
        for (i = 0; infos != NULL && i < sk_X509_INFO_num(infos); i++) {
            X509_INFO *xi = sk_X509_INFO_value(infos, i);
            if (xi->x509 != NULL && X509_STORE_add_cert(store, xi->x509) == 1)
                n++;
        }
        sk_X509_INFO_pop_free(infos, X509_INFO_free);
        if (n == 0) {
            X509_STORE_free(store);
            snprintf(err, errlen, "--upstream-ca %s: no PEM certificate in it", ca_file);
            ERR_clear_error();
            goto fail;
        }
        SSL_CTX_set_cert_store(ctx, store);
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        snprintf(err, errlen, "cannot load the system CA store");
        goto fail;
    }
    ERR_clear_error();
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static int is_address(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

SSL *tls_client_ssl(SSL_CTX *ctx, const char *host, int insecure)
{
    SSL *ssl = SSL_new(ctx);

    if (ssl == NULL)
        return NULL;
    if (!is_address(host))
        SSL_set_tlsext_host_name(ssl, host); /* SNI carries names only (RFC 6066 §3) */
    if (!insecure) {
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (is_address(host) ? X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1
                             : SSL_set1_host(ssl, host) != 1) {
            SSL_free(ssl);
            return NULL;
        }
    }
    return ssl;
}

void tls_describe(SSL *ssl, const char *leg, int verified, struct tls_desc *d)
{
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
    X509 *peer = SSL_get1_peer_certificate(ssl);
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

    memset(d, 0, sizeof(*d));
    snprintf(d->version, sizeof(d->version), "%s", SSL_get_version(ssl));
    snprintf(d->cipher, sizeof(d->cipher), "%s", c ? SSL_CIPHER_get_name(c) : "");
    if (sni != NULL)
        snprintf(d->sni, sizeof(d->sni), "%s", sni);
    if (peer != NULL) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0, i;
        BIO *b = BIO_new(BIO_s_mem());
        if (b != NULL) {
            int n;
            X509_NAME_print_ex(b, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253);
            n = BIO_read(b, d->subject, sizeof(d->subject) - 1);
            d->subject[n > 0 ? n : 0] = '\0';
            BIO_free(b);
        }
        if (X509_digest(peer, EVP_sha256(), md, &mdlen) == 1)
            for (i = 0; i < mdlen && i < 32; i++)
                snprintf(d->sha256 + 2 * i, 3, "%02x", md[i]);
        X509_free(peer);
    }
    d->info.leg = leg;
    d->info.version = d->version;
    d->info.cipher = d->cipher;
    d->info.sni = d->sni[0] ? d->sni : NULL;
    d->info.peer_subject = d->subject[0] ? d->subject : NULL;
    d->info.peer_sha256 = d->sha256[0] ? d->sha256 : NULL;
    d->info.verified = verified;
}

static int keylog_fd = -1;

int tls_keylog_open(const char *path, char *err, size_t errlen)
{
    /* 0600: whoever reads this file can read every session */
    keylog_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (keylog_fd < 0) {
        snprintf(err, errlen, "--keylog %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void keylog_line(const SSL *ssl, const char *line)
{
    struct iovec iov[2];
    ssize_t n;

    (void)ssl;
    if (keylog_fd < 0)
        return;
    iov[0].iov_base = (void *)(uintptr_t)line;
    iov[0].iov_len = strlen(line);
    iov[1].iov_base = (void *)(uintptr_t) "\n";
    iov[1].iov_len = 1;
    /* one writev per line: lines of concurrent handshakes never interleave */
    n = writev(keylog_fd, iov, 2);
    (void)n;
}

void tls_keylog_enable(SSL_CTX *ctx)
{
    if (ctx != NULL && keylog_fd >= 0)
        SSL_CTX_set_keylog_callback(ctx, keylog_line);
}

void tls_keylog_close(void)
{
    if (keylog_fd >= 0)
        close(keylog_fd);
    keylog_fd = -1;
}

void tls_failure(SSL *ssl, unsigned long err, char *buf, size_t buflen)
{
    long vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;

    if (vr != X509_V_OK) {
        snprintf(buf, buflen, "certificate verification failed: %s",
                 X509_verify_cert_error_string(vr));
    } else if (err != 0 && ERR_GET_LIB(err) == ERR_LIB_SYS) {
        snprintf(buf, buflen, "%s", strerror(ERR_GET_REASON(err)));
    } else if (err != 0) {
        const char *r = ERR_reason_error_string(err);
        snprintf(buf, buflen, "%s", r ? r : "TLS error");
    } else {
        snprintf(buf, buflen, "TLS handshake failed (connection closed)");
    }
}
