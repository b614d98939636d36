/* SIP transaction state machines (see tsx.h). Server transactions are found by
 * Call-ID and CSeq number, then matched by RFC 3261 §17.2.3 (branch + sent-by +
 * method) or, for a branch without the magic cookie, by RFC 2543's rules; client
 * transactions by their branch and CSeq method (§17.1.3). */
#include "sip/tsx.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "core/hash.h"
#include "core/log.h"
#include "core/mem.h"
#include "sip/dialog.h"
#include "sip/print.h"
#include "sip/transport.h"

enum stsx_state { S_TRYING, S_PROCEEDING, S_COMPLETED, S_CONFIRMED, S_ACCEPTED, S_TERMINATED };
enum ctsx_state { C_CALLING, C_PROCEEDING, C_COMPLETED, C_ACCEPTED, C_TERMINATED };

struct sip_tsx_layer {
	struct tmr_heap *th;
	struct sip_tsx_timers tm;
	sip_tsx_send_h *send;
	void *arg;
	struct hash stsx; /* by branch (RFC 3261) or Call-ID+CSeq (RFC 2543) */
	struct hash inv;  /* INVITE server transactions by Call-ID+CSeq, for the ACK of a 2xx */
	struct hash dlg;  /* server transactions of requests without a To tag, by Call-ID+CSeq,
			   * for merged requests (§8.2.2.2) */
	struct hash ctsx;
	struct list stream; /* client transactions over streams, for transport errors */
	uint64_t seq;       /* client transactions created so far */
	size_t count, max;
	uint64_t rnd;
};

/* What matching a request to a server transaction reads (RFC 3261 §17.2.3, and
 * the RFC 2543 fallback), copied out of the request: the request itself, some
 * kilobytes, goes once the final response is sent, while the transaction lives on
 * for 32 s to absorb retransmissions (thousands of them after a storm of
 * REGISTERs). */
struct stsx_key {
	uint32_t cseq;
	enum sip_method mid;
	uint16_t via_port;
	struct pl method, callid, branch, via_host, via_val, from_tag, to_tag, ruri;
};

struct sip_stsx {
	struct le le, ile, dle;
	struct sip_tsx_layer *l;
	struct sip_msg *req; /* until the final response; NULL after */
	struct stsx_key *key;
	struct sip_peer src; /* where responses go (holds a reference to the connection) */
	enum stsx_state state;
	bool invite, reliable;
	struct mbuf *resp; /* the last response sent, for retransmissions */
	uint16_t code;
	struct tmr t_retx, t_end; /* G (or 2xx retransmission) and H/I/J/L */
	uint32_t interval;
	char totag[20];
	sip_stsx_cancel_h *cancel_h;
	void *cancel_arg;
};

struct sip_ctsx {
	struct le le, sle;
	struct sip_tsx_layer *l;
	uint64_t seq;
	struct sip_msg *req;
	struct mbuf *bytes, *ack;
	struct sip_peer dst;
	enum ctsx_state state;
	bool invite, reliable;
	bool cancelled; /* Timer C fired or the TU cancelled: CANCEL sent (or pending) */
	char *cancel_extra; /* the TU's CANCEL, waiting for a provisional (§9.1) */
	struct tmr t_retx, t_end; /* A/E and B/F/C/D/K/M */
	uint32_t interval;
	sip_ctsx_resp_h *h;
	void *arg;
};

static uint64_t rnd_next(struct sip_tsx_layer *l)
{
	/* xorshift64*: tags and branches need to be unique and unguessable enough to
	 * resist blind spoofing; the seed comes from getrandom(). */
	l->rnd ^= l->rnd >> 12;
	l->rnd ^= l->rnd << 25;
	l->rnd ^= l->rnd >> 27;
	return l->rnd * 2685821657736338717ull;
}

void sip_branch_new(char *buf, size_t size)
{
	uint64_t r[2];
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r[0] = r[1] = (uint64_t)(uintptr_t)buf ^ (uint64_t)size;
	snprintf(buf, size, "z9hG4bK%016llx%08llx", (unsigned long long)r[0], (unsigned long long)(r[1] & 0xffffffffu));
}

