/* G.711 μ-law and A-law (ITU-T G.711): a sign, a 3-bit segment (the position
 * of the magnitude's leading one) and a 4-bit step within it; μ-law biases the
 * magnitude by 33 (in 14-bit units) so that its segments double from zero,
 * A-law's first two segments are linear. Decoding gives the middle of the
 * step. Both complement bits on the wire (μ-law all of them, A-law the even
 * ones, 0x55) as the standard has it. */
#include "media/g711.h"

/* The segment of magnitude m whose segments end at base<<0 .. base<<7 (so
 * segment s covers up to (base << s)); 8 when m is beyond the last. */
static unsigned seg_of(unsigned m, unsigned base)
{
	unsigned s = 0;
	while (s < 8 && m > (base << s) - 1)
		s++;
	return s;
}

uint8_t g711_ulaw_encode(int16_t pcm)
{
	int v = pcm >> 2; /* 14-bit */
	uint8_t flip = 0xff;
	if (v < 0) {
		v = -v;
		flip = 0x7f; /* a negative sample: sign bit 0 after the complement */
	}
	if (v > 8159)
		v = 8159;
	unsigned m = (unsigned)v + 33;
	unsigned s = seg_of(m, 64);
	if (s > 7)
		return (uint8_t)(0x7f ^ flip);
	return (uint8_t)(((s << 4) | ((m >> (s + 1)) & 0x0f)) ^ flip);
}

int16_t g711_ulaw_decode(uint8_t u)
{
	u = (uint8_t)~u;
	int t = (((u & 0x0f) << 3) + 0x84) << ((u >> 4) & 7);
	return (int16_t)(u & 0x80 ? 0x84 - t : t - 0x84);
}

uint8_t g711_alaw_encode(int16_t pcm)
{
	int v = pcm >> 3; /* 13-bit */
	uint8_t flip = 0xd5; /* positive: sign bit 1, then the even bits */
	if (v < 0) {
		v = -v - 1;
		flip = 0x55;
	}
	unsigned m = (unsigned)v;
	unsigned s = seg_of(m, 32);
	if (s > 7)
		return (uint8_t)(0x7f ^ flip);
	unsigned step = s < 2 ? (m >> 1) & 0x0f : (m >> s) & 0x0f;
	return (uint8_t)(((s << 4) | step) ^ flip);
}

int16_t g711_alaw_decode(uint8_t a)
{
	a ^= 0x55;
	unsigned s = (a >> 4) & 7;
	int t = (a & 0x0f) << 4;
	t += s ? 0x108 : 8;
	if (s > 1)
		t <<= s - 1;
	return (int16_t)(a & 0x80 ? t : -t);
}
