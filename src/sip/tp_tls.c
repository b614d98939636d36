/* SIP over TLS (RFC 3261 §26) as a byte layer under the stream framing: OpenSSL
 * on the non-blocking socket, TLS 1.2 at least. The server side for phones
 * (reached over the connections they open): its context holds the certificate;
 * loading a new one swaps it for new handshakes while every connection keeps
 * the context it began with (OpenSSL counts its references). The client side
 * for trunks: the peer's certificate checked against trusted CAs and the name
 * pbxd knows it by (RFC 5922: the host name, not an address, where there is one). */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>

#include "core/log.h"
#include "sip/transport_int.h"

static void tls_err_text(char *buf, size_t sz)
{
	unsigned long e = ERR_get_error();
	if (!e) {
		snprintf(buf, sz, "unknown error");
		return;
	}
	ERR_error_string_n(e, buf, sz);
	ERR_clear_error();
}

int sip_transport_tls_load(struct sip_transport *tp, const char *cert_path, const char *key_path, char *err,
			   size_t errsz)
{
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char why[256] = "out of memory";
	const char *step = "";
	if (ctx) {
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
		/* A phone that drops its connection without close_notify is an end,
		 * not an error to log (OpenSSL 3 calls it one by default). */
		SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
					 SSL_OP_IGNORE_UNEXPECTED_EOF);
		/* Partial writes and a moving buffer: the stream's write queue moves as it
		 * drains. Idle connections give their buffers back (thousands of phones). */
		SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"pbxd-sip", 8);
		if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1)
			step = cert_path;
		else if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1)
			step = key_path;
		else if (SSL_CTX_check_private_key(ctx) != 1)
			step = "the key does not match the certificate";
		else
			step = NULL;
		if (step)
			tls_err_text(why, sizeof(why));
	}
	if (!ctx || step) {
		snprintf(err, errsz, "%s%s%s", step && *step ? step : "", step && *step ? ": " : "", why);
		SSL_CTX_free(ctx);
		return EINVAL;
	}
	SSL_CTX_free(tp->tls);
	tp->tls = ctx;
	X509 *crt = SSL_CTX_get0_certificate(ctx);
	char subj[256] = "";
	if (crt)
		X509_NAME_oneline(X509_get_subject_name(crt), subj, sizeof(subj));
	log_info("SIP TLS: certificate %s (%s), key %s", cert_path, subj, key_path);
	return 0;
}

void sip_tp_tls_free_ctx(struct sip_transport *tp)
{
	SSL_CTX_free(tp->tls);
	tp->tls = NULL;
	SSL_CTX_free(tp->tls_client);
	tp->tls_client = NULL;
}

static SSL_CTX *client_ctx(struct sip_transport *tp)
{
	if (tp->tls_client)
		return tp->tls_client;
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			      SSL_MODE_RELEASE_BUFFERS);
	int ok = tp->tls_ca_file[0] ? SSL_CTX_load_verify_locations(ctx, tp->tls_ca_file, NULL)
				    : SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		char why[256];
		tls_err_text(why, sizeof(why));
		log_error("SIP TLS: cannot load the trusted CAs%s%s: %s", tp->tls_ca_file[0] ? " from " : "",
			  tp->tls_ca_file, why);
	}
	SSL_CTX_set_verify(ctx, tp->tls_verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	tp->tls_client = ctx;
	return ctx;
}

int sip_tp_tls_attach_client(struct sip_conn *c, const char *name)
{
	SSL_CTX *ctx = client_ctx(c->tp);
	if (!ctx)
		return ENOMEM;
	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		return ENOMEM;
	}
	struct sa a;
	bool is_addr = sa_set(&a, name, 0) == 0;
	if (name[0] && !is_addr)
		SSL_set_tlsext_host_name(c->ssl, name);
	if (c->tp->tls_verify && name[0]) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
		if (is_addr)
			X509_VERIFY_PARAM_set1_ip_asc(vp, name);
		else
			SSL_set1_host(c->ssl, name);
	}
	SSL_set_connect_state(c->ssl);
	c->io = &sip_tp_tls_io;
	return 0;
}

int sip_tp_tls_attach(struct sip_conn *c)
{
	if (!c->tp->tls)
		return ENOKEY;
	c->ssl = SSL_new(c->tp->tls);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		return ENOMEM;
	}
	SSL_set_accept_state(c->ssl);
	c->io = &sip_tp_tls_io;
	return 0;
}

void sip_tp_tls_detach(struct sip_conn *c)
{
	SSL_free(c->ssl);
	c->ssl = NULL;
}

void sip_tp_tls_close_notify(struct sip_conn *c)
{
	if (c->ssl && SSL_is_init_finished(c->ssl)) {
		ERR_clear_error();
		SSL_shutdown(c->ssl); /* one try: the socket is half-closed next */
		ERR_clear_error();
	}
}

bool sip_tp_tls_pending(const struct sip_conn *c)
{
	return c->ssl && SSL_pending(c->ssl) > 0;
}

/* A plain TLS connection carries SIP once its handshake is done (WSS has the
 * WebSocket upgrade still to come). */
static void handshake_check(struct sip_conn *c)
{
	if (c->handshaking && c->kind == SIP_TP_TLS && SSL_is_init_finished(c->ssl)) {
		c->handshaking = false;
		sip_tp_conn_partial(c, c->rbuf->end > 0, false);
		char a[80];
		log_debug("%s: %s established (%s)", sip_tp_conn_name(c, a, sizeof(a)), SSL_get_version(c->ssl),
			  SSL_get_cipher_name(c->ssl));
	}
}

/* Turns an OpenSSL failure into the conn_io contract: -1 with errno, or 0 at
 * the peer's end. A handshake that fails is logged with OpenSSL's reason. */
static ssize_t tls_fail(struct sip_conn *c, int r, bool reading)
{
	int saved = errno;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		handshake_check(c);
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		c->io_want_write = reading;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (!ERR_peek_error() && !saved)
			return 0; /* the peer closed without close_notify */
		ERR_clear_error();
		errno = saved ? saved : ECONNRESET;
		return -1;
	default: {
		char why[256], a[80];
		tls_err_text(why, sizeof(why));
		log_info("%s: TLS %s: %s", sip_tp_conn_name(c, a, sizeof(a)),
			 SSL_is_init_finished(c->ssl) ? "error" : "handshake failed", why);
		errno = EPROTO;
		return -1;
	}
	}
}

static ssize_t tls_recv(struct sip_conn *c, void *buf, size_t len)
{
	size_t n = 0;
	ERR_clear_error();
	errno = 0;
	int r = SSL_read_ex(c->ssl, buf, len, &n);
	if (r == 1) {
		handshake_check(c);
		return (ssize_t)n;
	}
	return tls_fail(c, r, true);
}

static ssize_t tls_send(struct sip_conn *c, const void *buf, size_t len)
{
	size_t n = 0;
	ERR_clear_error();
	errno = 0;
	int r = SSL_write_ex(c->ssl, buf, len, &n);
	if (r == 1)
		return (ssize_t)n;
	return tls_fail(c, r, false);
}

const struct conn_io sip_tp_tls_io = { tls_recv, tls_send };