/* RFC 3261 §17.2.3 matches on the branch, so that is the key: requests sharing a
 * Call-ID and CSeq cannot pile into one bucket. Branches without the magic
 * cookie fall back to the RFC 2543 fields. */
static uint32_t dlg_key(const struct sip_msg *m)
{
	return pl_hash(&m->callid, 0) ^ m->cseq.num;
}

static uint32_t skey(const struct sip_msg *m)
{
	return sip_branch_is_3261(&m->via.branch) ? pl_hash(&m->via.branch, 0) : dlg_key(m);
}

static int send_mb(struct sip_tsx_layer *l, const struct sip_peer *dst, const struct mbuf *mb)
{
	return l->send(dst, mb, l->arg);
}

/* ---------------- server transactions ---------------- */

static void stsx_destroy(void *data)
{
	struct sip_stsx *t = data;
	tmr_cancel(&t->t_retx);
	tmr_cancel(&t->t_end);
	mem_deref(t->req);
	mem_deref(t->key);
	mem_deref(t->src.conn);
	mem_deref(t->resp);
}

/* One allocation: the key and the bytes its slices point to. */
static struct stsx_key *key_new(const struct sip_msg *m)
{
	const struct pl *src[] = { &m->method, &m->callid, &m->via.branch, &m->via.host, &m->via.val,
				   &m->from.tag, &m->to.tag, &m->ruri_raw };
	size_t need = sizeof(struct stsx_key);
	for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++)
		need += src[i]->l;
	struct stsx_key *k = mem_zalloc(need, NULL);
	if (!k)
		return NULL;
	struct pl *dst[] = { &k->method, &k->callid, &k->branch, &k->via_host, &k->via_val, &k->from_tag,
			     &k->to_tag, &k->ruri };
	char *p = (char *)(k + 1);
	for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
		if (src[i]->l)
			memcpy(p, src[i]->p, src[i]->l);
		*dst[i] = (struct pl){ p, src[i]->l };
		p += src[i]->l;
	}
	k->cseq = m->cseq.num;
	k->mid = m->mid;
	k->via_port = m->via.port;
	return k;
}

static void stsx_terminate(struct sip_stsx *t)
{
	if (t->state == S_TERMINATED)
		return;
	t->state = S_TERMINATED;
	tmr_cancel(&t->t_retx);
	tmr_cancel(&t->t_end);
	list_unlink(&t->le);
	list_unlink(&t->ile);
	list_unlink(&t->dle);
	t->l->count--;
	mem_deref(t);
}

enum match { M_NONE, M_SAME, M_ACK2XX };

static enum match stsx_match(const struct sip_stsx *t, const struct sip_msg *req, bool cancel)
{
	const struct stsx_key *o = t->key;
	if (req->cseq.num != o->cseq || !pl_eq(&req->callid, &o->callid))
		return M_NONE;
	bool ack = req->mid == SIP_ACK;
	if (cancel || ack) {
		if (o->mid != SIP_INVITE)
			return M_NONE;
	} else if (!pl_eq(&req->method, &o->method)) {
		return M_NONE;
	}
	/* The ACK of a 2xx is its own transaction (new branch), matched by dialog. */
	if (ack && t->state == S_ACCEPTED)
		return pl_eq_str(&req->to.tag, t->totag) || (o->to_tag.l && pl_eq(&req->to.tag, &o->to_tag))
		       ? M_ACK2XX : M_NONE;
	if (sip_branch_is_3261(&req->via.branch))
		return pl_eq(&req->via.branch, &o->branch) && pl_caseeq(&req->via.host, &o->via_host) &&
		       req->via.port == o->via_port ? M_SAME : M_NONE;
	/* RFC 3261 §17.2.3, the RFC 2543 fallback */
	if (!pl_eq(&req->from.tag, &o->from_tag) || !pl_eq(&req->via.val, &o->via_val))
		return M_NONE;
	/* The ACK too: §17.2.3 lists the Request-URI among what it must share. */
	if (!pl_eq(&req->ruri_raw, &o->ruri))
		return M_NONE;
	if (ack)
		return pl_eq_str(&req->to.tag, t->totag) || pl_eq(&req->to.tag, &o->to_tag) ? M_SAME : M_NONE;
	return pl_eq(&req->to.tag, &o->to_tag) ? M_SAME : M_NONE;
}

