/* A transcoding endpoint (see xcode.h): G.711 (μ-law, A-law) to and from Opus
 * (libopus, its encoder and decoder run at 8 kHz: Opus's RTP clock stays 48
 * kHz, RFC 7587, and no resampler is needed). Decoded audio goes through a
 * small queue, so that the far side gets whole 20-ms frames whatever packet
 * time the source uses (Opus only takes 2.5, 5, 10, 20, 40 or 60 ms). The
 * output's timestamps are the source's mapped onto the far side's clock, so a
 * gap (silence suppression, loss) stays a gap of the same length. */
#include "media/xcode.h"

#include <errno.h>
#include <opus/opus.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "core/rand.h"
#include "media/g711.h"
#include "media/rtp.h"

enum {
	RATE = 8000,         /* the PCM between decoder and encoder */
	FRAME = RATE / 50,   /* 20 ms: what is sent to an Opus side */
	FIFO_MAX = RATE * 120 / 1000 * 2, /* two of Opus's longest frames */
	OPUS_KBPS = 24,
};

struct media_xcode {
	struct media_endpoint ep;    /* first: deliver gets &ep */
	struct media_endpoint *far;
	struct media_codec_side in, out;
	uint32_t in_clock, out_clock; /* RTP clocks of the audio */
	OpusDecoder *dec;
	OpusEncoder *enc;
	struct media_batch *scratch;
	unsigned nout;               /* packets in scratch waiting for delivery */
	/* The queue: PCM at 8 kHz whose first sample has source timestamp q_ts. */
	int16_t q[FIFO_MAX];
	unsigned nq;
	uint32_t q_ts;
	uint32_t next_ts;            /* where the source's audio taken ends */
	bool have_next;
	/* The timeline: source timestamp in_anchor is far timestamp out_anchor. */
	bool started;
	uint32_t in_ssrc;
	uint32_t in_anchor, out_anchor;
	uint16_t seq;
	uint32_t ssrc;
	bool marker;                 /* the next packet starts a talk spurt */
};

static uint32_t clock_of(enum media_codec c)
{
	return c == MEDIA_CODEC_OPUS ? 48000 : RATE;
}

enum media_codec media_codec_of(const char *name, uint32_t clock)
{
	if (!strcasecmp(name, "PCMU") && clock == 8000)
		return MEDIA_CODEC_PCMU;
	if (!strcasecmp(name, "PCMA") && clock == 8000)
		return MEDIA_CODEC_PCMA;
	if (!strcasecmp(name, "opus") && clock == 48000)
		return MEDIA_CODEC_OPUS;
	return MEDIA_CODEC_NONE;
}

bool media_codec_transcodable(enum media_codec a, enum media_codec b)
{
	if (a == MEDIA_CODEC_NONE || b == MEDIA_CODEC_NONE || a == b)
		return false;
	return true; /* any two of PCMU, PCMA, Opus */
}

/* --- RTP ---------------------------------------------------------------------------- */

struct rtp {
	bool marker;
	uint8_t pt;
	uint16_t seq;
	uint32_t ts, ssrc;
	const uint8_t *payload;
	size_t plen;
};

