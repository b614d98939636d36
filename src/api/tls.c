/* The HTTPS certificate: the configured files, or the self-signed pair of
 * DATA_DIR/tls/ (core/tlsfiles.h). libmicrohttpd takes it through GnuTLS's
 * certificate callback, so that a new pair (files replaced then SIGHUP, or an
 * upload through POST /api/system/certificate) serves the next handshake while
 * connections and calls in progress go on. Pairs once loaded stay until the API
 * stops: a handshake on another thread may still be using the previous one. */
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_int.h"
#include "core/log.h"
#include "core/tlsfiles.h"
#include "pbx/pbx.h"

enum { CHAIN_MAX = 8 };

struct pair {
	gnutls_pcert_st pcert[CHAIN_MAX];
	unsigned n;
	gnutls_privkey_t key;
	struct pair *older;
};

struct api_tls {
	pthread_mutex_t lock;
	struct pair *cur;
	char cert_path[TLS_PATH_MAX], key_path[TLS_PATH_MAX];
	bool configured; /* the paths are the administrator's (--http-tls-cert), not DATA_DIR/tls/ */
};

/* GnuTLS's callback has no argument of ours: one API per process. */
static struct api_tls *the_tls;

static void pair_free(struct pair *p)
{
	while (p) {
		struct pair *o = p->older;
		for (unsigned i = 0; i < p->n; i++)
			gnutls_pcert_deinit(&p->pcert[i]);
		if (p->key)
			gnutls_privkey_deinit(p->key);
		free(p);
		p = o;
	}
}