static struct sip_stsx *stsx_find(struct sip_tsx_layer *l, const struct sip_msg *req, bool cancel, enum match *m)
{
	LIST_FOREACH(hash_bucket(&l->stsx, skey(req)), le) {
		struct sip_stsx *t = le->data;
		if ((*m = stsx_match(t, req, cancel)) != M_NONE)
			return t;
	}
	/* The ACK of a 2xx has a branch of its own: find its INVITE by dialog. */
	if (req->mid == SIP_ACK) {
		LIST_FOREACH(hash_bucket(&l->inv, dlg_key(req)), le) {
			struct sip_stsx *t = le->data;
			if ((*m = stsx_match(t, req, false)) == M_ACK2XX)
				return t;
		}
	}
	*m = M_NONE;
	return NULL;
}

static void stsx_end_h(void *arg)
{
	struct sip_stsx *t = arg;
	if (t->state == S_COMPLETED && t->invite)
		log_debug("tsx: no ACK for %u to INVITE (timer H)", t->code);
	stsx_terminate(t);
}

static void stsx_retx_h(void *arg)
{
	struct sip_stsx *t = arg;
	send_mb(t->l, &t->src, t->resp);
	t->interval = t->interval * 2 < t->l->tm.t2 ? t->interval * 2 : t->l->tm.t2;
	tmr_start(t->l->th, &t->t_retx, t->interval, stsx_retx_h, t);
}

bool sip_tsx_request_absorb(struct sip_tsx_layer *l, const struct sip_msg *req)
{
	enum match m;
	struct sip_stsx *t = stsx_find(l, req, false, &m);
	if (!t)
		return false;
	if (m == M_ACK2XX) {
		tmr_cancel(&t->t_retx);
		return false;
	}
	if (req->mid == SIP_ACK) {
		if (t->state == S_COMPLETED) {
			/* §17.2.1: Confirmed, Timer I absorbs further ACKs */
			t->state = S_CONFIRMED;
			tmr_cancel(&t->t_retx);
			tmr_start(l->th, &t->t_end, t->reliable ? 0 : l->tm.t4, stsx_end_h, t);
		}
		return true;
	}
	/* A retransmitted request: send the last response again. */
	if (t->resp)
		send_mb(l, &req->src, t->resp);
	return true;
}

bool sip_tsx_request_merged(struct sip_tsx_layer *l, const struct sip_msg *req)
{
	if (!req->req || req->to.tag.l || !req->from.tag.l || req->mid == SIP_ACK || req->mid == SIP_CANCEL)
		return false;
	LIST_FOREACH(hash_bucket(&l->dlg, dlg_key(req)), le) {
		const struct sip_stsx *t = le->data;
		const struct stsx_key *k = t->key;
		if (k->cseq == req->cseq.num && pl_eq(&k->callid, &req->callid) &&
		    pl_eq(&k->from_tag, &req->from.tag) && pl_eq(&k->method, &req->cseq.method) &&
		    stsx_match(t, req, false) == M_NONE)
			return true;
	}
	return false;
}

struct sip_stsx *sip_tsx_cancel_target(struct sip_tsx_layer *l, const struct sip_msg *cancel)
{
	enum match m;
	struct sip_stsx *t = stsx_find(l, cancel, true, &m);
	return t && m == M_SAME ? t : NULL;
}

