/* SDP across the two legs of a call. What a leg is offered is what the other
 * leg offered (its formats that pbxd relays, with their payload types), and
 * what a leg is answered is what the other leg answered; only the addresses
 * and ports are pbxd's own. Where the two could have nothing in common, the
 * offer also lists what pbxd can transcode to (G.711 beside Opus alone, Opus
 * for a browser beside G.711), last, so that a shared codec still wins; when
 * the answer picks one of those, the other leg is answered with its own codec
 * and the media engine transcodes (call_media_codecs). One stream is relayed
 * per call (the first audio one); the others are declined. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "pbx/call/call_int.h"

int negotiate_parse(const struct sip_msg *msg, struct sdp_session **out, const char **why)
{
	*out = NULL;
	if (!msg->body.l)
		return 0;
	if (!pl_caseeq_str(&msg->ctype, "application/sdp")) {
		*why = "Body is not application/sdp";
		return EBADMSG;
	}
	int err = sdp_parse(out, msg->body.p, msg->body.l, why);
	return err == ENOMEM ? ENOMEM : err ? EBADMSG : 0;
}

/* The SDP answer msg must carry, applied to our offer in neg. 0 or EBADMSG
 * (ENOMEM) with *why. */
static int answer_take(struct sdp_neg *neg, const struct sip_msg *msg, const char *missing, const char **why)
{
	struct sdp_session *s;
	int err = negotiate_parse(msg, &s, why);
	if (!err && !s) {
		*why = missing;
		err = EBADMSG;
	}
	if (!err) {
		err = sdp_answer_process(neg, s, why) ? EBADMSG : 0;
		mem_deref(s);
	}
	return err;
}

static void stream_decline(struct sdp_stream *st)
{
	st->rejected = true;
	st->ncodecs = 0;
	st->te_pt = -1;
	st->local_port = 0;
	st->dir = SDP_INACTIVE;
}

/* Keeps the first accepted audio stream; false when there is none. */
static bool keep_one_audio(struct sdp_neg *neg)
{
	bool kept = false;
	for (unsigned i = 0; i < neg->nstreams; i++) {
		struct sdp_stream *st = &neg->streams[i];
		if (st->rejected)
			continue;
		if (kept || strcmp(st->media, "audio") != 0)
			stream_decline(st);
		else
			kept = true;
	}
	return kept;
}

static const struct sdp_stream *kept_stream(const struct sdp_neg *neg)
{
	for (unsigned i = 0; i < neg->nstreams; i++) {
		if (!neg->streams[i].rejected)
			return &neg->streams[i];
	}
	return NULL;
}

static enum media_codec codec_of(const struct sdp_codec *c)
{
	return media_codec_of(c->name, c->clock);
}

static bool pt_used(const struct sdp_stream *st, int pt)
{
	for (unsigned i = 0; i < st->ncodecs; i++) {
		if (st->codecs[i].pt == pt)
			return true;
	}
	return st->te_pt == pt;
}

static void codec_append(struct sdp_stream *st, int pt, const char *name, uint32_t clock, uint8_t ch,
			 const char *fmtp)
{
	if (st->ncodecs == SDP_NEG_MAX_CODECS)
		return;
	for (int p = pt; p < 128; p = p < 96 ? 96 : p + 1) {
		if (!pt_used(st, p)) {
			struct sdp_codec *c = &st->codecs[st->ncodecs++];
			memset(c, 0, sizeof(*c));
			c->pt = (uint8_t)p;
			snprintf(c->name, sizeof(c->name), "%s", name);
			c->clock = clock;
			c->channels = ch;
			snprintf(c->fmtp, sizeof(c->fmtp), "%s", fmtp);
			return;
		}
	}
}

/* The codecs pbxd can transcode to, added last to an offer: G.711 where only
 * Opus is offered, Opus (for a browser) where only G.711 is. */
