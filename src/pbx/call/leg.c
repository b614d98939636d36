/* One leg of a call on the wire: the caller's INVITE answered through its server
 * transaction, a device's INVITE sent and its answers taken, requests inside
 * either dialog. Requests always go back over the flow the leg's signalling came
 * from (the device's registered flow, the caller's source), never to an address
 * a message names: that is what NAT traversal without settings needs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "pbx/call/call_int.h"
#include "sip/print.h"

static const char allow_hdr[] = "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE\r\n";

struct leg *leg_alloc(struct call *c, bool uas)
{
	struct leg *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->call = c;
	l->uas = uas;
	l->target = -1;
	return l;
}

void leg_free(struct leg *l)
{
	if (!l)
		return;
	free(l->inv_extra);
	free(l->upd_undo);
	if (l->ct)
		sip_ctsx_abandon(l->ct);
	session_timer_stop(l);
	list_unlink(&l->le_dlg);
	list_unlink(&l->le);
	mem_deref(l->dlg);
	mem_deref(l->peer.conn);
	free(l);
}

/* The peer requests go to, our sent-by on its transport, and our o= line. */
static int leg_peer_set(struct leg *l, const struct sip_peer *p)
{
	struct call_engine *e = l->call->e;
	l->peer = *p;
	l->peer.conn = mem_ref(p->conn);
	struct sa local = p->local;
	if (!sa_af(&local) || sa_is_any(&local)) {
		struct sip_transport *tp = sip_stack_transport(e->d.sip);
		/* A TLS connection pbxd opens (a trunk) needs no TLS listener. */
		if (sip_transport_laddr(tp, p->tp, sa_af(&p->addr), &local) &&
		    (p->tp != SIP_TP_TLS || sip_transport_laddr(tp, SIP_TP_TCP, sa_af(&p->addr), &local)))
			return EADDRNOTAVAIL;
	}
	sa_str(&local, l->sentby, sizeof(l->sentby));
	char addr[48];
	const char *media = e->rtp_addr[0] ? e->rtp_addr : sa_ntop(&local, addr, sizeof(addr));
	return sdp_origin_init(&l->orig, "pbxd", media, call_rand(e) >> 1);
}

int leg_common_hdrs(const struct leg *l, char *buf, size_t size)
{
	int n = snprintf(buf, size, "X-Session-Id: %llu\r\n%sSupported: replaces, timer\r\n",
			 (unsigned long long)l->call->session_id, allow_hdr);
	return n < 0 || (size_t)n >= size ? ENOSPC : 0;
}

/* FNV-1a over the SDP but its o= line: what decides whether the version moves. */
static uint64_t sdp_content_hash(const struct mbuf *mb)
{
	uint64_t h = 1469598103934665603ull;
	const char *p = (const char *)mb->buf, *end = p + mb->end;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		if (!(next - p >= 2 && p[0] == 'o' && p[1] == '=')) {
			for (const char *q = p; q < next; q++)
				h = (h ^ (uint8_t)*q) * 1099511628211ull;
		}
		p = next;
	}
	return h | 1;
}

/* A browser's leg gets pbxd's ICE and DTLS terms of its side: actpass while
 * pbxd offers and no answer said, then the role agreed. */
static int leg_sdp_print(struct mbuf *mb, const struct leg *l)
{
	if (!l->webrtc)
		return sdp_neg_print(mb, &l->orig, &l->neg);
	const struct call *c = l->call;
	int side = l->uas ? 0 : 1;
	const struct sdp_webrtc w = {
		.ufrag = c->ice[side].ufrag, .pwd = c->ice[side].pwd,
		.fingerprint = media_dtls_cert_fingerprint(c->e->dtls),
		.setup = !l->dtls_role_set ? "actpass" : l->dtls_role == MEDIA_DTLS_SERVER ? "passive" : "active",
	};
	return sdp_neg_print_webrtc(mb, &l->orig, &l->neg, &w);
}

struct mbuf *leg_sdp(struct leg *l)
{
	struct mbuf *mb = mbuf_alloc(512, 4096);
	int side = l->uas ? 0 : 1;
	for (unsigned i = 0; i < l->neg.nstreams; i++) {
		if (!l->neg.streams[i].rejected)
			l->neg.streams[i].local_port = l->call->sp[side].port;
	}
	if (mb && leg_sdp_print(mb, l)) {
		mem_deref(mb);
		return NULL;
	}
	/* RFC 3264 §8: the same SDP keeps its version, a changed one raises it (an
	 * answer narrowed the codecs we offered; a hold changed a direction). */
	uint64_t h = mb ? sdp_content_hash(mb) : 0;
	if (mb && l->sdp_hash && h != l->sdp_hash) {
		sdp_origin_bump(&l->orig);
		mbuf_reset(mb);
		if (leg_sdp_print(mb, l)) {
			mem_deref(mb);
			return NULL;
		}
	}
	l->sdp_hash = h;
	return mb;
}

