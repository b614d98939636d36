/* Unit tests of G.711 and of the transcoding endpoint (issue 14: "Opus <->
 * G.711 through libopus when they do not [share a codec]"): G.711's reference
 * values and its error bound over every 16-bit sample; a tone sent as PCMU
 * comes out as Opus that a decoder of the test's own hears at the same pitch,
 * and a tone encoded as Opus by the test comes out as PCMU at its pitch;
 * 30-ms packets become 20-ms Opus frames on an unbroken timeline; a gap stays
 * a gap of the same length; telephone-events change payload type, clock and
 * duration units; what the endpoint cannot take is refused or dropped. */
#include <errno.h>
#include <math.h>
#include <opus/opus.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/mem.h"
#include "media/g711.h"
#include "media/xcode.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

enum { CAP_MAX = 512 };

/* The far side: every packet delivered, copied. */
struct capture {
	struct media_endpoint ep;
	unsigned n;
	uint8_t buf[CAP_MAX][1500];
	size_t len[CAP_MAX];
};

static void cap_deliver(struct media_endpoint *ep, enum media_comp comp, struct media_pkt *pkts, unsigned n)
{
	struct capture *c = (struct capture *)ep;
	(void)comp;
	for (unsigned i = 0; i < n && c->n < CAP_MAX; i++) {
		memcpy(c->buf[c->n], pkts[i].buf, pkts[i].len);
		c->len[c->n++] = pkts[i].len;
	}
}

static const struct media_endpoint_ops cap_ops = { .name = "capture", .deliver = cap_deliver };

