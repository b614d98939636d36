/* Unit tests of STUN for ICE-lite (src/media/stun.c) on the test vectors of
 * RFC 5769 (§2.1 request, §2.2 IPv4 response, §2.3 IPv6 response, password
 * "VOkJxbRl1RmTxUk/WvJxBt"), then round trips and refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "media/stun.h"

static const char PW[] = "VOkJxbRl1RmTxUk/WvJxBt";
static const uint8_t TID[12] = { 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae };

/* RFC 5769 §2.1 */
static const uint8_t REQ[] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
	0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
	0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
	0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
	0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
	0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 §2.2 */
static const uint8_t RESP4[] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
	0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
	0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
	0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 §2.3 */
static const uint8_t RESP6[] = {
	0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
	0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
	0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
	0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
	0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

static void test_rfc5769_request(void **state)
{
	(void)state;
	struct stun_msg m;
	assert_true(stun_is(REQ, sizeof(REQ)));
	assert_int_equal(stun_parse(REQ, sizeof(REQ), &m), 0);
	assert_int_equal(m.type, STUN_BINDING_REQUEST);
	assert_memory_equal(m.tid, TID, 12);
	assert_int_equal(m.username_len, 9);
	assert_memory_equal(m.username, "evtj:h6vY", 9);
	assert_int_equal(m.priority, 0x6e0001ff);
	assert_true(m.controlled);
	assert_false(m.controlling);
	assert_false(m.use_candidate);
	assert_true(m.tiebreaker == 0x932ff9b151263b36ull);
	assert_true(stun_integrity_ok(&m, PW, strlen(PW)));
	assert_false(stun_integrity_ok(&m, "VOkJxbRl1RmTxUk/WvJxBr", strlen(PW)));
	assert_true(stun_fingerprint_ok(&m));
	/* a bit flipped anywhere before them breaks both */
	uint8_t bad[sizeof(REQ)];
	memcpy(bad, REQ, sizeof(REQ));
	bad[30] ^= 1;
	assert_int_equal(stun_parse(bad, sizeof(bad), &m), 0);
	assert_false(stun_integrity_ok(&m, PW, strlen(PW)));
	assert_false(stun_fingerprint_ok(&m));
}

static void test_rfc5769_responses(void **state)
{
	(void)state;
	struct stun_msg m;
	struct sa got, want;
	assert_int_equal(stun_parse(RESP4, sizeof(RESP4), &m), 0);
	assert_int_equal(m.type, STUN_BINDING_SUCCESS);
	assert_true(stun_integrity_ok(&m, PW, strlen(PW)));
	assert_true(stun_fingerprint_ok(&m));
	assert_int_equal(stun_xor_mapped(&m, &got), 0);
	assert_int_equal(sa_set(&want, "192.0.2.1", 32853), 0);
	assert_true(sa_eq(&got, &want));
	assert_int_equal(stun_parse(RESP6, sizeof(RESP6), &m), 0);
	assert_true(stun_integrity_ok(&m, PW, strlen(PW)));
	assert_true(stun_fingerprint_ok(&m));
	assert_int_equal(stun_xor_mapped(&m, &got), 0);
	assert_int_equal(sa_set(&want, "2001:db8:1234:5678:11:2233:4455:6677", 32853), 0);
	assert_true(sa_eq(&got, &want));
}

/* What pbxd builds is what the RFC's vectors are, byte for byte, but for the
 * SOFTWARE padding (RFC 5769 pads with spaces, pbxd with zeros: both valid and
 * covered by the integrity): compared with the padding made equal. */
static void test_build_matches_vectors(void **state)
{
	(void)state;
	uint8_t out[256];
	struct sa mapped;
	assert_int_equal(sa_set(&mapped, "192.0.2.1", 32853), 0);
	size_t n = stun_binding_success(out, sizeof(out), TID, &mapped, "test vector", PW, strlen(PW));
	assert_int_equal(n, sizeof(RESP4));
	assert_memory_equal(out, RESP4, 35);             /* up to the SOFTWARE value's end */
	assert_memory_equal(out + 36, RESP4 + 36, 12);   /* XOR-MAPPED-ADDRESS */
	struct stun_msg m;
	assert_int_equal(stun_parse(out, n, &m), 0);
	assert_true(stun_integrity_ok(&m, PW, strlen(PW)));
	assert_true(stun_fingerprint_ok(&m));
	struct sa got;
	assert_int_equal(stun_xor_mapped(&m, &got), 0);
	assert_true(sa_eq(&got, &mapped));

	struct stun_check c = { .username = "evtj:h6vY", .priority = 0x6e0001ff, .tiebreaker = 0x932ff9b151263b36ull,
				.software = "STUN test client" };
	n = stun_binding_request(out, sizeof(out), TID, &c, PW, strlen(PW));
	assert_int_equal(n, sizeof(REQ));
	assert_memory_equal(out, REQ, 72); /* through the USERNAME value */
	assert_int_equal(stun_parse(out, n, &m), 0);
	assert_true(stun_integrity_ok(&m, PW, strlen(PW)));
	assert_true(stun_fingerprint_ok(&m));
	assert_int_equal(m.tiebreaker, c.tiebreaker);

	/* too small a buffer: nothing */
	assert_int_equal(stun_binding_success(out, 40, TID, &mapped, NULL, PW, strlen(PW)), 0);
	n = stun_binding_error(out, sizeof(out), TID, 487, "Role Conflict", PW, strlen(PW));
	assert_true(n > STUN_HDR);
	assert_int_equal(stun_parse(out, n, &m), 0);
	assert_int_equal(m.type, STUN_BINDING_ERROR);
	assert_true(stun_integrity_ok(&m, PW, strlen(PW)));
}

static void test_refusals(void **state)
{
	(void)state;
	struct stun_msg m;
	uint8_t b[sizeof(REQ) + 8];
	memcpy(b, REQ, sizeof(REQ));
	assert_int_equal(stun_parse(b, 19, &m), EBADMSG);             /* short */
	assert_int_equal(stun_parse(b, sizeof(REQ) - 4, &m), EBADMSG); /* length says more */
	b[4] = 0;                                                      /* no magic cookie */
	assert_false(stun_is(b, sizeof(REQ)));
	memcpy(b, REQ, sizeof(REQ));
	b[0] = 0x80; /* RTP's first byte */
	assert_false(stun_is(b, sizeof(REQ)));
	memcpy(b, REQ, sizeof(REQ));
	b[23] = 0xff; /* SOFTWARE's length past the end */
	assert_int_equal(stun_parse(b, sizeof(REQ), &m), EBADMSG);
	/* an attribute after FINGERPRINT */
	memcpy(b, REQ, sizeof(REQ));
	const uint8_t extra[8] = { 0x80, 0x22, 0x00, 0x04, 'x', 'x', 'x', 'x' };
	memcpy(b + sizeof(REQ), extra, 8);
	b[3] = (uint8_t)(b[3] + 8);
	assert_int_equal(stun_parse(b, sizeof(b), &m), EBADMSG);
	/* an unknown comprehension-required attribute is told */
	uint8_t u[28] = { 0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42 };
	u[20] = 0x00;
	u[21] = 0x7f;
	assert_int_equal(stun_parse(u, sizeof(u), &m), 0);
	assert_int_equal(m.unknown_required, 0x7f);
	assert_false(stun_integrity_ok(&m, PW, strlen(PW)));
	assert_false(stun_fingerprint_ok(&m));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5769_request),
		cmocka_unit_test(test_rfc5769_responses),
		cmocka_unit_test(test_build_matches_vectors),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
