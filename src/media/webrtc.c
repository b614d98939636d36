/* A browser's side of a relay (see webrtc.h). What arrives on its socket is
 * told apart by its first byte (RFC 7983): STUN checks are answered (ICE-lite,
 * RFC 8445 §7.3: pbxd is always controlled, the browser nominates), DTLS goes
 * to OpenSSL through memory BIOs, SRTP and SRTCP (rtcp-mux, RFC 5761) are
 * decrypted with pbxd's own SRTP (srtp.c, keyed from the DTLS exporter) and
 * handed on as plain RTP. Nothing is accepted from an address that has not
 * passed a check with pbxd's password, and nothing is sent anywhere else: the
 * browser's SDP addresses are never used. */
#include "media/webrtc.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/mem.h"
#include "media/dtls.h"
#include "media/srtp.h"
#include "media/stun.h"

enum { VALID_MAX = 4, DTLS_DGRAM_MAX = 1200, SRTP_KEY = 16, SRTP_SALT_MAX = 14 };

struct media_webrtc {
	struct media_endpoint in;  /* first: what the socket endpoint received */
	struct media_endpoint out; /* plain media for the browser */
	struct media_sockep *sock;
	struct media_endpoint *far;
	struct tmr_heap *th;
	struct tmr dtls_tmr;
	struct media_webrtc_params p;
	struct media_dtls_cert *cert;
	SSL *ssl;
	BIO *rbio, *wbio;
	bool dtls_started, dtls_done, dtls_failed;
	struct media_srtp *srtp_in, *srtp_out;
	/* Addresses that passed a check (the latest first), and the nominated one. */
	struct sa valid[VALID_MAX];
	unsigned nvalid;
	struct sa selected;
	bool has_selected;
};

static bool is_valid(const struct media_webrtc *w, const struct sa *src)
{
	if (w->has_selected && sa_eq(&w->selected, src))
		return true;
	for (unsigned i = 0; i < w->nvalid; i++) {
		if (sa_eq(&w->valid[i], src))
			return true;
	}
	return false;
}

/* Where pbxd sends: the nominated pair, or the latest checked one before that. */
static const struct sa *dest(const struct media_webrtc *w)
{
	return w->has_selected ? &w->selected : w->nvalid ? &w->valid[0] : NULL;
}

static void send_to(struct media_webrtc *w, const void *buf, size_t len, const struct sa *to)
{
	if (!to || !len)
		return;
	if (sendto(w->sock->sock[MEDIA_RTP].fd, buf, len, MSG_DONTWAIT, &to->u.sa, to->len) < 0)
		w->sock->st.tx_dropped++;
}

/* The socket endpoint sends (SRTP) where ICE says. */
static void latch_to_dest(struct media_webrtc *w)
{
	const struct sa *d = dest(w);
	if (!d)
		return;
	struct media_latch *l = &w->sock->sock[MEDIA_RTP].latch;
	l->addr = *d;
	l->set = true;
}

/* --- DTLS ------------------------------------------------------------------------ */

static void dtls_fail(struct media_webrtc *w, const char *what)
{
	char why[200] = "";
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, why, sizeof(why));
	ERR_clear_error();
	log_info("media: WebRTC: DTLS %s%s%s", what, *why ? ": " : "", why);
	w->dtls_failed = true;
	tmr_cancel(&w->dtls_tmr);
}

/* What OpenSSL wrote, in datagrams of whole records (DTLS records never span
 * datagrams) of at most DTLS_DGRAM_MAX bytes. */
static void dtls_flush(struct media_webrtc *w)
{
	uint8_t buf[16384];
	int n;
	while ((n = BIO_read(w->wbio, buf, sizeof(buf))) > 0) {
		size_t at = 0, start = 0, total = (size_t)n;
		while (at + 13 <= total) {
			size_t rec = 13 + (size_t)(buf[at + 11] << 8 | buf[at + 12]);
			if (at + rec > total)
				break;
			if (at + rec - start > DTLS_DGRAM_MAX && at > start) {
				send_to(w, buf + start, at - start, dest(w));
				start = at;
			}
			at += rec;
		}
		send_to(w, buf + start, total - start, dest(w));
	}
}

