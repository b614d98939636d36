/* libFuzzer target for the transcoder (src/media/xcode.c), which reads RTP any
 * peer of a transcoded call sends: the input is cut into packets (a length
 * byte each) and fed to both directions (G.711 to Opus and Opus to G.711,
 * telephone-events on), as headers, payloads and events; whatever comes out
 * must be RTP of the far side's payload types within a packet buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "media/xcode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct media_batch scratch;

struct check {
	struct media_endpoint ep;
	int pt, te_pt;
};

static void check_deliver(struct media_endpoint *ep, enum media_comp comp, struct media_pkt *pkts, unsigned n)
{
	struct check *c = (struct check *)ep;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *b = pkts[i].buf;
		if (comp != MEDIA_RTP || pkts[i].len < 12 || pkts[i].len > MEDIA_PKT_MAX || b[0] != 0x80 ||
		    ((b[1] & 0x7f) != c->pt && (b[1] & 0x7f) != c->te_pt))
			abort();
	}
}

static const struct media_endpoint_ops check_ops = { .name = "check", .deliver = check_deliver };

static void run(const struct media_codec_side *in, const struct media_codec_side *out, const uint8_t *data,
		size_t size)
{
	struct media_xcode *x;
	if (media_xcode_alloc(&x, in, out, &scratch))
		abort();
	struct check c = { { &check_ops, NULL }, out->pt, out->te_pt };
	media_xcode_far_set(x, &c.ep);
	uint8_t buf[MEDIA_PKT_MAX];
	struct media_pkt p = { .buf = buf };
	struct media_endpoint *ep = media_xcode_ep(x);
	while (size) {
		size_t len = data[0];
		data++, size--;
		if (len > size)
			len = size;
		/* the first bytes of a packet steer it to the payload type under test */
		memcpy(buf, data, len);
		if (len >= 2)
			buf[1] = (uint8_t)((buf[1] & 0x80) | ((buf[1] & 1) ? in->pt : in->te_pt));
		p.len = len;
		ep->ops->deliver(ep, MEDIA_RTP, &p, 1);
		data += len, size -= len;
	}
	media_xcode_free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct media_codec_side u = { MEDIA_CODEC_PCMU, 0, 101, 8000 }, o = { MEDIA_CODEC_OPUS, 111, 110, 48000 };
	run(&u, &o, data, size);
	run(&o, &u, data, size);
	return 0;
}