void leg_reply(struct leg *a, uint16_t scode, const char *reason, bool sdp)
{
	if (!a->st)
		return;
	char extra[512] = "";
	if (scode >= 300) {
		snprintf(extra, sizeof(extra), "%s", a->call->fail_hdrs);
	} else if (scode > 100) {
		char hdrs[256], se[96];
		if (scode >= 200 && leg_common_hdrs(a, hdrs, sizeof(hdrs)) == 0 &&
		    session_timer_reply_hdrs(a, se, sizeof(se)) == 0)
			snprintf(extra, sizeof(extra), "Contact: <sip:%s;transport=%s>\r\n%s%s", a->sentby,
				 sip_transport_uri_param(a->peer.tp), hdrs, se);
		else
			snprintf(extra, sizeof(extra), "Contact: <sip:%s;transport=%s>\r\n%s", a->sentby,
				 sip_transport_uri_param(a->peer.tp), allow_hdr);
	}
	struct mbuf *body = sdp ? leg_sdp(a) : NULL;
	struct pl b = body ? pl_from((const char *)body->buf, body->end) : (struct pl){ NULL, 0 };
	sip_stsx_reply(a->st, scode, reason, extra[0] ? extra : NULL, body ? "application/sdp" : NULL,
		       body ? &b : NULL);
	mem_deref(body);
	if (scode >= 200)
		a->st = NULL; /* the transaction is the layer's now */
	else if (a->state == LEG_CALLING)
		a->state = LEG_EARLY;
}

int leg_request(struct leg *l, const char *method, const char *extra, const struct pl *sdp, sip_ctsx_resp_h *h,
		void *arg, struct sip_ctsx **tp)
{
	if (!l->dlg)
		return EINVAL;
	char branch[48];
	sip_branch_new(branch, sizeof(branch));
	struct mbuf *mb = mbuf_alloc(1024, SIP_MSG_MAX_SIZE);
	if (!mb)
		return ENOMEM;
	int err = sip_dialog_request_print(mb, l->dlg, method, sip_transport_name(l->peer.tp), l->sentby, branch, 0,
					   extra, sdp ? "application/sdp" : NULL, sdp);
	if (!err)
		err = sip_ctsx_send(tp, sip_stack_tsx(l->call->e->d.sip), &l->peer, mb, h, arg);
	mem_deref(mb);
	return err;
}

/* "Name" for a From header: quotes and backslashes escaped (RFC 3261 §25.1). */
static void quoted(char *out, size_t size, const char *in)
{
	size_t n = 0;
	if (size < 3)
		return;
	out[n++] = '"';
	for (const char *p = in; *p && n + 3 < size; p++) {
		if (*p == '"' || *p == '\\')
			out[n++] = '\\';
		out[n++] = *p;
	}
	out[n++] = '"';
	out[n] = '\0';
}

static void on_invite_resp(int err, const struct sip_msg *resp, void *arg);

/* l's INVITE: its kept header lines (and auth, credentials, or NULL), our
 * SDP; CSeq l->inv_cseq, or with again the dialog's next one. */
static int invite_send(struct leg *l, const char *auth, bool again)
{
	struct call_engine *e = l->call->e;
	struct mbuf *body = leg_sdp(l);
	struct mbuf *mb = mbuf_alloc(2048, SIP_MSG_MAX_SIZE);
	char branch[48], *extra = NULL;
	sip_branch_new(branch, sizeof(branch));
	struct pl bp = body ? pl_from((const char *)body->buf, body->end) : (struct pl){ NULL, 0 };
	int err = !mb ? ENOMEM : 0;
	if (!err && auth && asprintf(&extra, "%s%s", l->inv_extra ? l->inv_extra : "", auth) < 0) {
		extra = NULL;
		err = ENOMEM;
	}
	if (!err)
		err = sip_dialog_request_print(mb, l->dlg, "INVITE", sip_transport_name(l->peer.tp), l->sentby, branch,
					       again ? 0 : l->inv_cseq, extra ? extra : l->inv_extra,
					       body ? "application/sdp" : NULL, body ? &bp : NULL);
	if (!err && again)
		l->inv_cseq = sip_dialog_local_cseq(l->dlg);
	if (!err)
		err = sip_ctsx_send(&l->ct, sip_stack_tsx(e->d.sip), &l->peer, mb, on_invite_resp, l);
	free(extra);
	mem_deref(mb);
	mem_deref(body);
	return err;
}