static void offer_widen(struct sdp_neg *neg, bool browser)
{
	for (unsigned i = 0; i < neg->nstreams; i++) {
		struct sdp_stream *st = &neg->streams[i];
		if (st->rejected || strcmp(st->media, "audio") != 0)
			continue;
		bool opus = false, g711 = false;
		for (unsigned k = 0; k < st->ncodecs; k++) {
			enum media_codec m = codec_of(&st->codecs[k]);
			opus |= m == MEDIA_CODEC_OPUS;
			g711 |= m == MEDIA_CODEC_PCMU || m == MEDIA_CODEC_PCMA;
		}
		if (opus && !g711) {
			codec_append(st, 0, "PCMU", 8000, 1, "");
			codec_append(st, 8, "PCMA", 8000, 1, "");
		} else if (g711 && !opus && browser) {
			codec_append(st, 111, "opus", 48000, 2, "minptime=10;useinbandfec=1");
		}
	}
}

/* to's offer mirrors from's agreed streams: from's formats, from's direction. */
static void offer_mirror(struct sdp_neg *to, const struct sdp_neg *from)
{
	*to = *from;
	for (unsigned i = 0; i < to->nstreams; i++) {
		struct sdp_stream *st = &to->streams[i];
		memset(&st->remote, 0, sizeof(st->remote));
		memset(&st->remote_rtcp, 0, sizeof(st->remote_rtcp));
		if (!st->rejected)
			st->dir = sdp_dir_reverse(from->streams[i].dir);
	}
}

/* from's answer follows what `to` answered: its formats, and at most its
 * direction seen from the other end. */
static void answer_follow(struct sdp_neg *from, const struct sdp_neg *to)
{
	for (unsigned i = 0; i < from->nstreams && i < to->nstreams; i++) {
		struct sdp_stream *fs = &from->streams[i];
		const struct sdp_stream *ts = &to->streams[i];
		if (fs->rejected)
			continue;
		if (ts->rejected) {
			stream_decline(fs);
			continue;
		}
		fs->dir &= sdp_dir_reverse(ts->dir);
		/* What the other leg chose is one of from's own: from is answered the
		 * same. Else it is one pbxd added (offer_widen): from is answered with
		 * its first codec pbxd transcodes to it, and keeps its own events. */
		bool own = false;
		const struct sdp_codec *pick = NULL;
		for (unsigned k = 0; ts->ncodecs && k < fs->ncodecs; k++) {
			const struct sdp_codec *c = &fs->codecs[k];
			if (c->pt == ts->codecs[0].pt && !strcasecmp(c->name, ts->codecs[0].name))
				own = true;
			if (!pick && media_codec_transcodable(codec_of(c), codec_of(&ts->codecs[0])))
				pick = c;
		}
		if (!own && pick) {
			fs->codecs[0] = *pick;
			fs->ncodecs = 1;
			continue;
		}
		memcpy(fs->codecs, ts->codecs, sizeof(fs->codecs));
		fs->ncodecs = ts->ncodecs;
		fs->te_pt = ts->te_pt;
		fs->te = ts->te;
	}
}

uint16_t negotiate_offer_a(struct call *c, const struct sip_msg *inv, const char **why)
{
	struct leg *a = c->a;
	struct sdp_session *s;
	int err = negotiate_parse(inv, &s, why);
	if (err)
		return err == ENOMEM ? 500 : 488;
	if (!s)
		return 0; /* no offer: pbxd offers to the devices, and to the caller in the 2xx */
	err = sdp_answer(&a->neg, s, &c->e->caps, SDP_SENDRECV, why);
	mem_deref(s);
	if (err)
		return 488;
	if (!keep_one_audio(&a->neg)) {
		*why = "no audio stream";
		return 488;
	}
	const struct sdp_stream *st = kept_stream(&a->neg);
	if (st && st->secure) {
		if (!st->r_fp[0] || !st->r_ufrag[0] || !st->r_pwd[0]) {
			*why = "DTLS-SRTP offer without ICE credentials or fingerprint";
			return 488;
		}
		a->webrtc = true;
		call_dtls_role_from(a, st->r_setup);
	}
	a->has_offer = true;
	return 0;
}

