/* Offer/answer for one leg (RFC 3264): answering a remote offer against our
 * capabilities, building our own offer, taking the remote answer to it, and
 * printing our side. The results are copies (struct sdp_neg), independent of the
 * parsed SDP they came from. */
#include "sdp/sdp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static const char *const default_protos[] = { "RTP/AVP", NULL };

static void pl_copy(char *dst, size_t size, const struct pl *pl)
{
	if (pl->p)
		pl_strcpy(pl, dst, size);
	else
		dst[0] = '\0';
}

static uint8_t chans(uint8_t c)
{
	return c ? c : 1;
}

static bool is_te(const char *name)
{
	return strcasecmp(name, "telephone-event") == 0;
}

/* Same codec: encoding name (case-insensitive, §6.6), clock and channels. */
static bool fmt_matches(const struct sdp_fmt *f, const struct sdp_codec *cap)
{
	return f->name.p && pl_caseeq_str(&f->name, cap->name) && f->clock == cap->clock &&
	       chans(f->channels) == chans(cap->channels);
}

static void codec_from_fmt(struct sdp_codec *out, const struct sdp_fmt *f, const struct sdp_codec *cap)
{
	memset(out, 0, sizeof(*out));
	out->pt = (uint8_t)f->pt;
	pl_copy(out->name, sizeof(out->name), &f->name);
	out->clock = f->clock;
	out->channels = chans(f->channels);
	/* Our fmtp: in an answer it states what we receive (e.g. telephone-event 0-16). */
	snprintf(out->fmtp, sizeof(out->fmtp), "%s", cap->fmtp);
}

/* The remote media address: the section's c= or the session's, and the m= port. */
static void remote_set(struct sdp_stream *st, const struct sdp_session *s, const struct sdp_media *m)
{
	const struct sdp_conn *conn = m->has_conn ? &m->conn : &s->conn;
	memset(&st->remote, 0, sizeof(st->remote));
	memset(&st->remote_rtcp, 0, sizeof(st->remote_rtcp));
	if (!m->has_conn && !s->has_conn)
		return;
	if (!conn->af) /* the parser refuses such a c=; a hand-built session may not */
		return;
	st->remote = conn->sa;
	sa_set_port(&st->remote, m->port);
	st->rtcp_mux = st->rtcp_mux && m->rtcp_mux;
	if (st->rtcp_mux) {
		st->remote_rtcp = st->remote;
	} else if (m->rtcp_port && m->rtcp_conn.addr.p) {
		if (m->rtcp_conn.af) {
			st->remote_rtcp = m->rtcp_conn.sa;
			sa_set_port(&st->remote_rtcp, m->rtcp_port);
		}
	} else {
		st->remote_rtcp = st->remote;
		sa_set_port(&st->remote_rtcp, m->rtcp_port ? m->rtcp_port : (uint16_t)(m->port + 1));
	}
}

/* A value from the section's attribute, else the session's (ICE and DTLS terms
 * may be written at either level). */
static void term_copy(char *dst, size_t size, const struct pl *media_val, const struct sdp_session *s,
		      const char *name)
{
	const struct pl *v = media_val;
	const struct sdp_attr *a = NULL;
	if (!v->p && (a = sdp_attr_find(s->attrs, s->nattrs, name)) != NULL)
		v = &a->val;
	if (v->p && v->l < size)
		pl_copy(dst, size, v);
	else
		dst[0] = '\0';
}

static void secure_take(struct sdp_stream *st, const struct sdp_session *s, const struct sdp_media *m)
{
	st->secure = pl_eq_str(&m->proto, "UDP/TLS/RTP/SAVPF") || pl_eq_str(&m->proto, "UDP/TLS/RTP/SAVP");
	term_copy(st->mid, sizeof(st->mid), &m->mid, s, "mid");
	term_copy(st->r_ufrag, sizeof(st->r_ufrag), &m->ice_ufrag, s, "ice-ufrag");
	term_copy(st->r_pwd, sizeof(st->r_pwd), &m->ice_pwd, s, "ice-pwd");
	term_copy(st->r_fp, sizeof(st->r_fp), &m->fingerprint, s, "fingerprint");
	term_copy(st->r_setup, sizeof(st->r_setup), &m->setup, s, "setup");
}

static bool proto_ok(const struct sdp_caps *caps, const struct pl *proto)
{
	for (const char *const *p = caps->protos ? caps->protos : default_protos; *p; p++) {
		if (pl_eq_str(proto, *p))
			return true;
	}
	return false;
}

static void stream_reject(struct sdp_stream *st)
{
	st->rejected = true;
	st->ncodecs = 0;
	st->te_pt = -1;
	st->local_port = 0;
	st->dir = SDP_INACTIVE;
}