int leg_invite_again(struct leg *l, const char *auth)
{
	return invite_send(l, auth, true);
}

/* The dialog of a new B leg and the lines every INVITE of it carries. */
static int invite_start(struct leg *l, const char *from, const char *to, const char *target, const char *more)
{
	struct call *c = l->call;
	struct call_engine *e = c->e;
	char callid[48], tag[24], contact[128];
	snprintf(callid, sizeof(callid), "%016llx%08llx@pbxd", (unsigned long long)call_rand(e),
		 (unsigned long long)(call_rand(e) & 0xffffffffu));
	snprintf(tag, sizeof(tag), "%016llx", (unsigned long long)call_rand(e));
	snprintf(contact, sizeof(contact), "<sip:%s;transport=%s>", l->sentby, sip_transport_uri_param(l->peer.tp));
	l->inv_cseq = 1;
	int err = sip_dialog_uac_alloc(&l->dlg, callid, from, tag, to, target, l->inv_cseq, contact);
	if (err)
		return err;
	sip_dialog_max_forwards_set(l->dlg, c->max_forwards);
	call_dialog_add(e, l);
	char hdrs[256], se[96];
	err = leg_common_hdrs(l, hdrs, sizeof(hdrs));
	if (!err)
		err = session_timer_uac_hdrs(e, se, sizeof(se));
	if (!err && asprintf(&l->inv_extra, "%s%s%s", hdrs, se, more) < 0) {
		l->inv_extra = NULL;
		err = ENOMEM;
	}
	return err ? err : invite_send(l, NULL, false);
}

int leg_invite(struct leg *l, const struct loc_binding *b)
{
	struct call *c = l->call;
	int err = leg_peer_set(l, &b->peer);
	if (err)
		return err;
	char name[2 * STORE_NAME_SZ + 3] = "", from[sizeof(name) + 96 + STORE_DOMAIN_SZ];
	char to[96 + STORE_DOMAIN_SZ], route[STORE_CONTACT_SZ + 16] = "";
	if (c->caller_name[0])
		quoted(name, sizeof(name), c->caller_name);
	snprintf(from, sizeof(from), "%s%s<sip:%s@%s>", name, name[0] ? " " : "", c->caller, c->domain);
	snprintf(to, sizeof(to), "<sip:%s@%s>", c->callee, c->domain);
	/* A device registered through proxies (Path, RFC 3327) is reached through them. */
	if (b->path[0])
		snprintf(route, sizeof(route), "Route: %s\r\n", b->path);
	return invite_start(l, from, to, b->contact, route);
}

void leg_public_address(struct leg *l, const char *addr)
{
	struct sa local, pub;
	if (!addr[0] || sa_set(&local, l->sentby, 0) || sa_set(&pub, addr, 0))
		return;
	/* The port we listen on stays: a NAT that forwards it keeps the number. */
	char host[48];
	const char *colon = strrchr(l->sentby, ':');
	uint16_t port = colon ? (uint16_t)strtoul(colon + 1, NULL, 10) : 0;
	sa_set_port(&pub, port);
	sa_str(&pub, l->sentby, sizeof(l->sentby));
	sdp_origin_init(&l->orig, "pbxd", sa_ntop(&pub, host, sizeof(host)), call_rand(l->call->e) >> 1);
}

