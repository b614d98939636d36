/* Unit tests of the WebSocket framing (src/core/ws.c): the handshake's accept key
 * (RFC 6455 §1.3's example), client frames parsed (masked, every length form,
 * split anywhere) and refused (unmasked, reserved bits, unknown opcodes, long or
 * fragmented control frames, lengths not in their shortest form, too large),
 * and server frame headers. CDR-24. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ws.h"

static void test_accept_key(void **state)
{
	char out[WS_ACCEPT_SZ];
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	const char *bad[] = { "", "c2hvcnQ=", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ==x",
			      "dGhlIHNhbXBsZSBub25jZ*==", "dGhlIHNhbXBsZSBub25jZQ=A" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ws_accept_key(bad[i], out), EINVAL);
}

/* A masked client frame of len bytes of 'x' with opcode op into buf. */
static size_t client_frame(uint8_t *buf, uint8_t b0, size_t len)
{
	static const uint8_t mask[4] = { 0x11, 0x22, 0x33, 0x44 };
	size_t at;
	buf[0] = b0;
	if (len < 126) {
		buf[1] = (uint8_t)(0x80 | len);
		at = 2;
	} else if (len < 65536) {
		buf[1] = 0x80 | 126;
		buf[2] = (uint8_t)(len >> 8);
		buf[3] = (uint8_t)len;
		at = 4;
	} else {
		buf[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			buf[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
		at = 10;
	}
	memcpy(buf + at, mask, 4);
	for (size_t i = 0; i < len; i++)
		buf[at + 4 + i] = (uint8_t)('x' ^ mask[i & 3]);
	return at + 4 + len;
}

static void test_parse_lengths(void **state)
{
	static const size_t lens[] = { 0, 1, 125, 126, 65535, 65536, 70000 };
	uint8_t *buf = malloc(70000 + 14);
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		size_t n = client_frame(buf, 0x81, lens[k]);
		/* every prefix is incomplete */
		for (size_t cut = 0; cut < n; cut += cut < 20 ? 1 : 997) {
			struct ws_frame f;
			assert_int_equal(ws_frame_parse(buf, cut, 100000, &f), EAGAIN);
		}
		struct ws_frame f;
		assert_int_equal(ws_frame_parse(buf, n, 100000, &f), 0);
		assert_true(f.fin);
		assert_int_equal(f.op, WS_TEXT);
		assert_int_equal(f.len, lens[k]);
		assert_int_equal(f.size, n);
		for (size_t i = 0; i < f.len; i++)
			assert_int_equal(f.payload[i], 'x');
		/* over the limit: refused from the header alone */
		n = client_frame(buf, 0x81, lens[k]);
		if (lens[k])
			assert_int_equal(ws_frame_parse(buf, n < 14 ? n : 14, lens[k] - 1, &f), EMSGSIZE);
	}
	free(buf);
}

static void test_parse_two_frames(void **state)
{
	uint8_t buf[64];
	size_t a = client_frame(buf, 0x89, 3);          /* ping */
	size_t b = client_frame(buf + a, 0x88, 2);      /* close */
	struct ws_frame f;
	assert_int_equal(ws_frame_parse(buf, a + b, 125, &f), 0);
	assert_int_equal(f.op, WS_PING);
	assert_int_equal(f.size, a);
	assert_int_equal(ws_frame_parse(buf + a, b, 125, &f), 0);
	assert_int_equal(f.op, WS_CLOSE);
	assert_int_equal(f.len, 2);
}

static void test_parse_refusals(void **state)
{
	uint8_t buf[256];
	struct ws_frame f;
	client_frame(buf, 0x81, 5);
	buf[1] &= 0x7f; /* not masked */
	assert_int_equal(ws_frame_parse(buf, 11, 1000, &f), EPROTO);
	size_t n = client_frame(buf, 0xc1, 5); /* RSV1 */
	assert_int_equal(ws_frame_parse(buf, n, 1000, &f), EPROTO);
	n = client_frame(buf, 0x83, 5); /* reserved data opcode */
	assert_int_equal(ws_frame_parse(buf, n, 1000, &f), EPROTO);
	n = client_frame(buf, 0x8b, 5); /* reserved control opcode */
	assert_int_equal(ws_frame_parse(buf, n, 1000, &f), EPROTO);
	n = client_frame(buf, 0x09, 5); /* fragmented ping */
	assert_int_equal(ws_frame_parse(buf, n, 1000, &f), EPROTO);
	n = client_frame(buf, 0x89, 126); /* ping over 125 */
	assert_int_equal(ws_frame_parse(buf, n, 1000, &f), EPROTO);
	/* lengths not in their shortest form */
	uint8_t l16[] = { 0x81, 0x80 | 126, 0, 5, 1, 2, 3, 4, 0, 0, 0, 0, 0 };
	assert_int_equal(ws_frame_parse(l16, sizeof(l16), 1000, &f), EPROTO);
	uint8_t l64[] = { 0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0x01, 0, 1, 2, 3, 4 };
	assert_int_equal(ws_frame_parse(l64, sizeof(l64), 1000000, &f), EPROTO);
	uint8_t huge[] = { 0x81, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4 };
	assert_int_equal(ws_frame_parse(huge, sizeof(huge), SIZE_MAX, &f), EPROTO);
	uint8_t big[] = { 0x81, 0x80 | 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4 };
	assert_int_equal(ws_frame_parse(big, sizeof(big), SIZE_MAX, &f), EAGAIN);
}

static void test_header(void **state)
{
	uint8_t h[10];
	assert_int_equal(ws_frame_header(h, WS_TEXT, 0), 2);
	assert_int_equal(h[0], 0x81);
	assert_int_equal(h[1], 0);
	assert_int_equal(ws_frame_header(h, WS_PONG, 125), 2);
	assert_int_equal(h[0], 0x8a);
	assert_int_equal(h[1], 125);
	assert_int_equal(ws_frame_header(h, WS_TEXT, 126), 4);
	assert_int_equal(h[1], 126);
	assert_int_equal(h[2] << 8 | h[3], 126);
	assert_int_equal(ws_frame_header(h, WS_TEXT, 65535), 4);
	assert_int_equal(h[2] << 8 | h[3], 65535);
	assert_int_equal(ws_frame_header(h, WS_CLOSE, 65536), 10);
	assert_int_equal(h[0], 0x88);
	assert_int_equal(h[1], 127);
	assert_memory_equal(h + 2, "\0\0\0\0\0\1\0\0", 8);
}

/* The RFC 6455 §1.3 example, with the sip sub-protocol among others, split
 * anywhere: 0 until the empty line, then 101 with the accept key. */
static void test_upgrade_accepted(void **state)
{
	(void)state;
	const char *req = "GET /any/path?x=1 HTTP/1.1\r\nHost: pbx\r\nupgrade: WebSocket\r\n"
			  "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			  "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: foo, sip\r\n"
			  "Sec-WebSocket-Version: 13\r\n\r\nAFTER";
	struct ws_upgrade u;
	size_t head = strlen(req) - 5;
	for (size_t n = 0; n < head; n++)
		assert_int_equal(ws_upgrade_check(req, n, "sip", &u), 0);
	assert_int_equal(ws_upgrade_check(req, strlen(req), "sip", &u), 101);
	assert_int_equal(u.head_len, head);
	assert_string_equal(u.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_upgrade_refused(void **state)
{
	(void)state;
	static const struct {
		const char *req;
		int status;
		const char *why;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
		  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: chat, sipx\r\n\r\n",
		  400, "Sec-WebSocket-Protocol" },
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 426, "Upgrade: websocket" },
		{ "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\n"
		  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sip\r\n\r\n",
		  426, "version 13" },
		{ "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
		  "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Protocol: sip\r\n\r\n", 400, "Sec-WebSocket-Key" },
		{ "POST / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", 400, "GET" },
		{ "GET / HTTP/1.0\r\nUpgrade: websocket\r\n\r\n", 400, "HTTP/1.1" },
		{ "\r\n\r\n", 400, "GET" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ws_upgrade u;
		assert_int_equal(ws_upgrade_check(cases[i].req, strlen(cases[i].req), "sip", &u), cases[i].status);
		assert_non_null(strstr(u.why, cases[i].why));
		assert_non_null(u.reason);
	}
	/* no empty line within 8 KiB */
	char big[WS_HEAD_MAX + 10];
	memset(big, 'a', sizeof(big));
	struct ws_upgrade u;
	assert_int_equal(ws_upgrade_check(big, WS_HEAD_MAX - 1, "sip", &u), 0);
	assert_int_equal(ws_upgrade_check(big, sizeof(big), "sip", &u), 431);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_key),
		cmocka_unit_test(test_parse_lengths),
		cmocka_unit_test(test_parse_two_frames),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_upgrade_accepted),
		cmocka_unit_test(test_upgrade_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