static uint32_t ts_of(const uint8_t *b)
{
	return (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
}

static uint16_t seq_of(const uint8_t *b)
{
	return (uint16_t)(b[2] << 8 | b[3]);
}

static size_t rtp_header(uint8_t *b, int pt, uint16_t seq, uint32_t ts, bool marker)
{
	b[0] = 0x80;
	b[1] = (uint8_t)((marker ? 0x80 : 0) | pt);
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	b[4] = (uint8_t)(ts >> 24);
	b[5] = (uint8_t)(ts >> 16);
	b[6] = (uint8_t)(ts >> 8);
	b[7] = (uint8_t)ts;
	b[8] = 0x12, b[9] = 0x34, b[10] = 0x56, b[11] = 0x78;
	return 12;
}

/* The power of frequency f in pcm at rate (Goertzel), relative to the signal's. */
static double tone_share(const int16_t *pcm, size_t n, double f, double rate)
{
	double k = 2 * cos(2 * M_PI * f / rate), s1 = 0, s2 = 0, e = 0;
	for (size_t i = 0; i < n; i++) {
		double s = pcm[i] + k * s1 - s2;
		s2 = s1;
		s1 = s;
		e += (double)pcm[i] * pcm[i];
	}
	double p = s1 * s1 + s2 * s2 - k * s1 * s2;
	return e > 0 ? p / (e * n / 2) : 0;
}

static struct media_batch scratch;

static struct media_xcode *mk(struct capture *cap, enum media_codec in, int in_pt, enum media_codec out, int out_pt)
{
	struct media_codec_side a = { in, in_pt, 101, in == MEDIA_CODEC_OPUS ? 48000 : 8000 };
	struct media_codec_side b = { out, out_pt, 110, out == MEDIA_CODEC_OPUS ? 48000 : 8000 };
	struct media_xcode *x = NULL;
	assert_int_equal(media_xcode_alloc(&x, &a, &b, &scratch), 0);
	cap->ep.ops = &cap_ops;
	media_xcode_far_set(x, &cap->ep);
	return x;
}

static void send_pkt(struct media_xcode *x, uint8_t *b, size_t len)
{
	struct media_pkt p = { .buf = b, .len = len };
	struct media_endpoint *ep = media_xcode_ep(x);
	ep->ops->deliver(ep, MEDIA_RTP, &p, 1);
}

static void test_g711(void **state)
{
	(void)state;
	assert_int_equal(g711_ulaw_encode(0), 0xff);
	assert_int_equal(g711_ulaw_decode(0xff), 0);
	assert_int_equal(g711_ulaw_decode(0x00), -32124);
	assert_int_equal(g711_ulaw_decode(0x80), 32124);
	assert_int_equal(g711_alaw_encode(0), 0xd5);
	assert_int_equal(g711_alaw_decode(0xd5), 8);
	assert_int_equal(g711_alaw_decode(0x55), -8);
	assert_int_equal(g711_alaw_decode(0xaa), 32256);
	assert_int_equal(g711_alaw_decode(0x2a), -32256);
	/* every code is a fixed point, and every sample comes back within its step */
	for (int c = 0; c < 256; c++) {
		if (c != 0x7f) /* μ-law's negative zero */
			assert_int_equal(g711_ulaw_encode(g711_ulaw_decode((uint8_t)c)), c);
		assert_int_equal(g711_alaw_encode(g711_alaw_decode((uint8_t)c)), c);
	}
	for (int v = -32768; v < 32768; v++) {
		int lim = abs(v) / 16 + 80;
		assert_true(abs(g711_ulaw_decode(g711_ulaw_encode((int16_t)v)) - v) <= lim);
		assert_true(abs(g711_alaw_decode(g711_alaw_encode((int16_t)v)) - v) <= lim);
	}
}

static void test_pcmu_to_opus(void **state)
{
	(void)state;
	static struct capture cap;
	memset(&cap, 0, sizeof(cap));
	struct media_xcode *x = mk(&cap, MEDIA_CODEC_PCMU, 0, MEDIA_CODEC_OPUS, 111);
	uint8_t b[200];
	double ph = 0;
	for (int k = 0; k < 50; k++) { /* one second of 1 kHz in 20-ms packets */
		size_t off = rtp_header(b, 0, (uint16_t)(1000 + k), 5000u + 160u * (unsigned)k, k == 0);
		for (int i = 0; i < 160; i++, ph += 2 * M_PI * 1000 / 8000)
			b[off + i] = g711_ulaw_encode((int16_t)(12000 * sin(ph)));
		send_pkt(x, b, off + 160);
	}
	assert_int_equal(cap.n, 50);
	int err;
	OpusDecoder *d = opus_decoder_create(48000, 1, &err);
	assert_int_equal(err, OPUS_OK);
	static int16_t pcm[48000];
	size_t n = 0;
	for (unsigned i = 0; i < cap.n; i++) {
		assert_int_equal(cap.buf[i][1] & 0x7f, 111);
		assert_int_equal((cap.buf[i][1] & 0x80) != 0, i == 0); /* the talk spurt's marker */
		if (i) {
			assert_int_equal(ts_of(cap.buf[i]) - ts_of(cap.buf[i - 1]), 960);
			assert_int_equal((uint16_t)(seq_of(cap.buf[i]) - seq_of(cap.buf[i - 1])), 1);
			assert_memory_equal(cap.buf[i] + 8, cap.buf[0] + 8, 4); /* one SSRC */
		}
		int k = opus_decode(d, cap.buf[i] + 12, (opus_int32)cap.len[i] - 12, pcm + n, 960, 0);
		assert_int_equal(k, 960);
		n += (size_t)k;
	}
	opus_decoder_destroy(d);
	/* the last half second: a clean 1 kHz tone */
	assert_true(tone_share(pcm + 24000, 24000, 1000, 48000) > 0.8);
	assert_true(tone_share(pcm + 24000, 24000, 1500, 48000) < 0.05);
	media_xcode_free(x);
}

static void test_opus_to_pcma(void **state)
{
	(void)state;
	static struct capture cap;
	memset(&cap, 0, sizeof(cap));
	struct media_xcode *x = mk(&cap, MEDIA_CODEC_OPUS, 111, MEDIA_CODEC_PCMA, 8);
	int err;
	OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
	assert_int_equal(err, OPUS_OK);
	int16_t frame[960];
	uint8_t b[1500];
	double ph = 0;
	for (int k = 0; k < 50; k++) {
		for (int i = 0; i < 960; i++, ph += 2 * M_PI * 440 / 48000)
			frame[i] = (int16_t)(10000 * sin(ph));
		size_t off = rtp_header(b, 111, (uint16_t)k, 960u * (unsigned)k, false);
		int len = opus_encode(enc, frame, 960, b + off, (opus_int32)(sizeof(b) - off));
		assert_true(len > 0);
		send_pkt(x, b, off + (size_t)len);
	}
	opus_encoder_destroy(enc);
	assert_int_equal(cap.n, 50);
	static int16_t pcm[8000];
	for (unsigned i = 0; i < cap.n; i++) {
		assert_int_equal(cap.buf[i][1] & 0x7f, 8);
		assert_int_equal(cap.len[i], 12 + 160);
		if (i)
			assert_int_equal(ts_of(cap.buf[i]) - ts_of(cap.buf[i - 1]), 160);
		for (int s = 0; s < 160; s++)
			pcm[i * 160 + (unsigned)s] = g711_alaw_decode(cap.buf[i][12 + s]);
	}
	assert_true(tone_share(pcm + 4000, 4000, 440, 8000) > 0.8);
	media_xcode_free(x);
}

static void test_reframing_and_gaps(void **state)
{
	(void)state;
	static struct capture cap;
	memset(&cap, 0, sizeof(cap));
	struct media_xcode *x = mk(&cap, MEDIA_CODEC_PCMU, 0, MEDIA_CODEC_OPUS, 96);
	uint8_t b[300];
	/* 30-ms packets: 240 samples each, 4 of them = 960 samples = 6 frames of 20 ms */
	for (int k = 0; k < 4; k++) {
		size_t off = rtp_header(b, 0, (uint16_t)k, 240u * (unsigned)k, false);
		memset(b + off, 0xff, 240);
		send_pkt(x, b, off + 240);
	}
	assert_int_equal(cap.n, 6);
	for (unsigned i = 1; i < cap.n; i++)
		assert_int_equal(ts_of(cap.buf[i]) - ts_of(cap.buf[i - 1]), 960);
	/* one second of silence suppressed: the far timeline jumps as far */
	uint32_t last = ts_of(cap.buf[cap.n - 1]);
	size_t off = rtp_header(b, 0, 4, 960 + 8000, true);
	memset(b + off, 0xff, 160);
	send_pkt(x, b, off + 160);
	assert_int_equal(cap.n, 7);
	assert_int_equal(ts_of(cap.buf[6]) - last, 960 + 48000);
	assert_true(cap.buf[6][1] & 0x80);
	/* a late packet (from before the queue's end) is dropped */
	off = rtp_header(b, 0, 2, 480, false);
	send_pkt(x, b, off + 160);
	assert_int_equal(cap.n, 7);
	media_xcode_free(x);
}

static void test_events_and_junk(void **state)
{
	(void)state;
	static struct capture cap;
	memset(&cap, 0, sizeof(cap));
	struct media_xcode *x = mk(&cap, MEDIA_CODEC_PCMU, 0, MEDIA_CODEC_OPUS, 111);
	uint8_t b[256];
	size_t off = rtp_header(b, 0, 1, 16000, true);
	memset(b + off, 0xff, 160);
	send_pkt(x, b, off + 160);
	uint32_t audio_ts = ts_of(cap.buf[0]);
	/* digit 5, 400 ms = 3200 units at 8 kHz, at the audio's time + 20 ms */
	off = rtp_header(b, 101, 2, 16160, true);
	b[off] = 5, b[off + 1] = 0x80 | 10, b[off + 2] = 3200 >> 8, b[off + 3] = 3200 & 0xff;
	send_pkt(x, b, off + 4);
	assert_int_equal(cap.n, 2);
	assert_int_equal(cap.buf[1][1] & 0x7f, 110);
	assert_int_equal(cap.buf[1][12], 5);
	assert_int_equal(cap.buf[1][13], 0x80 | 10);
	assert_int_equal(cap.buf[1][14] << 8 | cap.buf[1][15], 3200 * 6 > 0xffff ? 0xffff : 3200 * 6);
	assert_int_equal(ts_of(cap.buf[1]) - audio_ts, 960);
	/* comfort noise, another format, not RTP, truncated: nothing comes out */
	off = rtp_header(b, 13, 3, 16320, false);
	send_pkt(x, b, off + 1);
	b[0] = 0x40;
	send_pkt(x, b, 20);
	rtp_header(b, 0, 4, 16480, false);
	b[0] = 0x8f; /* 15 CSRCs announced, none there */
	send_pkt(x, b, 20);
	assert_int_equal(cap.n, 2);
	media_xcode_free(x);
	/* pairs that are not transcoded */
	struct media_codec_side u = { MEDIA_CODEC_PCMU, 0, -1, 0 }, o = { MEDIA_CODEC_OPUS, 111, -1, 0 },
				 n = { MEDIA_CODEC_NONE, 18, -1, 0 };
	assert_int_equal(media_xcode_alloc(&x, &u, &u, &scratch), EINVAL);
	assert_int_equal(media_xcode_alloc(&x, &u, &n, &scratch), EINVAL);
	assert_int_equal(media_xcode_alloc(&x, &o, &u, NULL), EINVAL);
	assert_true(media_codec_transcodable(MEDIA_CODEC_PCMA, MEDIA_CODEC_OPUS));
	assert_false(media_codec_transcodable(MEDIA_CODEC_OPUS, MEDIA_CODEC_OPUS));
	assert_int_equal(media_codec_of("opus", 48000), MEDIA_CODEC_OPUS);
	assert_int_equal(media_codec_of("PCMU", 8000), MEDIA_CODEC_PCMU);
	assert_int_equal(media_codec_of("G722", 8000), MEDIA_CODEC_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_g711),
		cmocka_unit_test(test_pcmu_to_opus),
		cmocka_unit_test(test_opus_to_pcma),
		cmocka_unit_test(test_reframing_and_gaps),
		cmocka_unit_test(test_events_and_junk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