static void dtls_timer(struct media_webrtc *w);

static void on_dtls_timeout(void *arg)
{
	struct media_webrtc *w = arg;
	if (w->dtls_done || w->dtls_failed)
		return;
	if (DTLSv1_handle_timeout(w->ssl) < 0) {
		dtls_fail(w, "retransmission failed");
		return;
	}
	dtls_flush(w);
	dtls_timer(w);
}

static void dtls_timer(struct media_webrtc *w)
{
	struct timeval tv;
	if (!w->dtls_done && !w->dtls_failed && DTLSv1_get_timeout(w->ssl, &tv))
		tmr_start(w->th, &w->dtls_tmr, (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000 + 1,
			  on_dtls_timeout, w);
}

/* The peer's certificate is the one the browser's SDP pinned (RFC 8122 §5). */
static bool fingerprint_ok(struct media_webrtc *w)
{
	X509 *peer = SSL_get1_peer_certificate(w->ssl);
	if (!peer)
		return false;
	char alg[16] = "", mine[sizeof(w->p.remote_fp)];
	const char *sp = strchr(w->p.remote_fp, ' ');
	bool ok = false;
	if (sp && (size_t)(sp - w->p.remote_fp) < sizeof(alg)) {
		memcpy(alg, w->p.remote_fp, (size_t)(sp - w->p.remote_fp));
		alg[sp - w->p.remote_fp] = '\0';
		ok = media_dtls_fingerprint_with(peer, alg, mine, sizeof(mine)) == 0 &&
		     strcasecmp(mine, w->p.remote_fp) == 0;
	}
	X509_free(peer);
	return ok;
}

/* Keys both directions from the handshake (RFC 5764 §4.2): client key, server
 * key, client salt, server salt. */
static int srtp_keys(struct media_webrtc *w, const char **name)
{
	const SRTP_PROTECTION_PROFILE *sp = SSL_get_selected_srtp_profile(w->ssl);
	if (!sp)
		return EPROTO;
	int suite;
	size_t salt;
	if (sp->id == SRTP_AES128_CM_SHA1_80) {
		suite = MEDIA_SRTP_AES_CM_SHA1_80;
		salt = 14;
	} else if (sp->id == SRTP_AEAD_AES_128_GCM) {
		suite = MEDIA_SRTP_AEAD_AES_128_GCM;
		salt = 12;
	} else {
		return EPROTO;
	}
	*name = sp->name;
	uint8_t km[2 * (SRTP_KEY + SRTP_SALT_MAX)];
	size_t len = 2 * (SRTP_KEY + salt);
	if (SSL_export_keying_material(w->ssl, km, len, "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0) != 1)
		return EPROTO;
	const uint8_t *ck = km, *sk = km + SRTP_KEY, *cs = km + 2 * SRTP_KEY, *ss = cs + salt;
	bool server = w->p.role == MEDIA_DTLS_SERVER;
	int e = media_srtp_new(&w->srtp_in, suite, server ? ck : sk, SRTP_KEY, server ? cs : ss, salt);
	if (!e)
		e = media_srtp_new(&w->srtp_out, suite, server ? sk : ck, SRTP_KEY, server ? ss : cs, salt);
	OPENSSL_cleanse(km, sizeof(km));
	return e;
}

static void dtls_step(struct media_webrtc *w)
{
	ERR_clear_error();
	int r = SSL_do_handshake(w->ssl);
	dtls_flush(w);
	if (r != 1) {
		int e = SSL_get_error(w->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			dtls_timer(w);
		else
			dtls_fail(w, "handshake failed");
		return;
	}
	tmr_cancel(&w->dtls_tmr);
	if (!fingerprint_ok(w)) {
		dtls_fail(w, "peer certificate does not match the SDP fingerprint");
		return;
	}
	const char *prof = "?";
	if (srtp_keys(w, &prof)) {
		dtls_fail(w, "no SRTP profile or keys");
		return;
	}
	w->dtls_done = true;
	w->sock->st.dtls_up = true;
	char a[64];
	log_info("media: WebRTC: %s with %s, %s", SSL_get_version(w->ssl), sa_str(dest(w), a, sizeof(a)), prof);
}

static void dtls_start(struct media_webrtc *w)
{
	if (w->dtls_started)
		return;
	w->dtls_started = true;
	if (w->p.role == MEDIA_DTLS_CLIENT)
		dtls_step(w); /* the ClientHello goes as soon as ICE has a pair */
}

static void dtls_in(struct media_webrtc *w, const struct media_pkt *p)
{
	if (w->dtls_failed)
		return;
	BIO_write(w->rbio, p->buf, (int)p->len);
	if (!w->dtls_done) {
		w->dtls_started = true;
		dtls_step(w);
		return;
	}
	/* After the handshake: an alert (close_notify), or a retransmitted last
	 * flight from a peer that missed ours. */
	uint8_t buf[2048];
	ERR_clear_error();
	int r = SSL_read(w->ssl, buf, sizeof(buf));
	if (r <= 0 && SSL_get_error(w->ssl, r) == SSL_ERROR_ZERO_RETURN)
		log_info("media: WebRTC: the browser closed DTLS");
	ERR_clear_error();
	dtls_flush(w);
}

/* --- ICE-lite --------------------------------------------------------------------- */

static bool username_ok(const struct media_webrtc *w, const struct stun_msg *m)
{
	/* The receiver's ufrag first (RFC 8445 §7.2.2): "pbxd's:browser's". */
	size_t ll = strlen(w->p.local_ufrag), rl = strlen(w->p.remote_ufrag);
	if (!m->username || m->username_len < ll + 1 || memcmp(m->username, w->p.local_ufrag, ll) != 0 ||
	    m->username[ll] != ':')
		return false;
	return !rl || (m->username_len == ll + 1 + rl && memcmp(m->username + ll + 1, w->p.remote_ufrag, rl) == 0);
}

static void stun_in(struct media_webrtc *w, const struct media_pkt *p)
{
	struct stun_msg m;
	if (stun_parse(p->buf, p->len, &m) || m.type != STUN_BINDING_REQUEST)
		return; /* indications (keep-alives), responses, not STUN: nothing to say */
	uint8_t out[256];
	size_t pwl = strlen(w->p.local_pwd), n;
	bool user = username_ok(w, &m);
	if (!user || !stun_integrity_ok(&m, w->p.local_pwd, pwl) || (m.fingerprint_at && !stun_fingerprint_ok(&m))) {
		/* RFC 8489 §9.1.3: 400 without credentials, 401 with wrong ones. */
		w->sock->st.ice_refused++;
		n = stun_binding_error(out, sizeof(out), m.tid, user && m.integrity_at ? 401 : 400,
				       user && m.integrity_at ? "Unauthorized" : "Bad Request", NULL, 0);
		send_to(w, out, n, &p->src);
		return;
	}
	w->sock->st.ice_checks++;
	n = stun_binding_success(out, sizeof(out), m.tid, &p->src, NULL, w->p.local_pwd, pwl);
	send_to(w, out, n, &p->src);
	if (!is_valid(w, &p->src) || (w->nvalid && !sa_eq(&w->valid[0], &p->src))) {
		/* the latest first; an address already there moves to the front */
		unsigned keep = w->nvalid < VALID_MAX ? w->nvalid : VALID_MAX - 1;
		struct sa prev[VALID_MAX];
		unsigned k = 0;
		for (unsigned i = 0; i < w->nvalid && k < keep; i++) {
			if (!sa_eq(&w->valid[i], &p->src))
				prev[k++] = w->valid[i];
		}
		w->valid[0] = p->src;
		memcpy(&w->valid[1], prev, k * sizeof(prev[0]));
		w->nvalid = k + 1;
	}
	if (m.use_candidate && (!w->has_selected || !sa_eq(&w->selected, &p->src))) {
		char a[64];
		log_debug("media: WebRTC: ICE pair nominated, %s", sa_str(&p->src, a, sizeof(a)));
		w->selected = p->src;
		w->has_selected = true;
	}
	latch_to_dest(w);
	dtls_start(w);
}

/* --- media -------------------------------------------------------------------------- */

static bool is_rtcp(const uint8_t *b, size_t len)
{
	/* RFC 5761 §4: RTCP packet types 192-223 fall on payload types 64-95. */
	return len >= 2 && (b[1] & 0x7f) >= 64 && (b[1] & 0x7f) <= 95;
}

static void in_deliver(struct media_endpoint *ep, enum media_comp comp, struct media_pkt *pkts, unsigned n)
{
	(void)comp; /* rtcp-mux: everything comes on the RTP socket */
	struct media_webrtc *w = (struct media_webrtc *)ep;
	struct media_pkt rtp[MEDIA_BATCH];
	unsigned nr = 0;
	for (unsigned i = 0; i < n; i++) {
		struct media_pkt *p = &pkts[i];
		uint8_t b = p->len ? p->buf[0] : 255;
		if (b < 4) {
			stun_in(w, p);
			continue;
		}
		if (!is_valid(w, &p->src)) {
			w->sock->st.rx_foreign++;
			continue;
		}
		if (b >= 20 && b <= 63) {
			dtls_in(w, p);
			continue;
		}
		if (b < 128 || b > 191 || !w->dtls_done)
			continue;
		size_t len = p->len;
		if (is_rtcp(p->buf, p->len)) {
			if (media_srtp_unprotect_rtcp(w->srtp_in, p->buf, &len)) {
				w->sock->st.srtp_failed++;
				continue;
			}
			struct media_pkt q = { .buf = p->buf, .len = len, .src = p->src };
			if (w->far)
				w->far->ops->deliver(w->far, MEDIA_RTCP, &q, 1);
			continue;
		}
		if (media_srtp_unprotect(w->srtp_in, p->buf, &len)) {
			w->sock->st.srtp_failed++;
			continue;
		}
		if (w->sock->te_pt >= 0)
			media_sockep_dtmf_check(w->sock, p->buf, len);
		rtp[nr++] = (struct media_pkt){ .buf = p->buf, .len = len, .src = p->src };
	}
	if (nr && w->far)
		w->far->ops->deliver(w->far, MEDIA_RTP, rtp, nr);
}

static void out_deliver(struct media_endpoint *ep, enum media_comp comp, struct media_pkt *pkts, unsigned n)
{
	struct media_webrtc *w = (struct media_webrtc *)(void *)((char *)ep - offsetof(struct media_webrtc, out));
	if (!w->dtls_done) {
		w->sock->st.tx_dropped += n; /* no keys yet: nothing may go in the clear */
		return;
	}
	unsigned m = 0;
	for (unsigned i = 0; i < n; i++) {
		size_t len = pkts[i].len;
		/* a packet buffer holds MEDIA_PKT_MAX bytes: room for the tag, or ENOBUFS */
		int e = comp == MEDIA_RTCP ? media_srtp_protect_rtcp(w->srtp_out, pkts[i].buf, &len, MEDIA_PKT_MAX)
					   : media_srtp_protect(w->srtp_out, pkts[i].buf, &len, MEDIA_PKT_MAX);
		if (e) {
			w->sock->st.tx_dropped++;
			continue;
		}
		pkts[m] = pkts[i];
		pkts[m++].len = len;
	}
	/* rtcp-mux: SRTCP leaves by the RTP socket too. */
	if (m)
		w->sock->ep.ops->deliver(&w->sock->ep, MEDIA_RTP, pkts, m);
}

static const struct media_endpoint_ops in_ops = { .name = "webrtc-in", .deliver = in_deliver };
static const struct media_endpoint_ops out_ops = { .name = "webrtc-out", .deliver = out_deliver };

/* --- life ----------------------------------------------------------------------------- */

static void webrtc_destroy(void *arg)
{
	struct media_webrtc *w = arg;
	tmr_cancel(&w->dtls_tmr);
	SSL_free(w->ssl); /* and its BIOs */
	mem_deref(w->srtp_in);
	mem_deref(w->srtp_out);
	mem_deref(w->cert);
}

int media_webrtc_alloc(struct media_webrtc **wp, const struct media_webrtc_params *p, struct media_dtls_cert *cert,
		       struct media_sockep *sock, struct tmr_heap *th)
{
	if (!p->local_ufrag[0] || !p->local_pwd[0] || !cert)
		return EINVAL;
	struct media_webrtc *w = mem_zalloc(sizeof(*w), webrtc_destroy);
	if (!w)
		return ENOMEM;
	w->in.ops = &in_ops;
	w->out.ops = &out_ops;
	w->sock = sock;
	w->th = th;
	w->p = *p;
	w->cert = mem_ref(cert);
	w->ssl = SSL_new(cert->ctx);
	w->rbio = BIO_new(BIO_s_mem());
	w->wbio = BIO_new(BIO_s_mem());
	if (!w->ssl || !w->rbio || !w->wbio) {
		BIO_free(w->rbio);
		BIO_free(w->wbio);
		mem_deref(w);
		return ENOMEM;
	}
	BIO_set_mem_eof_return(w->rbio, -1);
	BIO_set_mem_eof_return(w->wbio, -1);
	SSL_set_bio(w->ssl, w->rbio, w->wbio);
	SSL_set_options(w->ssl, SSL_OP_NO_QUERY_MTU);
	SSL_set_mtu(w->ssl, DTLS_DGRAM_MAX);
	if (p->role == MEDIA_DTLS_CLIENT)
		SSL_set_connect_state(w->ssl);
	else
		SSL_set_accept_state(w->ssl);
	sock->ice = true;
	sock->ep.peer = &w->in;
	/* What the side latched or was told as a plain side means nothing now. */
	for (int c = 0; c < MEDIA_COMP_COUNT; c++) {
		sock->sock[c].latch.set = false;
		sock->sock[c].latch.hint.len = 0;
		sock->sock[c].latch.move_from.len = 0;
	}
	*wp = w;
	return 0;
}

void media_webrtc_free(struct media_webrtc *w)
{
	mem_deref(w);
}

int media_webrtc_update(struct media_webrtc *w, const struct media_webrtc_params *p)
{
	bool other_creds = strcmp(w->p.local_ufrag, p->local_ufrag) != 0 || strcmp(w->p.local_pwd, p->local_pwd) != 0;
	if (w->dtls_done || w->dtls_started) {
		if (p->remote_fp[0] && strcasecmp(w->p.remote_fp, p->remote_fp) != 0)
			return EALREADY;
		/* An ICE restart (RFC 8445 §9) keeps DTLS and SRTP: checks with the new
		 * credentials only, the media where they go until the browser
		 * nominates another pair. A re-INVITE of the same terms changes nothing. */
		if (other_creds) {
			snprintf(w->p.local_ufrag, sizeof(w->p.local_ufrag), "%s", p->local_ufrag);
			snprintf(w->p.local_pwd, sizeof(w->p.local_pwd), "%s", p->local_pwd);
		}
		snprintf(w->p.remote_ufrag, sizeof(w->p.remote_ufrag), "%s", p->remote_ufrag);
		return 0;
	}
	if (other_creds)
		return EALREADY;
	snprintf(w->p.remote_ufrag, sizeof(w->p.remote_ufrag), "%s", p->remote_ufrag);
	snprintf(w->p.remote_fp, sizeof(w->p.remote_fp), "%s", p->remote_fp);
	if (p->role != w->p.role) {
		w->p.role = p->role;
		if (p->role == MEDIA_DTLS_CLIENT)
			SSL_set_connect_state(w->ssl);
		else
			SSL_set_accept_state(w->ssl);
	}
	return 0;
}

struct media_endpoint *media_webrtc_out(struct media_webrtc *w)
{
	return &w->out;
}

void media_webrtc_far_set(struct media_webrtc *w, struct media_endpoint *far)
{
	w->far = far;
}
