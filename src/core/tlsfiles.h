/* pbxd's TLS certificate files, shared by HTTPS and SIP over TLS/WSS: the pair
 * the administrator configured, or else a self-signed EC P-256 pair made at
 * first start in DATA_DIR/tls/ and reused afterwards, so TLS works out of the
 * box and a client can pin the certificate across restarts. */
#ifndef CORE_TLSFILES_H
#define CORE_TLSFILES_H

#include <stddef.h>

#define TLS_PATH_MAX 4096

/* The certificate and key paths to use: cert_file and key_file when both are
 * set; EINVAL when only one is; else DATA_DIR/tls/{cert,key}.pem, made first
 * when missing (the key file 0600). */
int tls_files_resolve(const char *data_dir, const char *cert_file, const char *key_file,
		      char cert_path[TLS_PATH_MAX], char key_path[TLS_PATH_MAX]);
struct evp_pkey_st;
struct x509_st;
/* A new EC P-256 key and a self-signed certificate for it (CN cn, O pbxd,
 * subjectAltName san when not NULL, valid days from an hour ago). Free with
 * EVP_PKEY_free and X509_free. 0, ENOMEM or EIO. */
int tls_selfsigned(const char *cn, const char *san, long days, struct evp_pkey_st **kp, struct x509_st **cp);
/* Reads a PEM file (at most 1 MiB) into a new NUL-terminated buffer (free()). */
int tls_file_read(const char *path, char **out);

#endif