static bool rtp_parse(const uint8_t *b, size_t len, struct rtp *r)
{
	size_t off;
	if (media_rtp_header_len(b, len, &off))
		return false;
	size_t pad = (b[0] & 0x20) ? b[len - 1] : 0;
	if (len < off + pad)
		return false;
	r->marker = b[1] & 0x80;
	r->pt = b[1] & 0x7f;
	r->seq = (uint16_t)(b[2] << 8 | b[3]);
	r->ts = media_rtp_get32(b + 4);
	r->ssrc = media_rtp_get32(b + 8);
	r->payload = b + off;
	r->plen = len - off - pad;
	return true;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The far timestamp of source timestamp ts (signed distance: wraps both ways). */
static uint32_t map_ts(const struct media_xcode *x, uint32_t ts, uint32_t in_clock, uint32_t out_clock)
{
	int64_t d = (int32_t)(ts - x->in_anchor);
	return x->out_anchor + (uint32_t)(d * (int64_t)out_clock / (int64_t)in_clock);
}

static void flush_out(struct media_xcode *x)
{
	if (x->nout && x->far)
		x->far->ops->deliver(x->far, MEDIA_RTP, x->scratch->pkts, x->nout);
	x->nout = 0;
}

/* A packet buffer in scratch with its RTP header written; the payload follows. */
static uint8_t *out_packet(struct media_xcode *x, int pt, uint32_t ts, bool marker)
{
	if (x->nout == MEDIA_BATCH)
		flush_out(x);
	uint8_t *b = x->scratch->buf[x->nout];
	b[0] = 0x80;
	b[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
	b[2] = (uint8_t)(x->seq >> 8);
	b[3] = (uint8_t)x->seq;
	x->seq++;
	put32(b + 4, ts);
	put32(b + 8, x->ssrc);
	return b;
}

static void out_commit(struct media_xcode *x, size_t len)
{
	struct media_pkt *p = &x->scratch->pkts[x->nout++];
	p->buf = x->scratch->buf[x->nout - 1];
	p->len = len;
	memset(&p->src, 0, sizeof(p->src));
}

/* --- audio -------------------------------------------------------------------------- */

/* The source's payload as PCM appended to the queue; samples added, or -1. */
static int decode(struct media_xcode *x, const struct rtp *r)
{
	int16_t *dst = x->q + x->nq;
	unsigned room = FIFO_MAX - x->nq;
	switch (x->in.codec) {
	case MEDIA_CODEC_PCMU:
	case MEDIA_CODEC_PCMA: {
		unsigned n = r->plen < room ? (unsigned)r->plen : room;
		for (unsigned i = 0; i < n; i++)
			dst[i] = x->in.codec == MEDIA_CODEC_PCMU ? g711_ulaw_decode(r->payload[i])
								 : g711_alaw_decode(r->payload[i]);
		return (int)n;
	}
	case MEDIA_CODEC_OPUS: {
		if (room < RATE * 120 / 1000)
			return -1;
		int n = opus_decode(x->dec, r->payload, (opus_int32)r->plen, dst, (int)room, 0);
		return n < 0 ? -1 : n;
	}
	default:
		return -1;
	}
}

/* Sends what the queue holds in the far codec: whole 20-ms frames to Opus,
 * everything at once to G.711. */
static void drain(struct media_xcode *x)
{
	while (x->nq && (x->out.codec != MEDIA_CODEC_OPUS || x->nq >= FRAME)) {
		unsigned n = x->out.codec == MEDIA_CODEC_OPUS ? FRAME : x->nq;
		if (n > MEDIA_PKT_MAX - 12)
			n = MEDIA_PKT_MAX - 12;
		uint8_t *b = out_packet(x, x->out.pt, map_ts(x, x->q_ts, x->in_clock, x->out_clock), x->marker);
		size_t len = 12;
		if (x->out.codec == MEDIA_CODEC_OPUS) {
			opus_int32 k = opus_encode(x->enc, x->q, (int)n, b + 12, MEDIA_PKT_MAX - 12 - 16);
			if (k < 0) {
				x->seq--; /* nothing sent */
				x->nq = 0;
				return;
			}
			len += (size_t)k;
		} else {
			for (unsigned i = 0; i < n; i++)
				b[12 + i] = x->out.codec == MEDIA_CODEC_PCMU ? g711_ulaw_encode(x->q[i])
									  : g711_alaw_encode(x->q[i]);
			len += n;
		}
		out_commit(x, len);
		x->marker = false;
		x->nq -= n;
		memmove(x->q, x->q + n, x->nq * sizeof(x->q[0]));
		x->q_ts += n * (x->in_clock / RATE);
	}
}

/* Where the source's audio taken so far ends (its next packet's timestamp);
 * a packet elsewhere is a gap (ahead: what is queued is dropped, a fraction of
 * a frame, and the far side sees the gap the source left) or from the past
 * (late or reordered: dropped, it cannot be put back in order cheaply). */
static void audio_take(struct media_xcode *x, const struct rtp *r)
{
	uint32_t per = x->in_clock / RATE;
	if (x->have_next && r->ts != x->next_ts) {
		if ((int32_t)(r->ts - x->next_ts) < 0 && (int32_t)(x->next_ts - r->ts) < (int32_t)x->in_clock * 10)
			return;
		x->nq = 0;
	}
	if (!x->nq)
		x->q_ts = r->ts;
	if (r->marker)
		x->marker = true;
	int n = decode(x, r);
	if (n <= 0)
		return;
	x->nq += (unsigned)n;
	x->next_ts = x->q_ts + x->nq * per;
	x->have_next = true;
	drain(x);
}

/* RFC 4733: the event's timestamp mapped like the audio's, its duration
 * (in timestamp units of its clock) scaled to the far one's. */
static void event_in(struct media_xcode *x, const struct rtp *r)
{
	if (x->out.te_pt < 0 || r->plen < 4 || !x->in.te_clock || !x->out.te_clock)
		return;
	uint8_t *b = out_packet(x, x->out.te_pt, map_ts(x, r->ts, x->in.te_clock, x->out.te_clock), r->marker);
	uint32_t dur = (uint32_t)(r->payload[2] << 8 | r->payload[3]);
	dur = (uint32_t)((uint64_t)dur * x->out.te_clock / x->in.te_clock);
	if (dur > 0xffff)
		dur = 0xffff;
	b[12] = r->payload[0];
	b[13] = r->payload[1];
	b[14] = (uint8_t)(dur >> 8);
	b[15] = (uint8_t)dur;
	out_commit(x, 16);
}

static void xcode_deliver(struct media_endpoint *ep, enum media_comp comp, struct media_pkt *pkts, unsigned n)
{
	struct media_xcode *x = (struct media_xcode *)ep;
	if (comp != MEDIA_RTP)
		return;
	for (unsigned i = 0; i < n; i++) {
		struct rtp r;
		if (!rtp_parse(pkts[i].buf, pkts[i].len, &r))
			continue;
		if (!x->started || r.ssrc != x->in_ssrc) {
			/* A new source (its first packet, or a new SSRC after a
			 * renegotiation): its timeline starts where the far one is. */
			if (x->started)
				x->out_anchor = map_ts(x, x->have_next ? x->next_ts : r.ts, x->in_clock, x->out_clock);
			x->started = true;
			x->in_ssrc = r.ssrc;
			x->in_anchor = r.ts;
			x->have_next = false;
			x->nq = 0;
			x->marker = true;
		}
		if (r.pt == x->in.pt)
			audio_take(x, &r);
		else if ((int)r.pt == x->in.te_pt)
			event_in(x, &r);
		/* anything else (comfort noise, a format the far side never agreed) goes nowhere */
	}
	flush_out(x);
}

static const struct media_endpoint_ops xcode_ops = { .name = "xcode", .deliver = xcode_deliver };

/* --- life ----------------------------------------------------------------------------- */

static void xcode_destroy(void *arg)
{
	struct media_xcode *x = arg;
	if (x->dec)
		opus_decoder_destroy(x->dec);
	if (x->enc)
		opus_encoder_destroy(x->enc);
}

int media_xcode_alloc(struct media_xcode **xp, const struct media_codec_side *in, const struct media_codec_side *out,
		      struct media_batch *scratch)
{
	if (!media_codec_transcodable(in->codec, out->codec) || in->pt < 0 || in->pt > 127 || out->pt < 0 ||
	    out->pt > 127 || !scratch)
		return EINVAL;
	struct media_xcode *x = mem_zalloc(sizeof(*x), xcode_destroy);
	if (!x)
		return ENOMEM;
	x->ep.ops = &xcode_ops;
	x->in = *in;
	x->out = *out;
	x->in_clock = clock_of(in->codec);
	x->out_clock = clock_of(out->codec);
	x->scratch = scratch;
	int oe = OPUS_OK;
	if (in->codec == MEDIA_CODEC_OPUS)
		x->dec = opus_decoder_create(RATE, 1, &oe);
	if (oe == OPUS_OK && out->codec == MEDIA_CODEC_OPUS) {
		x->enc = opus_encoder_create(RATE, 1, OPUS_APPLICATION_VOIP, &oe);
		if (x->enc) {
			opus_encoder_ctl(x->enc, OPUS_SET_BITRATE(OPUS_KBPS * 1000));
			opus_encoder_ctl(x->enc, OPUS_SET_COMPLEXITY(5));
		}
	}
	uint8_t r[8];
	if (oe != OPUS_OK || rand_bytes(r, sizeof(r))) {
		mem_deref(x);
		return EIO;
	}
	x->ssrc = (uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3];
	x->seq = (uint16_t)(r[4] << 8 | r[5]);
	x->out_anchor = (uint32_t)r[6] << 24 | (uint32_t)r[7] << 16;
	*xp = x;
	return 0;
}

void media_xcode_free(struct media_xcode *x)
{
	mem_deref(x);
}

struct media_endpoint *media_xcode_ep(struct media_xcode *x)
{
	return &x->ep;
}

void media_xcode_far_set(struct media_xcode *x, struct media_endpoint *far)
{
	x->far = far;
}