int leg_invite_trunk(struct leg *l, const struct trunk_provider *p, const char *number, const char *caller_id,
		     const char *display, bool anonymous, const char *more_hdrs)
{
	struct call_engine *e = l->call->e;
	struct sip_peer peer = { .tp = p->tp, .addr = p->dest, .fd = -1 };
	int err = leg_peer_set(l, &peer);
	if (err)
		return err;
	leg_public_address(l, trunks_public_address(e->d.trunks));
	l->provider_id = p->id;
	char port[8] = "", ruri[TRUNK_NUM_SZ + 300], to[sizeof(ruri)], from[STORE_NAME_SZ * 2 + TRUNK_NUM_SZ + 300];
	char name[2 * STORE_NAME_SZ + 3] = "", more[2 * TRUNK_NUM_SZ + 600];
	if (p->port != 5060)
		snprintf(port, sizeof(port), ":%u", p->port);
	snprintf(ruri, sizeof(ruri), "sip:%s@%s%s%s", number, p->host, port,
		 p->tp == SIP_TP_TCP ? ";transport=tcp" : p->tp == SIP_TP_TLS ? ";transport=tls" : "");
	snprintf(to, sizeof(to), "<sip:%s@%s>", number, p->host);
	/* RFC 3323/3325: an anonymous From, the identity asserted to the trusted
	 * carrier with Privacy: id so that it goes no further. */
	if (anonymous) {
		snprintf(from, sizeof(from), "\"Anonymous\" <sip:anonymous@anonymous.invalid>");
	} else {
		if (display && display[0])
			quoted(name, sizeof(name), display);
		snprintf(from, sizeof(from), "%s%s<sip:%s@%s>", name, name[0] ? " " : "", caller_id, p->host);
	}
	snprintf(more, sizeof(more), "P-Asserted-Identity: <sip:%s@%s>\r\n%s%s", caller_id, p->host,
		 anonymous ? "Privacy: id\r\n" : "", more_hdrs ? more_hdrs : "");
	return invite_start(l, from, to, ruri, more);
}

void leg_ack_2xx(struct leg *l, struct sip_ctsx *t, uint32_t cseq)
{
	char branch[48];
	sip_branch_new(branch, sizeof(branch));
	struct mbuf *mb = mbuf_alloc(512, SIP_MSG_MAX_SIZE);
	if (mb && sip_dialog_request_print(mb, l->dlg, "ACK", sip_transport_name(l->peer.tp), l->sentby, branch, cseq,
					   NULL, NULL, NULL) == 0)
		sip_ctsx_ack_2xx(t, mb);
	else
		sip_ctsx_abandon(t);
	mem_deref(mb);
}

static void provisional(struct leg *l, const struct sip_msg *resp)
{
	struct call *c = l->call;
	if (resp->scode == 100)
		return;
	if (resp->to.tag.l)
		sip_dialog_uac_update(l->dlg, resp); /* an early dialog; a second one (EALREADY) is ignored */
	int64_t now = store_now_ms();
	if (!c->ring_ms)
		c->ring_ms = now;
	if (l->target >= 0 && !c->targets[l->target].ring_ms)
		c->targets[l->target].ring_ms = now;
	l->state = LEG_EARLY;
	const char *why;
	/* Early media (RFC 3960): the first device to send SDP before answering is
	 * heard by the caller; the caller's answer is then fixed by it. */
	if (resp->body.l && !c->a->negotiated && negotiate_answer_b(c, l, resp, &why) == 0) {
		call_media_hint(c, 1, l);
		leg_reply(c->a, 183, NULL, true);
		return;
	}
	if (resp->scode == 180 || resp->scode == 183)
		leg_reply(c->a, resp->scode == 183 && c->a->negotiated ? 183 : 180, NULL, c->a->negotiated);
}

static void on_invite_resp(int err, const struct sip_msg *resp, void *arg)
{
	struct leg *l = arg;
	struct call *c = l->call;
	if (err) {
		l->ct = NULL;
		call_fork_failed(c, l, err == ETIME || err == ETIMEDOUT ? 408 : 503);
		return;
	}
	if (resp->scode < 200) {
		provisional(l, resp);
		return;
	}
	if (resp->scode >= 300) {
		l->ct = NULL;
		/* A provider's challenge: the INVITE again, with the trunk's credentials. */
		if ((resp->scode == 401 || resp->scode == 407) && l->provider_id && call_trunk_auth(l, resp))
			return;
		call_fork_failed(c, l, resp->scode);
		return;
	}
	int derr = sip_dialog_uac_update(l->dlg, resp);
	leg_ack_2xx(l, l->ct, l->inv_cseq);
	l->ct = NULL;
	l->state = LEG_ANSWERED;
	const char *why = "";
	if (derr == 0 && !l->negotiated && negotiate_answer_b(c, l, resp, &why))
		derr = EBADMSG;
	if (derr) {
		log_info("call %llu: a device's answer is unusable (%s): hung up", (unsigned long long)c->session_id,
			 derr == EBADMSG ? why : strerror(derr));
		if (derr != EALREADY)
			leg_request(l, "BYE", NULL, NULL, NULL, NULL, NULL);
		call_fork_failed(c, l, 488);
		return;
	}
	call_media_hint(c, 1, l);
	session_timer_uac(l, resp);
	call_answered(c, l);
}

/* The A leg's peer and addresses come from the caller's INVITE. */
int leg_uas_setup(struct leg *a, const struct sip_msg *inv)
{
	return leg_peer_set(a, &inv->src);
}
