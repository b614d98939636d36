/* libFuzzer target for the SDP parser, printer and offer/answer (src/sdp/). An
 * input that parses is printed back and must parse again to the same shape (and
 * print to the same text); it is then answered against fixed capabilities, the
 * answer printed and parsed, and taken as the answer to our own offer. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mbuf.h"
#include "core/mem.h"
#include "sdp/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool ok)
{
	if (!ok)
		abort();
}

static const struct sdp_codec audio_caps[] = {
	{ .pt = 0, .name = "PCMU", .clock = 8000 },
	{ .pt = 8, .name = "PCMA", .clock = 8000 },
	{ .pt = 9, .name = "G722", .clock = 8000 },
	{ .pt = 111, .name = "opus", .clock = 48000, .channels = 2, .fmtp = "useinbandfec=1" },
	{ .pt = 101, .name = "telephone-event", .clock = 8000, .fmtp = "0-16" },
};
static const struct sdp_codec video_caps[] = {
	{ .pt = 96, .name = "H264", .clock = 90000, .fmtp = "packetization-mode=1" },
};
static const char *const protos[] = { "RTP/AVP", "RTP/AVPF", NULL };
static const struct sdp_caps caps = {
	.audio = audio_caps, .naudio = 5, .video = video_caps, .nvideo = 1,
	.ptime = 20, .rtcp_mux = true, .protos = protos,
};

static void same_shape(const struct sdp_session *a, const struct sdp_session *b)
{
	require(a->nmedia == b->nmedia && a->nattrs == b->nattrs && a->dir == b->dir &&
		a->ntimes == b->ntimes && a->nbw == b->nbw && a->nother == b->nother &&
		a->has_conn == b->has_conn && pl_eq(&a->o_user, &b->o_user) &&
		pl_eq(&a->name, &b->name));
	for (unsigned i = 0; i < a->nmedia; i++) {
		const struct sdp_media *x = &a->media[i], *y = &b->media[i];
		require(x->port == y->port && x->nports == y->nports && x->nfmts == y->nfmts &&
			x->nattrs == y->nattrs && x->dir == y->dir && x->ptime == y->ptime &&
			x->rtcp_port == y->rtcp_port && x->rtcp_mux == y->rtcp_mux &&
			x->has_conn == y->has_conn && pl_eq(&x->proto, &y->proto));
		for (unsigned j = 0; j < x->nfmts; j++)
			require(x->fmts[j].pt == y->fmts[j].pt && x->fmts[j].clock == y->fmts[j].clock &&
				pl_eq(&x->fmts[j].fmtp, &y->fmts[j].fmtp));
	}
}

static struct sdp_session *reparse(const struct mbuf *mb)
{
	struct sdp_session *s;
	const char *reason;
	int err = sdp_parse(&s, (const char *)mb->buf, mb->end, &reason);
	/* What we print must parse, unless printing made it longer than the limit. */
	require(err == 0 || (err == EMSGSIZE && mb->end > SDP_MAX_SIZE));
	return err ? NULL : s;
}

static void roundtrip(const struct sdp_session *s)
{
	struct mbuf *mb = mbuf_alloc(1024, 4 * SDP_MAX_SIZE);
	struct mbuf *mb2 = mbuf_alloc(1024, 4 * SDP_MAX_SIZE);
	require(mb && mb2);
	require(sdp_print(mb, s) == 0);
	struct sdp_session *s2 = reparse(mb);
	if (s2) {
		same_shape(s, s2);
		require(sdp_print(mb2, s2) == 0);
		require(mb2->end == mb->end && memcmp(mb2->buf, mb->buf, mb->end) == 0);
	}
	mem_deref(s2);
	mem_deref(mb2);
	mem_deref(mb);
}

static void negotiate(const struct sdp_session *s)
{
	static struct sdp_neg neg; /* large: kept off the stack */
	const char *reason;
	struct sdp_origin o;
	require(sdp_origin_init(&o, "pbxd", "198.51.100.1", 1) == 0);

	for (int hold = 0; hold <= SDP_SENDRECV; hold++) {
		if (sdp_answer(&neg, s, &caps, (enum sdp_dir)hold, &reason) != 0)
			require(reason && *reason);
		for (unsigned i = 0; i < neg.nstreams; i++) {
			const struct sdp_stream *st = &neg.streams[i];
			require(st->rejected || (st->ncodecs > 0 && (st->dir & ~hold) == 0));
			neg.streams[i].local_port = (uint16_t)(20000 + 2 * i);
		}
		if (!neg.nstreams)
			continue;
		struct mbuf *mb = mbuf_alloc(1024, 4 * SDP_MAX_SIZE);
		require(mb != NULL);
		require(sdp_neg_print(mb, &o, &neg) == 0);
		struct sdp_session *ans = reparse(mb);
		require(ans == NULL || ans->nmedia == s->nmedia);
		mem_deref(ans);
		mem_deref(mb);
	}

	/* The input taken as the answer to our offer. */
	sdp_offer(&neg, &caps, s->nmedia > 1, SDP_SENDRECV);
	if (sdp_answer_process(&neg, s, &reason) != 0)
		require(reason && *reason);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sdp_session *s;
	const char *reason;
	if (sdp_parse(&s, (const char *)data, size, &reason) != 0) {
		require(reason && *reason);
		return 0;
	}
	roundtrip(s);
	negotiate(s);
	mem_deref(s);
	return 0;
}