/* A pair from PEM text: the chain (leaf first) and its key. */
static int pair_make(const char *cert_pem, const char *key_pem, struct pair **out)
{
	struct pair *p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	gnutls_datum_t c = { (unsigned char *)(uintptr_t)cert_pem, (unsigned)strlen(cert_pem) };
	gnutls_datum_t k = { (unsigned char *)(uintptr_t)key_pem, (unsigned)strlen(key_pem) };
	p->n = CHAIN_MAX;
	int r = gnutls_pcert_list_import_x509_raw(p->pcert, &p->n, &c, GNUTLS_X509_FMT_PEM, 0);
	if (r < 0) {
		p->n = 0;
		pair_free(p);
		log_error("api: TLS certificate: %s", gnutls_strerror(r));
		return EINVAL;
	}
	r = gnutls_privkey_init(&p->key);
	if (r >= 0)
		r = gnutls_privkey_import_x509_raw(p->key, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (r < 0) {
		log_error("api: TLS key: %s", gnutls_strerror(r));
		pair_free(p);
		return EINVAL;
	}
	*out = p;
	return 0;
}

static int cert_cb(gnutls_session_t s, const gnutls_datum_t *req_ca_rdn, int nreqs,
		   const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
		   unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
	(void)s;
	(void)req_ca_rdn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	struct api_tls *t = the_tls;
	if (!t)
		return -1;
	pthread_mutex_lock(&t->lock);
	struct pair *p = t->cur;
	pthread_mutex_unlock(&t->lock);
	if (!p)
		return -1;
	*pcert = p->pcert;
	*pcert_length = p->n;
	*privkey = p->key;
	return 0;
}

void *api_tls_callback(void)
{
	return (void *)(uintptr_t)cert_cb;
}

/* The PEM files' pair checked with OpenSSL too: the key must be the leaf's. */
static int files_check(const char *cert_pem, const char *key_pem, char *why, size_t whysz);

static int load_files(struct api_tls *t, struct pair **out)
{
	char *cert = NULL, *key = NULL, why[200];
	int e = tls_file_read(t->cert_path, &cert);
	if (e)
		log_error("api: cannot read %s: %s", t->cert_path, strerror(e));
	if (!e && (e = tls_file_read(t->key_path, &key)) != 0)
		log_error("api: cannot read %s: %s", t->key_path, strerror(e));
	if (!e && (e = files_check(cert, key, why, sizeof(why))) != 0)
		log_error("api: %s and %s: %s", t->cert_path, t->key_path, why);
	if (!e)
		e = pair_make(cert, key, out);
	if (key)
		OPENSSL_cleanse(key, strlen(key));
	free(cert);
	free(key);
	return e;
}

int api_tls_open(struct api *a, const char *data_dir, const char *cert_file, const char *key_file)
{
	struct api_tls *t = calloc(1, sizeof(*t));
	if (!t)
		return ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	t->configured = cert_file && *cert_file;
	int e = tls_files_resolve(data_dir, cert_file, key_file, t->cert_path, t->key_path);
	if (e == EINVAL)
		log_error("api: --http-tls-cert and --http-tls-key go together");
	if (!e)
		e = load_files(t, &t->cur);
	if (e) {
		pthread_mutex_destroy(&t->lock);
		free(t);
		return e;
	}
	a->tls = t;
	the_tls = t;
	return 0;
}

void api_tls_close(struct api *a)
{
	struct api_tls *t = a->tls;
	if (!t)
		return;
	if (the_tls == t)
		the_tls = NULL;
	pair_free(t->cur);
	pthread_mutex_destroy(&t->lock);
	free(t);
	a->tls = NULL;
}

int api_tls_reload(struct api *a)
{
	struct api_tls *t = a->tls;
	if (!t)
		return ENOENT;
	struct pair *p = NULL;
	int e = load_files(t, &p);
	if (e) {
		log_error("api: the HTTPS certificate was not reloaded, the one in use stays");
		return e;
	}
	pthread_mutex_lock(&t->lock);
	p->older = t->cur;
	t->cur = p;
	pthread_mutex_unlock(&t->lock);
	log_info("api: HTTPS certificate reloaded from %s", t->cert_path);
	return 0;
}

/* --- what the administrator sees and uploads ----------------------------------- */

static const struct api_field cert_fields[] = {
	{ "subject", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "issuer", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "not_before", API_T_STRING, API_F_READONLY | API_F_NULLABLE, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
	{ "not_after", API_T_STRING, API_F_READONLY | API_F_NULLABLE, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
	{ "fingerprint_sha256", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "dns_names", API_T_ARRAY, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "subjectAltName DNS entries" },
	{ "self_signed", API_T_BOOL, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "source", API_T_STRING, API_F_READONLY, 0, 0, "data_dir|files", NULL, NULL, 0,
	  "data_dir: DATA_DIR/tls/ (made at first start, or uploaded); files: --http-tls-cert and --http-tls-key" },
};
const struct api_schema api_s_certificate = API_SCHEMA("Certificate", cert_fields, "A TLS certificate in use");

static const struct api_field cert_upload_fields[] = {
	{ "certificate", API_T_STRING, API_F_REQUIRED, 1, 65536, NULL, NULL, NULL, 0,
	  "PEM: the certificate, then its intermediates" },
	{ "private_key", API_T_STRING, API_F_REQUIRED | API_F_WRITEONLY, 1, 16384, NULL, NULL, NULL, 0,
	  "PEM: its private key, not encrypted" },
};
const struct api_schema api_s_certificate_upload = API_SCHEMA("CertificateUpload", cert_upload_fields,
							       "A certificate and its key to install");

static int files_check(const char *cert_pem, const char *key_pem, char *why, size_t whysz)
{
	BIO *cb = BIO_new_mem_buf(cert_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
	X509 *crt = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	int e = 0;
	if (!crt) {
		snprintf(why, whysz, "certificate: not a PEM certificate");
		e = EINVAL;
	} else if (!key) {
		snprintf(why, whysz, "private_key: not a PEM private key (an encrypted key is not taken)");
		e = EINVAL;
	} else if (X509_check_private_key(crt, key) != 1) {
		snprintf(why, whysz, "private_key: does not match the certificate");
		e = EINVAL;
	} else if (X509_cmp_current_time(X509_get0_notAfter(crt)) <= 0) {
		snprintf(why, whysz, "certificate: expired");
		e = EINVAL;
	}
	X509_free(crt);
	EVP_PKEY_free(key);
	BIO_free(cb);
	BIO_free(kb);
	return e;
}

static json_t *asn1_time(const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return json_null();
	char buf[32];
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static json_t *name_of(const X509_NAME *n)
{
	char buf[512];
	X509_NAME_oneline(n, buf, sizeof(buf));
	return json_string(buf);
}

/* What the certificate in use says, for GET /api/system/certificate. */
static json_t *describe(struct api_tls *t)
{
	char *pem = NULL;
	if (tls_file_read(t->cert_path, &pem))
		return NULL;
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *crt = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	free(pem);
	if (!crt)
		return NULL;
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	char fp[3 * EVP_MAX_MD_SIZE + 1] = "";
	size_t at = 0;
	if (X509_digest(crt, EVP_sha256(), md, &n)) {
		for (unsigned i = 0; i < n; i++)
			at += (size_t)snprintf(fp + at, sizeof(fp) - at, i ? ":%02X" : "%02X", md[i]);
	}
	json_t *names = json_array();
	GENERAL_NAMES *gens = X509_get_ext_d2i(crt, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_DNS)
			json_array_append_new(names, json_stringn((const char *)ASN1_STRING_get0_data(g->d.dNSName),
								  (size_t)ASN1_STRING_length(g->d.dNSName)));
	}
	GENERAL_NAMES_free(gens);
	bool self = X509_NAME_cmp(X509_get_subject_name(crt), X509_get_issuer_name(crt)) == 0;
	json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:s, s:o, s:b, s:s}", "subject", name_of(X509_get_subject_name(crt)),
			      "issuer", name_of(X509_get_issuer_name(crt)), "not_before",
			      asn1_time(X509_get0_notBefore(crt)), "not_after", asn1_time(X509_get0_notAfter(crt)),
			      "fingerprint_sha256", fp, "dns_names", names, "self_signed", self, "source",
			      t->configured ? "files" : "data_dir");
	X509_free(crt);
	return o;
}

void api_h_certificate_get(struct api_req *rq, struct api_resp *rs)
{
	struct api_tls *t = rq->api->tls;
	json_t *o = t ? describe(t) : NULL;
	if (!o) {
		api_error(rs, 404, "not_found", NULL, "HTTPS is off here (--http-tls=off): no certificate in use");
		return;
	}
	api_ok(rs, 200, o);
}

/* Written beside, then renamed over: a reader sees the old file or the new one. */
static int file_replace(const char *path, const char *text, mode_t mode)
{
	char tmp[TLS_PATH_MAX + 8];
	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
		return ENAMETOOLONG;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return errno;
	int e = chmod(tmp, mode) ? errno : 0;
	if (!e && fputs(text, f) < 0)
		e = EIO;
	if (fclose(f) && !e)
		e = EIO;
	if (!e && rename(tmp, path))
		e = errno;
	if (e)
		unlink(tmp);
	return e;
}

void api_h_certificate_upload(struct api_req *rq, struct api_resp *rs)
{
	struct api_tls *t = rq->api->tls;
	if (!t) {
		api_error(rs, 409, "conflict", NULL, "HTTPS is off here (--http-tls=off): there is no certificate to replace");
		return;
	}
	if (t->configured) {
		api_error(rs, 409, "conflict", NULL, "the certificate comes from --http-tls-cert and --http-tls-key: replace "
			  "those files and send pbxd SIGHUP");
		return;
	}
	const char *cert = json_string_value(json_object_get(rq->json, "certificate"));
	const char *key = json_string_value(json_object_get(rq->json, "private_key"));
	char why[200];
	if (files_check(cert, key, why, sizeof(why))) {
		api_error(rs, 422, "invalid_field", strncmp(why, "private_key", 11) == 0 ? "private_key" : "certificate",
			  "%s", why);
		return;
	}
	/* The key first: a certificate never names a key that is not there yet. */
	int e = file_replace(t->key_path, key, 0600);
	if (!e)
		e = file_replace(t->cert_path, cert, 0644);
	if (!e)
		e = api_tls_reload(rq->api);
	if (e) {
		api_error(rs, 500, "internal", NULL, "the certificate could not be installed: %s", strerror(e));
		return;
	}
	/* SIP over TLS and WSS use this pair unless given their own (--sip-tls-cert). */
	if (rq->api->pbx)
		pbx_sip_tls_reload(rq->api->pbx);
	log_info("api: a new HTTPS certificate was uploaded");
	json_t *o = describe(t);
	api_ok(rs, 200, o ? o : json_object());
}