int sip_stsx_alloc(struct sip_stsx **tp, struct sip_tsx_layer *l, struct sip_msg *req)
{
	if (!req->req || req->mid == SIP_ACK)
		return EINVAL;
	if (l->count >= l->max)
		return EAGAIN;
	struct sip_stsx *t = mem_zalloc(sizeof(*t), stsx_destroy);
	if (!t)
		return ENOMEM;
	t->l = l;
	t->key = key_new(req);
	if (!t->key) {
		mem_deref(t);
		return ENOMEM;
	}
	t->req = mem_ref(req);
	t->src = req->src;
	t->src.conn = mem_ref(req->src.conn);
	t->invite = req->mid == SIP_INVITE;
	t->reliable = req->src.tp != SIP_TP_UDP;
	t->state = t->invite ? S_PROCEEDING : S_TRYING;
	snprintf(t->totag, sizeof(t->totag), "%016llx", (unsigned long long)rnd_next(l));
	hash_insert(&l->stsx, skey(req), &t->le, t);
	if (t->invite)
		hash_insert(&l->inv, dlg_key(req), &t->ile, t);
	if (!req->to.tag.l && req->from.tag.l)
		hash_insert(&l->dlg, dlg_key(req), &t->dle, t);
	l->count++;
	*tp = t;
	if (t->invite) {
		int err = sip_stsx_reply(t, 100, NULL, NULL, NULL, NULL);
		if (err) {
			/* The caller takes an error to mean "no transaction" and forgets t,
			 * which would then stay in the layer with no timer to end it and
			 * absorb every retransmission of the INVITE. */
			stsx_terminate(t);
			*tp = NULL;
		}
		return err;
	}
	return 0;
}

int sip_stsx_reply(struct sip_stsx *t, uint16_t scode, const char *reason, const char *extra,
		   const char *ctype, const struct pl *body)
{
	struct sip_tsx_layer *l = t->l;
	if (t->state != S_TRYING && t->state != S_PROCEEDING)
		return EALREADY;
	if (scode < 100 || scode > 699)
		return EINVAL;
	struct mbuf *mb = mbuf_alloc(512, SIP_MSG_MAX_SIZE);
	if (!mb)
		return ENOMEM;
	int err = sip_print_response(mb, t->req, scode, reason, t->totag, extra, ctype, body);
	if (err) {
		mem_deref(mb);
		return err;
	}
	mem_deref(t->resp);
	t->resp = mb;
	t->code = scode;
	err = send_mb(l, &t->src, mb);

	if (scode < 200) {
		t->state = S_PROCEEDING;
		return err;
	}
	/* Final: what is left to do (absorb retransmissions, resend this answer,
	 * match the ACK) needs the key, the source and these bytes, not the request. */
	t->req = mem_deref(t->req);
	mbuf_trim(mb);
	t->interval = l->tm.t1;
	if (!t->invite) {
		/* §17.2.2: Completed, Timer J absorbs retransmissions */
		t->state = S_COMPLETED;
		tmr_start(l->th, &t->t_end, t->reliable ? 0 : 64u * l->tm.t1, stsx_end_h, t);
		return err;
	}
	/* §17.2.1 and RFC 6026 §7.1: non-2xx waits for its ACK (G, H); a 2xx is
	 * Accepted and retransmitted until the ACK arrives or Timer L fires. */
	t->state = scode < 300 ? S_ACCEPTED : S_COMPLETED;
	/* A 2xx is retransmitted over any transport (RFC 3261 §13.3.1.4): a UDP hop
	 * further along the path may have lost it, and only the ACK ends it. */
	if (!t->reliable || t->state == S_ACCEPTED)
		tmr_start(l->th, &t->t_retx, t->interval, stsx_retx_h, t);
	tmr_start(l->th, &t->t_end, 64u * l->tm.t1, stsx_end_h, t);
	return err;
}

void sip_stsx_cancel_handler_set(struct sip_stsx *t, sip_stsx_cancel_h *h, void *arg)
{
	t->cancel_h = h;
	t->cancel_arg = arg;
}

void sip_stsx_cancel(struct sip_stsx *t, const char *extra)
{
	if (t->cancel_h) {
		sip_stsx_cancel_h *h = t->cancel_h;
		t->cancel_h = NULL;
		h(t, t->cancel_arg);
		return;
	}
	/* §9.2: without a TU that wants to know, the request ends with 487. */
	if (!sip_stsx_is_final(t))
		sip_stsx_reply(t, 487, NULL, extra, NULL, NULL);
}

const struct sip_msg *sip_stsx_request(const struct sip_stsx *t) { return t->req; }
const char *sip_stsx_totag(const struct sip_stsx *t) { return t->totag; }
bool sip_stsx_is_final(const struct sip_stsx *t) { return t->state > S_PROCEEDING; }

/* ---------------- client transactions ---------------- */