enum sdp_dir sdp_dir_reverse(enum sdp_dir d)
{
	return (enum sdp_dir)(((d & SDP_SENDONLY) ? SDP_RECVONLY : 0) |
			      ((d & SDP_RECVONLY) ? SDP_SENDONLY : 0));
}

/* The telephone-event format to keep: the one at the chosen codec's clock,
 * else the first we share (RFC 4733 §2.1: its clock should match the audio's). */
static void te_choose(struct sdp_stream *st, const struct sdp_media *m, const struct sdp_codec *caps,
		      unsigned ncaps)
{
	st->te_pt = -1;
	for (unsigned i = 0; i < m->nfmts; i++) {
		const struct sdp_fmt *f = &m->fmts[i];
		for (unsigned j = 0; j < ncaps; j++) {
			if (!is_te(caps[j].name) || !fmt_matches(f, &caps[j]))
				continue;
			bool better = st->te_pt < 0 || (st->ncodecs && f->clock == st->codecs[0].clock &&
							 st->te.clock != st->codecs[0].clock);
			if (better) {
				codec_from_fmt(&st->te, f, &caps[j]);
				st->te_pt = f->pt;
			}
		}
	}
}

static void stream_answer(struct sdp_stream *st, const struct sdp_session *s, const struct sdp_media *m,
			  const struct sdp_caps *caps, enum sdp_dir hold)
{
	memset(st, 0, sizeof(*st));
	pl_copy(st->media, sizeof(st->media), &m->type);
	pl_copy(st->proto, sizeof(st->proto), &m->proto);
	pl_copy(st->fmt0, sizeof(st->fmt0), &m->fmts[0].id);
	st->te_pt = -1;
	const struct sdp_codec *cc = NULL;
	unsigned ncc = 0;
	if (pl_eq_str(&m->type, "audio")) {
		cc = caps->audio;
		ncc = caps->naudio;
	} else if (pl_eq_str(&m->type, "video")) {
		cc = caps->video;
		ncc = caps->nvideo;
	}
	if (m->port == 0 || !ncc || !proto_ok(caps, &m->proto)) {
		stream_reject(st);
		return;
	}
	/* §6.1: the offerer's order and payload types. */
	for (unsigned i = 0; i < m->nfmts && st->ncodecs < SDP_NEG_MAX_CODECS; i++) {
		for (unsigned j = 0; j < ncc; j++) {
			if (!is_te(cc[j].name) && fmt_matches(&m->fmts[i], &cc[j])) {
				codec_from_fmt(&st->codecs[st->ncodecs++], &m->fmts[i], &cc[j]);
				break;
			}
		}
	}
	if (!st->ncodecs) {
		stream_reject(st);
		return;
	}
	te_choose(st, m, cc, ncc);
	st->rtcp_mux = caps->rtcp_mux;
	remote_set(st, s, m);
	secure_take(st, s, m);
	st->dir = sdp_dir_reverse(m->dir) & hold;
	st->ptime = m->ptime ? m->ptime : caps->ptime;
}

int sdp_answer(struct sdp_neg *neg, const struct sdp_session *offer, const struct sdp_caps *caps,
	       enum sdp_dir hold, const char **reason)
{
	unsigned used = 0;
	if (offer->nmedia > SDP_NEG_MAX_STREAMS) {
		neg->nstreams = 0; /* nothing of an earlier negotiation is left to print */
		*reason = "too many media streams";
		return EPROTO;
	}
	neg->nstreams = offer->nmedia;
	for (unsigned i = 0; i < offer->nmedia; i++) {
		stream_answer(&neg->streams[i], offer, &offer->media[i], caps, hold);
		used += !neg->streams[i].rejected;
	}
	if (!used) {
		*reason = offer->nmedia ? "no common codec" : "no media in the offer";
		return EPROTO;
	}
	*reason = "";
	return 0;
}

static void stream_offer(struct sdp_stream *st, const char *media, const struct sdp_codec *cc,
			 unsigned ncc, const struct sdp_caps *caps, enum sdp_dir dir)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->media, sizeof(st->media), "%s", media);
	snprintf(st->proto, sizeof(st->proto), "%s", "RTP/AVP");
	st->te_pt = -1;
	for (unsigned j = 0; j < ncc; j++) {
		if (is_te(cc[j].name)) {
			if (st->te_pt < 0) {
				st->te = cc[j];
				st->te.channels = chans(st->te.channels);
				st->te_pt = cc[j].pt;
			}
		} else if (st->ncodecs < SDP_NEG_MAX_CODECS) {
			st->codecs[st->ncodecs] = cc[j];
			st->codecs[st->ncodecs].channels = chans(cc[j].channels);
			st->ncodecs++;
		}
	}
	st->rtcp_mux = caps->rtcp_mux;
	st->dir = dir;
	st->ptime = caps->ptime;
}

