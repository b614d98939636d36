/* pbxd's DTLS identity (internal to src/media; the public face is in media.h). */
#ifndef MEDIA_DTLS_H
#define MEDIA_DTLS_H

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "media/media.h"

struct media_dtls_cert {
	EVP_PKEY *key;
	X509 *crt;
	SSL_CTX *ctx; /* DTLS, with the key and certificate, SRTP profiles, a peer certificate asked */
	char fingerprint[8 + 3 * 64]; /* "sha-256 AB:..." */
};

/* "sha-256 AB:CD:..." of crt into out. */
int media_dtls_fingerprint_of(const X509 *crt, char *out, size_t sz);
/* The same with another hash function, named as SDP names it (sha-1, sha-384...). */
int media_dtls_fingerprint_with(const X509 *crt, const char *alg, char *out, size_t sz);

#endif