static void ctsx_destroy(void *data)
{
	struct sip_ctsx *t = data;
	tmr_cancel(&t->t_retx);
	tmr_cancel(&t->t_end);
	mem_deref(t->req);
	mem_deref(t->cancel_extra);
	mem_deref(t->bytes);
	mem_deref(t->ack);
	mem_deref(t->dst.conn);
}

static void ctsx_terminate(struct sip_ctsx *t)
{
	if (t->state == C_TERMINATED)
		return;
	t->state = C_TERMINATED;
	tmr_cancel(&t->t_retx);
	tmr_cancel(&t->t_end);
	list_unlink(&t->le);
	list_unlink(&t->sle);
	t->l->count--;
	mem_deref(t);
}

static void ctsx_notify(struct sip_ctsx *t, int err, const struct sip_msg *resp, bool last)
{
	sip_ctsx_resp_h *h = t->h;
	if (last)
		t->h = NULL;
	if (h)
		h(err, resp, t->arg);
}

static void ctsx_end_h(void *arg)
{
	struct sip_ctsx *t = arg;
	if (t->state == C_CALLING || t->state == C_PROCEEDING) /* Timer B or F */
		ctsx_notify(t, ETIMEDOUT, NULL, true);
	ctsx_terminate(t);
}

/* The TU's CANCEL, once a provisional has come. The INVITE then waits 64*T1
 * for its final response (§9.1), whose arrival the TU still hears. */
static void cancel_send(struct sip_ctsx *t)
{
	struct sip_tsx_layer *l = t->l;
	struct mbuf *mb = mbuf_alloc(512, SIP_MSG_MAX_SIZE);
	if (mb && sip_print_cancel(mb, t->req, t->cancel_extra[0] ? t->cancel_extra : NULL) == 0)
		sip_ctsx_send(NULL, l, &t->dst, mb, NULL, NULL);
	mem_deref(mb);
	t->cancel_extra = mem_deref(t->cancel_extra);
	tmr_start(l->th, &t->t_end, 64u * l->tm.t1, ctsx_end_h, t);
}

void sip_ctsx_ack_2xx(struct sip_ctsx *t, struct mbuf *ack)
{
	if (!t || !t->invite || t->state != C_ACCEPTED || t->ack)
		return;
	t->h = NULL;
	t->ack = mem_ref(ack);
	send_mb(t->l, &t->dst, ack);
}

void sip_ctsx_cancel(struct sip_ctsx *t, const char *extra)
{
	if (!t || !t->invite || t->cancelled || (t->state != C_CALLING && t->state != C_PROCEEDING))
		return;
	t->cancelled = true;
	t->cancel_extra = mem_strndup(extra ? extra : "", extra ? strlen(extra) : 0);
	if (!t->cancel_extra)
		return; /* no memory: the INVITE runs to its own end */
	if (t->state == C_PROCEEDING)
		cancel_send(t);
}

/* Timer C (RFC 3261 §16.6 item 11, §16.7 item 11): a provisional came, then
 * nothing final. The request is CANCELled (a client transaction of its own that
 * nobody hears), the TU is told ETIME, and the INVITE waits 64*T1 for the 487 to
 * ACK it (§9.1) before it is taken as cancelled. */
static void ctsx_timer_c(void *arg)
{
	struct sip_ctsx *t = arg;
	struct sip_tsx_layer *l = t->l;
	log_debug("tsx: no final response to INVITE in %u ms after a provisional (timer C): CANCEL", l->tm.c);
	t->cancelled = true;
	struct mbuf *mb = mbuf_alloc(512, SIP_MSG_MAX_SIZE);
	if (mb && sip_print_cancel(mb, t->req, NULL) == 0)
		sip_ctsx_send(NULL, l, &t->dst, mb, NULL, NULL);
	mem_deref(mb);
	tmr_start(l->th, &t->t_end, 64u * l->tm.t1, ctsx_end_h, t);
	ctsx_notify(t, ETIME, NULL, true);
}