void sdp_offer(struct sdp_neg *neg, const struct sdp_caps *caps, bool video, enum sdp_dir dir)
{
	neg->nstreams = 0;
	stream_offer(&neg->streams[neg->nstreams++], "audio", caps->audio, caps->naudio, caps, dir);
	if (video && caps->nvideo)
		stream_offer(&neg->streams[neg->nstreams++], "video", caps->video, caps->nvideo, caps, dir);
}

/* One offered stream narrowed to the codecs the answer kept, in the answer's
 * order (§7: the answerer's preference). PTs are matched first, then, for an
 * answerer that renumbered a dynamic type, by name and clock. */
static int stream_take_answer(struct sdp_stream *st, const struct sdp_session *s,
			      const struct sdp_media *m, const char **reason)
{
	if (!pl_eq_str(&m->type, st->media)) {
		*reason = "answer m= line of another media type";
		return EBADMSG;
	}
	if (st->rejected || m->port == 0) {
		stream_reject(st);
		return 0;
	}
	struct sdp_codec offered[SDP_NEG_MAX_CODECS];
	unsigned noffered = st->ncodecs;
	memcpy(offered, st->codecs, sizeof(offered));
	struct sdp_codec te = st->te;
	bool te_offered = st->te_pt >= 0;
	st->ncodecs = 0;
	st->te_pt = -1;
	for (unsigned i = 0; i < m->nfmts; i++) {
		const struct sdp_fmt *f = &m->fmts[i];
		if (te_offered && fmt_matches(f, &te)) {
			if (st->te_pt < 0) {
				codec_from_fmt(&st->te, f, &te);
				st->te_pt = f->pt;
			}
			continue;
		}
		for (unsigned j = 0; j < noffered; j++) {
			bool same = (f->pt == offered[j].pt && !f->name.p) || fmt_matches(f, &offered[j]);
			if (same && st->ncodecs < SDP_NEG_MAX_CODECS) {
				struct sdp_codec *out = &st->codecs[st->ncodecs++];
				if (f->name.p)
					codec_from_fmt(out, f, &offered[j]);
				else /* an unmapped dynamic PT we offered: keep our name */
					*out = offered[j];
				out->pt = (uint8_t)f->pt;
				break;
			}
		}
	}
	if (!st->ncodecs) {
		*reason = "answer has no codec that was offered";
		return EBADMSG;
	}
	remote_set(st, s, m);
	char mid[sizeof(st->mid)];
	snprintf(mid, sizeof(mid), "%s", st->mid);
	secure_take(st, s, m);
	if (!st->mid[0]) /* an answer repeats the offer's mid; keep ours if it did not */
		snprintf(st->mid, sizeof(st->mid), "%s", mid);
	/* The answer's direction is the peer's; ours is its reverse, within what we offered. */
	st->dir = sdp_dir_reverse(m->dir) & st->dir;
	if (m->ptime)
		st->ptime = m->ptime;
	return 0;
}

int sdp_answer_process(struct sdp_neg *neg, const struct sdp_session *answer, const char **reason)
{
	*reason = "";
	if (answer->nmedia != neg->nstreams) {
		*reason = "answer has a different number of m= lines";
		return EBADMSG;
	}
	unsigned used = 0;
	for (unsigned i = 0; i < neg->nstreams; i++) {
		if (stream_take_answer(&neg->streams[i], answer, &answer->media[i], reason))
			return EBADMSG;
		used += !neg->streams[i].rejected;
	}
	if (!used) {
		*reason = "every stream rejected";
		return EBADMSG;
	}
	return 0;
}

int sdp_origin_init(struct sdp_origin *o, const char *user, const char *addr, uint64_t id)
{
	struct sa sa;
	memset(o, 0, sizeof(*o));
	/* sa_set takes "[v6]"; o= and c= want the address bare. */
	if (!addr || addr[0] == '[' || sa_set(&sa, addr, 0))
		return EINVAL;
	o->af = sa_af(&sa);
	snprintf(o->user, sizeof(o->user), "%s", user && *user ? user : "-");
	/* A user name is a token: a space would split the o= line. */
	for (char *p = o->user; *p; p++) {
		if (*p == ' ' || (unsigned char)*p < 0x21)
			*p = '-';
	}
	snprintf(o->addr, sizeof(o->addr), "%s", addr);
	o->id = id;
	o->version = id;
	return 0;
}

void sdp_origin_bump(struct sdp_origin *o)
{
	o->version++;
}

