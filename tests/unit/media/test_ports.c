/* Unit tests for the RTP port allocator (src/media/ports.c) with real sockets on
 * 127.0.0.1, in a small range below the kernel's ephemeral ports so that nothing
 * else is likely to hold them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "media/media.h"

static uint16_t local_port(int fd)
{
	struct sa a = { .len = sizeof(a.u) };
	assert_int_equal(getsockname(fd, &a.u.sa, &a.len), 0);
	return sa_port(&a);
}

static void test_parse_range(void **state)
{
	(void)state;
	uint16_t a, b;
	assert_int_equal(media_ports_parse_range("20000-30000", &a, &b), 0);
	assert_int_equal(a, 20000);
	assert_int_equal(b, 30000);
	assert_int_equal(media_ports_parse_range("5-5", &a, &b), 0);
	assert_int_equal(media_ports_parse_range("30000-20000", &a, &b), EINVAL);
	assert_int_equal(media_ports_parse_range("0-10", &a, &b), EINVAL);
	assert_int_equal(media_ports_parse_range("1-70000", &a, &b), EINVAL);
	assert_int_equal(media_ports_parse_range("1000", &a, &b), EINVAL);
	assert_int_equal(media_ports_parse_range("1000-", &a, &b), EINVAL);
	assert_int_equal(media_ports_parse_range("a-b", &a, &b), EINVAL);
	assert_int_equal(media_ports_parse_range(NULL, &a, &b), EINVAL);
}

static void test_bad_ranges(void **state)
{
	(void)state;
	struct media_ports *p;
	assert_int_equal(media_ports_alloc(&p, "127.0.0.1", 23001, 23001), EINVAL); /* no even port */
	assert_int_equal(media_ports_alloc(&p, "127.0.0.1", 23000, 23000), EINVAL); /* no odd one */
	assert_int_equal(media_ports_alloc(&p, "127.0.0.1", 0, 100), EINVAL);
	assert_int_equal(media_ports_alloc(&p, "not-an-address", 23000, 23009), EINVAL);
}

/* Pairs are even/odd, consecutive, within range; the range runs out with
 * EADDRINUSE; a released pair is handed out again. */
static void test_pairs_exhaust_reuse(void **state)
{
	(void)state;
	struct media_ports *p;
	/* 23101 rounds up to 23102: pairs 23102, 23104, 23106 (23108 lacks 23109). */
	assert_int_equal(media_ports_alloc(&p, "127.0.0.1", 23101, 23108), 0);
	struct media_sockpair sp[4];
	for (int i = 0; i < 3; i++) {
		assert_int_equal(media_ports_get(p, &sp[i]), 0);
		assert_int_equal(sp[i].port, 23102 + 2 * i);
		assert_int_equal(sp[i].port % 2, 0);
		assert_int_equal(local_port(sp[i].rtp), sp[i].port);
		assert_int_equal(local_port(sp[i].rtcp), sp[i].port + 1);
	}
	assert_int_equal(media_ports_in_use(p), 3);
	assert_int_equal(media_ports_get(p, &sp[3]), EADDRINUSE);

	/* Release the middle one: it is the only one free, so it comes back. */
	uint16_t mid = sp[1].port;
	media_ports_put(p, &sp[1]);
	assert_int_equal(sp[1].rtp, -1);
	assert_int_equal(media_ports_in_use(p), 2);
	assert_int_equal(media_ports_get(p, &sp[1]), 0);
	assert_int_equal(sp[1].port, mid);

	/* Next-fit: after releasing the first and the last, the search continues
	 * after the last given (23104), so 23106 comes before the wrap to 23102. */
	media_ports_put(p, &sp[0]);
	media_ports_put(p, &sp[2]);
	assert_int_equal(media_ports_get(p, &sp[2]), 0);
	assert_int_equal(sp[2].port, 23106);
	assert_int_equal(media_ports_get(p, &sp[0]), 0);
	assert_int_equal(sp[0].port, 23102);
	for (int i = 0; i < 3; i++)
		media_ports_put(p, &sp[i]);
	assert_int_equal(media_ports_in_use(p), 0);
	media_ports_free(p);
}

/* A port some other socket holds is skipped, not an error. */
static void test_skips_busy(void **state)
{
	(void)state;
	struct sa a;
	assert_int_equal(sa_set(&a, "127.0.0.1", 23203), 0); /* the RTCP port of pair 23202 */
	int other = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(other >= 0);
	assert_int_equal(bind(other, &a.u.sa, a.len), 0);
	struct media_ports *p;
	assert_int_equal(media_ports_alloc(&p, "127.0.0.1", 23200, 23205), 0);
	struct media_sockpair s1, s2, s3;
	assert_int_equal(media_ports_get(p, &s1), 0);
	assert_int_equal(s1.port, 23200);
	assert_int_equal(media_ports_get(p, &s2), 0);
	assert_int_equal(s2.port, 23204);
	assert_int_equal(media_ports_get(p, &s3), EADDRINUSE);
	media_ports_put(p, &s1);
	media_ports_put(p, &s2);
	media_ports_free(p);
	close(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_range),
		cmocka_unit_test(test_bad_ranges),
		cmocka_unit_test(test_pairs_exhaust_reuse),
		cmocka_unit_test(test_skips_busy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
