/* pbxd's certificate files (see tlsfiles.h): the configured pair, or a
 * self-signed one made at first start in DATA_DIR/tls/ and reused afterwards. */
#include "core/tlsfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

int tls_file_read(const char *path, char **out)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return errno;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			if (cap > 1 << 20) { /* a PEM file is a few KiB */
				free(buf);
				fclose(f);
				return EFBIG;
			}
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return ENOMEM;
			}
			buf = nb;
		}
		size_t r = fread(buf + len, 1, 4096, f);
		len += r;
		if (r < 4096)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	*out = buf;
	return 0;
}

static int add_ext(X509 *crt, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, crt, crt, NULL, NULL, 0);
	X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ex)
		return EINVAL;
	X509_add_ext(crt, ex, -1);
	X509_EXTENSION_free(ex);
	return 0;
}

int tls_selfsigned(const char *cn, const char *san, long days, struct evp_pkey_st **kp, struct x509_st **cp)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *crt = X509_new();
	int e = key && crt ? 0 : ENOMEM;
	if (!e) {
		X509_set_version(crt, 2);
		uint64_t serial = 0;
		RAND_bytes((unsigned char *)&serial, sizeof(serial));
		ASN1_INTEGER_set_uint64(X509_get_serialNumber(crt), serial >> 1); /* positive, unique enough */
		X509_gmtime_adj(X509_getm_notBefore(crt), -3600);
		X509_gmtime_adj(X509_getm_notAfter(crt), days * 24 * 3600);
		X509_set_pubkey(crt, key);
		X509_NAME *name = X509_get_subject_name(crt);
		X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"pbxd", -1, -1, 0);
		X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
		X509_set_issuer_name(crt, name);
		if ((san && add_ext(crt, NID_subject_alt_name, san)) ||
		    add_ext(crt, NID_basic_constraints, "critical,CA:FALSE") || !X509_sign(crt, key, EVP_sha256()))
			e = EIO;
	}
	if (e) {
		X509_free(crt);
		EVP_PKEY_free(key);
		return e;
	}
	*kp = key;
	*cp = crt;
	return 0;
}

/* An EC P-256 key and a 10-year self-signed certificate for this host. */
static int generate(const char *cert_path, const char *key_path)
{
	char host[256] = "localhost", san[600];
	gethostname(host, sizeof(host) - 1);
	snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", host);
	EVP_PKEY *key = NULL;
	X509 *crt = NULL;
	int e = tls_selfsigned(host, san, 10L * 365, &key, &crt);
	if (!e) {
		/* The key file is created 0600 before anything is written to it. */
		int fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		FILE *kf = fd >= 0 ? fdopen(fd, "w") : NULL;
		FILE *cf = fopen(cert_path, "w");
		if (!kf || !cf || !PEM_write_PrivateKey(kf, key, NULL, NULL, 0, NULL, NULL) ||
		    !PEM_write_X509(cf, crt))
			e = EIO;
		if (kf)
			fclose(kf);
		else if (fd >= 0)
			close(fd);
		if (cf)
			fclose(cf);
	}
	X509_free(crt);
	EVP_PKEY_free(key);
	if (!e)
		log_info("tls: generated a self-signed certificate for %s in %s", host, cert_path);
	return e;
}

int tls_files_resolve(const char *data_dir, const char *cert_file, const char *key_file,
		      char cert_path[TLS_PATH_MAX], char key_path[TLS_PATH_MAX])
{
	if (cert_file && *cert_file && key_file && *key_file) {
		if (snprintf(cert_path, TLS_PATH_MAX, "%s", cert_file) >= TLS_PATH_MAX ||
		    snprintf(key_path, TLS_PATH_MAX, "%s", key_file) >= TLS_PATH_MAX)
			return ENAMETOOLONG;
		return 0;
	}
	if ((cert_file && *cert_file) || (key_file && *key_file))
		return EINVAL;
	char dir[TLS_PATH_MAX - 16];
	if (snprintf(dir, sizeof(dir), "%s/tls", data_dir) >= (int)sizeof(dir))
		return ENAMETOOLONG;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return errno;
	snprintf(cert_path, TLS_PATH_MAX, "%s/cert.pem", dir);
	snprintf(key_path, TLS_PATH_MAX, "%s/key.pem", dir);
	if (access(cert_path, R_OK) == 0 && access(key_path, R_OK) == 0)
		return 0;
	return generate(cert_path, key_path);
}