static int codec_attrs_print(struct mbuf *mb, const struct sdp_codec *c)
{
	int err = mbuf_printf(mb, "a=rtpmap:%u %s/%u", c->pt, c->name, c->clock);
	if (!err && c->channels > 1)
		err = mbuf_printf(mb, "/%u", c->channels);
	if (!err)
		err = mbuf_write_str(mb, "\r\n");
	if (!err && c->fmtp[0])
		err = mbuf_printf(mb, "a=fmtp:%u %s\r\n", c->pt, c->fmtp);
	return err;
}

static const char *stream_mid(const struct sdp_stream *st, unsigned i, char *buf, size_t sz)
{
	if (st->mid[0])
		return st->mid;
	snprintf(buf, sz, "%u", i);
	return buf;
}

static int stream_print(struct mbuf *mb, const struct sdp_stream *st, unsigned idx, const struct sdp_origin *o,
			const struct sdp_webrtc *w)
{
	const char *proto = w ? "UDP/TLS/RTP/SAVPF" : st->secure ? "RTP/AVP" : st->proto;
	if (st->rejected) {
		char mid[16];
		int e = mbuf_printf(mb, "m=%s 0 %s %s\r\n", st->media, proto, st->fmt0[0] ? st->fmt0 : "0");
		if (!e && w) /* JSEP: a rejected section keeps its mid */
			e = mbuf_printf(mb, "a=mid:%s\r\n", stream_mid(st, idx, mid, sizeof(mid)));
		return e;
	}
	int err = mbuf_printf(mb, "m=%s %u %s", st->media, st->local_port, proto);
	for (unsigned i = 0; i < st->ncodecs && !err; i++)
		err = mbuf_printf(mb, " %u", st->codecs[i].pt);
	if (!err && st->te_pt >= 0)
		err = mbuf_printf(mb, " %d", st->te_pt);
	if (!err)
		err = mbuf_write_str(mb, "\r\n");
	for (unsigned i = 0; i < st->ncodecs && !err; i++)
		err = codec_attrs_print(mb, &st->codecs[i]);
	if (!err && st->te_pt >= 0)
		err = codec_attrs_print(mb, &st->te);
	if (!err && st->ptime)
		err = mbuf_printf(mb, "a=ptime:%u\r\n", st->ptime);
	if (!err && w) {
		/* ICE-lite: one host candidate, pbxd's address and this port; priority
		 * as RFC 8445 §5.1.2.1 gives a host candidate of component 1. */
		char mid[16];
		err = mbuf_printf(mb, "a=mid:%s\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:%s\r\na=setup:%s\r\n"
				      "a=rtcp-mux\r\na=candidate:1 1 UDP 2130706431 %s %u typ host\r\na=end-of-candidates\r\n",
				  stream_mid(st, idx, mid, sizeof(mid)), w->ufrag, w->pwd, w->fingerprint, w->setup, o->addr,
				  st->local_port);
	} else if (!err && st->rtcp_mux) {
		err = mbuf_write_str(mb, "a=rtcp-mux\r\n");
	}
	if (!err)
		err = mbuf_printf(mb, "a=%s\r\n", sdp_dir_name(st->dir));
	return err;
}

int sdp_neg_print_webrtc(struct mbuf *mb, const struct sdp_origin *o, const struct sdp_neg *neg,
			 const struct sdp_webrtc *w)
{
	const char *at = o->af == AF_INET6 ? "IP6" : "IP4";
	int err = mbuf_printf(mb,
			      "v=0\r\no=%s %llu %llu IN %s %s\r\ns=pbxd\r\nc=IN %s %s\r\nt=0 0\r\n",
			      o->user, (unsigned long long)o->id, (unsigned long long)o->version, at,
			      o->addr, at, o->addr);
	if (!err && w) {
		/* Every stream in one BUNDLE group (there is one relayed stream). */
		err = mbuf_write_str(mb, "a=ice-lite\r\na=group:BUNDLE");
		for (unsigned i = 0; i < neg->nstreams && !err; i++) {
			char mid[16];
			if (!neg->streams[i].rejected)
				err = mbuf_printf(mb, " %s", stream_mid(&neg->streams[i], i, mid, sizeof(mid)));
		}
		if (!err)
			err = mbuf_write_str(mb, "\r\n");
	}
	for (unsigned i = 0; i < neg->nstreams && !err; i++)
		err = stream_print(mb, &neg->streams[i], i, o, w);
	return err;
}

int sdp_neg_print(struct mbuf *mb, const struct sdp_origin *o, const struct sdp_neg *neg)
{
	return sdp_neg_print_webrtc(mb, o, neg, NULL);
}
