/* The source an HTTP connection is counted against (http.c): an IPv4 address,
 * the /64 of an IPv6 one, a v4-mapped address as its IPv4. Loopback offers only
 * ::1, so the wire tests cannot show several addresses of one /64; this does. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "api/api_int.h"

static void key_of(const char *addr, uint8_t key[API_HTTP_SOURCE_SZ])
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(40000);
	} else {
		assert_int_equal(inet_pton(AF_INET6, addr, &in6->sin6_addr), 1);
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(40001);
	}
	api_http_source_key((const struct sockaddr *)&ss, key);
}

static bool same(const char *a, const char *b)
{
	uint8_t ka[API_HTTP_SOURCE_SZ], kb[API_HTTP_SOURCE_SZ];
	key_of(a, ka);
	key_of(b, kb);
	return memcmp(ka, kb, API_HTTP_SOURCE_SZ) == 0;
}

static void test_ipv4_counts_per_address(void **state)
{
	assert_true(same("192.0.2.1", "192.0.2.1"));
	assert_false(same("192.0.2.1", "192.0.2.2"));
	assert_false(same("127.0.0.2", "127.0.0.3"));
}

static void test_ipv6_counts_per_64(void **state)
{
	/* Every address of one /64 is one source, however many a host takes. */
	assert_true(same("2001:db8:1:2::1", "2001:db8:1:2::2"));
	assert_true(same("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"));
	assert_true(same("2001:db8:1:2:aaaa::1", "2001:db8:1:2:5555::9"));
	/* The next /64 is another. */
	assert_false(same("2001:db8:1:2::1", "2001:db8:1:3::1"));
	assert_false(same("2001:db8:1:2::1", "2001:db9:1:2::1"));
	assert_true(same("::1", "::2"));
}

static void test_v4_mapped_is_its_ipv4(void **state)
{
	/* A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d. */
	assert_true(same("::ffff:192.0.2.1", "192.0.2.1"));
	assert_false(same("::ffff:192.0.2.1", "::ffff:192.0.2.2"));
	assert_false(same("::ffff:192.0.2.1", "192.0.2.2"));
	/* and not the /64 ::ffff:0:0/64 shared by every IPv4 client */
	assert_false(same("::ffff:10.0.0.1", "::ffff:10.0.0.2"));
	/* An IPv4 address and an IPv6 address with the same leading bytes differ. */
	assert_false(same("192.0.2.1", "c000:201::"));
}

static void test_other_families(void **state)
{
	uint8_t k[API_HTTP_SOURCE_SZ], zero[API_HTTP_SOURCE_SZ] = { 0 };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	memset(k, 0xaa, sizeof(k));
	api_http_source_key((const struct sockaddr *)&un, k);
	assert_memory_equal(k, zero, sizeof(k));
	memset(k, 0xaa, sizeof(k));
	api_http_source_key(NULL, k);
	assert_memory_equal(k, zero, sizeof(k));
	key_of("0.0.0.0", k);
	assert_memory_not_equal(k, zero, sizeof(k)); /* tagged, so not the unknown key */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_counts_per_address),
		cmocka_unit_test(test_ipv6_counts_per_64),
		cmocka_unit_test(test_v4_mapped_is_its_ipv4),
		cmocka_unit_test(test_other_families),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