void negotiate_offer_b(struct call *c, struct leg *b)
{
	if (c->a->has_offer) {
		offer_mirror(&b->neg, &c->a->neg);
		offer_widen(&b->neg, b->webrtc);
	} else {
		sdp_offer(&b->neg, &c->e->caps, false, SDP_SENDRECV);
	}
	b->has_offer = true;
}

int negotiate_answer_b(struct call *c, struct leg *b, const struct sip_msg *resp, const char **why)
{
	int err = answer_take(&b->neg, resp, "answer without SDP", why);
	if (err)
		return err;
	const struct sdp_stream *st = kept_stream(&b->neg);
	if (b->webrtc && st && st->secure && st->r_fp[0])
		call_dtls_role_from(b, st->r_setup);
	else
		b->webrtc = false; /* a WebSocket phone that answered plain RTP */
	b->negotiated = true;
	struct leg *a = c->a;
	if (a->negotiated)
		return 0;
	if (a->has_offer) {
		answer_follow(&a->neg, &b->neg);
	} else {
		/* The caller made no offer: pbxd's offer to it is what the device chose. */
		offer_mirror(&a->neg, &b->neg);
		a->has_offer = true;
		a->awaiting_answer = true;
	}
	a->negotiated = true;
	return 0;
}

int negotiate_ack_answer(struct call *c, const struct sip_msg *ack, const char **why)
{
	int err = answer_take(&c->a->neg, ack, "ACK without the answer", why);
	c->a->awaiting_answer = false;
	return err;
}

/* A browser's offer with other ICE credentials than its last restarts ICE
 * (RFC 8445 §9): pbxd's answer carries new ones too (RFC 8839 §4.4.1.2.2). */
static bool ice_restart(const struct sdp_stream *was, const struct sdp_stream *now)
{
	return was && now && now->r_ufrag[0] &&
	       (strcmp(was->r_ufrag, now->r_ufrag) != 0 || strcmp(was->r_pwd, now->r_pwd) != 0);
}

uint16_t negotiate_reoffer(struct call *c, struct leg *from, struct leg *to, const struct sip_msg *req,
			   const char **why)
{
	struct sdp_session *s;
	int err = negotiate_parse(req, &s, why);
	if (err)
		return err == ENOMEM ? 500 : 488;
	struct sdp_neg *tmp = malloc(sizeof(*tmp));
	if (!tmp) {
		mem_deref(s);
		return 500;
	}
	err = sdp_answer(tmp, s, &c->e->caps, SDP_SENDRECV, why);
	mem_deref(s);
	uint16_t code = err ? 488 : 0;
	if (!code && tmp->nstreams != to->neg.nstreams) {
		/* RFC 3264 §8: an m= line is never removed; one added would need ports. */
		*why = "the number of media streams may not change";
		code = 488;
	}
	if (!code && !keep_one_audio(tmp)) {
		*why = "no audio stream";
		code = 488;
	}
	if (!code && from->webrtc && ice_restart(kept_stream(&from->neg), kept_stream(tmp)) &&
	    call_ice_creds_new(c, from == c->a ? 0 : 1)) {
		*why = "no ICE credentials";
		code = 500;
	}
	if (!code) {
		from->neg = *tmp;
		offer_mirror(&to->neg, tmp); /* leg_sdp raises the version: the SDP changes */
		offer_widen(&to->neg, to->webrtc);
	}
	free(tmp);
	return code;
}

int negotiate_reanswer(struct call *c, struct leg *from, struct leg *to, const struct sip_msg *resp,
		       const char **why)
{
	(void)c;
	int err = answer_take(&to->neg, resp, "answer without SDP", why);
	if (err)
		return err;
	answer_follow(&from->neg, &to->neg);
	return 0;
}