static void ctsx_retx_h(void *arg)
{
	struct sip_ctsx *t = arg;
	struct sip_tsx_layer *l = t->l;
	if (send_mb(l, &t->dst, t->bytes)) {
		ctsx_notify(t, EIO, NULL, true);
		ctsx_terminate(t);
		return;
	}
	/* Timer A doubles without bound; Timer E is capped at T2 (§17.1.2.2). */
	if (t->state == C_PROCEEDING)
		t->interval = l->tm.t2;
	else
		t->interval = t->invite || t->interval * 2 < l->tm.t2 ? t->interval * 2 : l->tm.t2;
	tmr_start(l->th, &t->t_retx, t->interval, ctsx_retx_h, t);
}

int sip_ctsx_send(struct sip_ctsx **tp, struct sip_tsx_layer *l, const struct sip_peer *dst,
		  struct mbuf *req, sip_ctsx_resp_h *h, void *arg)
{
	struct sip_perr perr;
	struct sip_msg *msg;
	if (sip_msg_parse(&msg, (const char *)req->buf, req->end, 0, &perr)) {
		mem_deref(msg);
		return EINVAL;
	}
	if (!msg->req || msg->mid == SIP_ACK || !sip_branch_is_3261(&msg->via.branch)) {
		mem_deref(msg);
		return EINVAL;
	}
	struct sip_ctsx *t = mem_zalloc(sizeof(*t), ctsx_destroy);
	if (!t) {
		mem_deref(msg);
		return ENOMEM;
	}
	t->l = l;
	t->req = msg;
	t->bytes = mem_ref(req);
	t->dst = *dst;
	t->dst.conn = mem_ref(dst->conn);
	t->invite = msg->mid == SIP_INVITE;
	t->reliable = dst->tp != SIP_TP_UDP;
	t->h = h;
	t->arg = arg;
	t->state = C_CALLING;
	t->interval = l->tm.t1;
	int err = send_mb(l, &t->dst, req);
	if (err) {
		mem_deref(t);
		return err;
	}
	hash_insert(&l->ctsx, pl_hash(&msg->via.branch, 0), &t->le, t);
	if (t->reliable)
		list_append(&l->stream, &t->sle, t);
	t->seq = ++l->seq;
	l->count++;
	if (!t->reliable)
		tmr_start(l->th, &t->t_retx, t->interval, ctsx_retx_h, t);
	tmr_start(l->th, &t->t_end, 64u * l->tm.t1, ctsx_end_h, t);
	if (tp)
		*tp = t;
	return 0;
}

void sip_ctsx_abandon(struct sip_ctsx *t)
{
	if (t)
		t->h = NULL;
}

/* A 2xx nobody wants any more (the TU cancelled and let go, and the answer
 * crossed the CANCEL): RFC 3261 §15 and §9.1 ask the UAC to ACK it and end the
 * session with a BYE, which goes along the same flow as the INVITE. The ACK is
 * kept for the 2xx's retransmissions. */
static void ctsx_orphan_2xx(struct sip_ctsx *t, const struct sip_msg *resp)
{
	const struct sip_msg *req = t->req;
	char from[1024], to[1024], callid[256], tag[128], target[1024], tp[16], sentby[256], branch[48];
	if (!req->from.tag.l || req->from.tag.l >= sizeof(tag) || req->callid.l >= sizeof(callid) ||
	    req->via.transport.l >= sizeof(tp) || req->via.sentby.l >= sizeof(sentby) ||
	    req->ruri_raw.l >= sizeof(target))
		return;
	snprintf(from, sizeof(from), "<%.*s>", (int)req->from.auri.l, req->from.auri.p);
	snprintf(to, sizeof(to), "<%.*s>", (int)req->to.auri.l, req->to.auri.p);
	pl_strcpy(&req->callid, callid, sizeof(callid));
	pl_strcpy(&req->from.tag, tag, sizeof(tag));
	pl_strcpy(&req->ruri_raw, target, sizeof(target));
	pl_strcpy(&req->via.transport, tp, sizeof(tp));
	pl_strcpy(&req->via.sentby, sentby, sizeof(sentby));
	struct sip_dialog *d = NULL;
	struct mbuf *ack = mbuf_alloc(512, SIP_MSG_MAX_SIZE), *bye = mbuf_alloc(512, SIP_MSG_MAX_SIZE);
	int err = !ack || !bye ? ENOMEM
			       : sip_dialog_uac_alloc(&d, callid, from, tag, to, target, req->cseq.num, NULL);
	if (!err)
		err = sip_dialog_uac_update(d, resp);
	if (!err) {
		sip_branch_new(branch, sizeof(branch));
		err = sip_dialog_request_print(ack, d, "ACK", tp, sentby, branch, req->cseq.num, NULL, NULL, NULL);
	}
	if (!err) {
		sip_branch_new(branch, sizeof(branch));
		err = sip_dialog_request_print(bye, d, "BYE", tp, sentby, branch, 0, NULL, NULL, NULL);
	}
	if (!err) {
		log_debug("tsx: a 2xx answered an INVITE nobody wants any more: ACK and BYE");
		t->ack = mem_ref(ack);
		send_mb(t->l, &t->dst, ack);
		sip_ctsx_send(NULL, t->l, &t->dst, bye, NULL, NULL);
	}
	mem_deref(d);
	mem_deref(ack);
	mem_deref(bye);
}

