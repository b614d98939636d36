/* pbxd's DTLS identity for WebRTC (see media.h): one key and self-signed
 * certificate made at start, their SHA-256 fingerprint for SDP. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "core/tlsfiles.h"
#include "media/dtls.h"

static void cert_destroy(void *arg)
{
	struct media_dtls_cert *c = arg;
	SSL_CTX_free(c->ctx);
	X509_free(c->crt);
	EVP_PKEY_free(c->key);
}

int media_dtls_fingerprint_with(const X509 *crt, const char *alg, char *out, size_t sz)
{
	/* SDP's names (RFC 8122: sha-1, sha-256...) are OpenSSL's without the dash. */
	char name[16];
	size_t j = 0;
	for (size_t i = 0; alg[i] && j < sizeof(name) - 1; i++) {
		if (alg[i] != '-')
			name[j++] = alg[i];
	}
	name[j] = '\0';
	const EVP_MD *md_type = EVP_get_digestbyname(name);
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	if (!md_type || !X509_digest(crt, md_type, md, &n) || sz < strlen(alg) + 2 + 3 * (size_t)n)
		return EINVAL;
	size_t at = (size_t)snprintf(out, sz, "%s ", alg);
	for (unsigned i = 0; i < n; i++)
		at += (size_t)snprintf(out + at, sz - at, i ? ":%02X" : "%02X", md[i]);
	return 0;
}

int media_dtls_fingerprint_of(const X509 *crt, char *out, size_t sz)
{
	return media_dtls_fingerprint_with(crt, "sha-256", out, sz);
}

/* Any certificate is taken during the handshake: it is self-signed, and what
 * makes it the browser's is its fingerprint in SDP, checked once it is done. */
static int accept_any(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;
}

static int ctx_make(struct media_dtls_cert *c)
{
	c->ctx = SSL_CTX_new(DTLS_method());
	if (!c->ctx)
		return ENOMEM;
	SSL_CTX_set_min_proto_version(c->ctx, DTLS1_2_VERSION);
	if (SSL_CTX_use_certificate(c->ctx, c->crt) != 1 || SSL_CTX_use_PrivateKey(c->ctx, c->key) != 1 ||
	    /* 0 is success here */
	    SSL_CTX_set_tlsext_use_srtp(c->ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80") != 0)
		return EINVAL;
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
	SSL_CTX_set_read_ahead(c->ctx, 1);
	return 0;
}

int media_dtls_cert_new(struct media_dtls_cert **cp)
{
	struct media_dtls_cert *c = mem_zalloc(sizeof(*c), cert_destroy);
	if (!c)
		return ENOMEM;
	/* 30 days: the certificate lives as long as the process; browsers do not
	 * check the dates of a fingerprint-pinned one, but they must be sane. */
	int e = tls_selfsigned("pbxd WebRTC", NULL, 30, &c->key, &c->crt);
	if (!e)
		e = media_dtls_fingerprint_of(c->crt, c->fingerprint, sizeof(c->fingerprint));
	if (!e)
		e = ctx_make(c);
	if (e) {
		mem_deref(c);
		return e;
	}
	*cp = c;
	return 0;
}

const char *media_dtls_cert_fingerprint(const struct media_dtls_cert *c)
{
	return c->fingerprint;
}