static void ctsx_final(struct sip_ctsx *t, const struct sip_msg *resp)
{
	struct sip_tsx_layer *l = t->l;
	tmr_cancel(&t->t_retx);
	if (t->invite && resp->scode < 300) {
		/* RFC 6026 §8.4: Accepted, 2xx retransmissions still reach the TU (Timer M). */
		t->state = C_ACCEPTED;
		tmr_start(l->th, &t->t_end, 64u * l->tm.t1, ctsx_end_h, t);
		if (!t->h)
			ctsx_orphan_2xx(t, resp);
		else
			ctsx_notify(t, 0, resp, false);
		return;
	}
	if (t->invite) {
		/* §17.1.1.3: ACK the non-2xx final ourselves, then Timer D */
		t->ack = mbuf_alloc(512, SIP_MSG_MAX_SIZE);
		if (t->ack && sip_print_ack(t->ack, t->req, resp) == 0)
			send_mb(l, &t->dst, t->ack);
		t->state = C_COMPLETED;
		tmr_start(l->th, &t->t_end, t->reliable ? 0 : 32000, ctsx_end_h, t);
	} else {
		t->state = C_COMPLETED; /* Timer K */
		tmr_start(l->th, &t->t_end, t->reliable ? 0 : l->tm.t4, ctsx_end_h, t);
	}
	ctsx_notify(t, 0, resp, true);
}

bool sip_tsx_branch_ours(struct sip_tsx_layer *l, const struct pl *branch)
{
	LIST_FOREACH(hash_bucket(&l->ctsx, pl_hash(branch, 0)), le) {
		const struct sip_ctsx *c = le->data;
		if (pl_eq(&c->req->via.branch, branch))
			return true;
	}
	return false;
}

bool sip_tsx_response(struct sip_tsx_layer *l, const struct sip_msg *resp)
{
	struct sip_ctsx *t = NULL;
	LIST_FOREACH(hash_bucket(&l->ctsx, pl_hash(&resp->via.branch, 0)), le) {
		struct sip_ctsx *c = le->data;
		if (pl_eq(&c->req->via.branch, &resp->via.branch) && pl_eq(&c->req->cseq.method, &resp->cseq.method)) {
			t = c;
			break;
		}
	}
	if (!t)
		return false;
	switch (t->state) {
	case C_CALLING:
	case C_PROCEEDING:
		if (resp->scode < 200) {
			if (t->state == C_CALLING && t->invite) {
				/* §17.1.1.2: no retransmissions once a provisional arrived */
				tmr_cancel(&t->t_retx);
				tmr_cancel(&t->t_end);
			}
			/* Timer C runs from the last provisional, in place of Timer B. */
			if (t->invite && !t->cancelled)
				tmr_start(l->th, &t->t_end, l->tm.c, ctsx_timer_c, t);
			else if (t->cancel_extra && t->state == C_CALLING)
				cancel_send(t);
			t->state = C_PROCEEDING;
			ctsx_notify(t, 0, resp, false);
		} else {
			ctsx_final(t, resp);
		}
		break;
	case C_COMPLETED:
		if (t->invite && resp->scode >= 300 && t->ack)
			send_mb(l, &t->dst, t->ack); /* the final was retransmitted: ACK again */
		break;
	case C_ACCEPTED:
		if (resp->scode >= 200 && resp->scode < 300) {
			if (t->ack)
				send_mb(l, &t->dst, t->ack); /* the TU's ACK was lost: again */
			else
				ctsx_notify(t, 0, resp, false);
		}
		break;
	default:
		break;
	}
	return true;
}

/* Whether t's requests go where p failed, as sip_transport_send chooses: over
 * t's connection while it is open, else over one to its address (or to the
 * re-connect port on that address). */
static bool ctsx_over(const struct sip_ctsx *t, const struct sip_peer *p)
{
	if (t->dst.tp != p->tp)
		return false;
	if (p->conn && t->dst.conn == p->conn)
		return true;
	if (sip_conn_is_open(t->dst.conn))
		return false;
	struct sa addr = t->dst.addr;
	if (t->dst.conn && t->dst.reconnect_port)
		sa_set_port(&addr, t->dst.reconnect_port);
	return sa_eq(&addr, &p->addr);
}

void sip_tsx_transport_error(struct sip_tsx_layer *l, const struct sip_peer *p, int err)
{
	/* A handler may start or end other transactions (even send anew to the same
	 * address, over a new connection): look again from the head after each, and
	 * leave alone what was started after the failure. */
	uint64_t upto = l->seq;
	for (;;) {
		struct sip_ctsx *hit = NULL;
		LIST_FOREACH(&l->stream, le) {
			struct sip_ctsx *t = le->data;
			if (t->seq <= upto && (t->state == C_CALLING || t->state == C_PROCEEDING) && ctsx_over(t, p)) {
				hit = t;
				break;
			}
		}
		if (!hit)
			return;
		char a[64];
		log_debug("tsx: %.*s to %s: transport error: %s", (int)hit->req->method.l, hit->req->method.p,
			  sa_str(&p->addr, a, sizeof(a)), strerror(err));
		ctsx_notify(hit, err ? err : EIO, NULL, true);
		ctsx_terminate(hit);
	}
}

/* ---------------- layer ---------------- */

int sip_tsx_layer_alloc(struct sip_tsx_layer **lp, struct tmr_heap *th, const struct sip_tsx_timers *tm,
			sip_tsx_send_h *send, void *arg)
{
	struct sip_tsx_layer *l = calloc(1, sizeof(*l));
	if (!l)
		return ENOMEM;
	if (hash_init(&l->stsx, 4096) || hash_init(&l->inv, 4096) || hash_init(&l->dlg, 4096) ||
	    hash_init(&l->ctsx, 4096)) {
		hash_close(&l->stsx);
		hash_close(&l->inv);
		hash_close(&l->dlg);
		free(l);
		return ENOMEM;
	}
	l->th = th;
	l->max = SIZE_MAX;
	l->tm = tm ? *tm : (struct sip_tsx_timers){ 500, 4000, 5000, 0 };
	if (!l->tm.c)
		l->tm.c = SIP_TSX_TIMER_C;
	l->send = send;
	l->arg = arg;
	if (getrandom(&l->rnd, sizeof(l->rnd), 0) != (ssize_t)sizeof(l->rnd) || !l->rnd)
		l->rnd = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)l;
	*lp = l;
	return 0;
}

static void terminate_all(struct hash *h, bool server)
{
	for (uint32_t i = 0; i <= h->mask; i++) {
		while (h->buckets[i].head) {
			void *t = h->buckets[i].head->data;
			if (server)
				stsx_terminate(t);
			else
				ctsx_terminate(t);
		}
	}
}

void sip_tsx_layer_free(struct sip_tsx_layer *l)
{
	if (!l)
		return;
	terminate_all(&l->stsx, true);
	terminate_all(&l->ctsx, false);
	hash_close(&l->stsx);
	hash_close(&l->inv);
	hash_close(&l->dlg);
	hash_close(&l->ctsx);
	free(l);
}

void sip_tsx_layer_max_set(struct sip_tsx_layer *l, size_t max)
{
	l->max = max ? max : SIZE_MAX;
}

size_t sip_tsx_layer_count(const struct sip_tsx_layer *l)
{
	return l->count;
}
