/* Unit tests for the descriptor budget (src/core/fdlimit.c): the shares at the
 * limits pbxd meets (systemd's 1024, 4096, 524288, tiny ones), that they never
 * add up past the limit less its reserve, that the answer does not depend on the
 * order of asking, and that fdlimit_raise lifts a soft limit below the hard one
 * in this very process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "core/fdlimit.h"

static void test_shares_at_known_limits(void **state)
{
	assert_int_equal(fdlimit_share_of(1024, FDLIMIT_SIP_TCP), 480);
	assert_int_equal(fdlimit_share_of(1024, FDLIMIT_HTTP), 120);
	assert_int_equal(fdlimit_share_of(1024, FDLIMIT_MEDIA), 360);
	assert_int_equal(fdlimit_share_of(256, FDLIMIT_SIP_TCP), 96);
	assert_int_equal(fdlimit_share_of(4096, FDLIMIT_SIP_TCP), 2016);
	/* at systemd's hard limit the defaults are not clamped */
	assert_true(fdlimit_share_of(524288, FDLIMIT_SIP_TCP) >= 8192);
	assert_true(fdlimit_share_of(524288, FDLIMIT_HTTP) >= 1024);
}

static void test_shares_fit_under_limit(void **state)
{
	for (unsigned limit = 0; limit < 100000; limit = limit * 3 / 2 + 1) {
		unsigned long long sum = 0;
		for (int u = 0; u < FDLIMIT_USER_COUNT; u++) {
			unsigned s = fdlimit_share_of(limit, (enum fdlimit_user)u);
			assert_true(s >= 1); /* nobody is shut out entirely */
			sum += s;
		}
		if (limit >= 16)
			assert_true(sum <= limit - (limit / 2 < FDLIMIT_RESERVE ? limit / 2 : FDLIMIT_RESERVE));
	}
	assert_int_equal(fdlimit_share_of(1024, FDLIMIT_USER_COUNT), 0);
}

static void test_share_is_min_of_want(void **state)
{
	unsigned cur = fdlimit_current();
	unsigned sip = fdlimit_share_of(cur, FDLIMIT_SIP_TCP);
	assert_int_equal(fdlimit_share(FDLIMIT_SIP_TCP, 5), sip < 5 ? sip : 5);
	assert_int_equal(fdlimit_share(FDLIMIT_SIP_TCP, 4000000000u), sip);
	/* asking for HTTP first changes nothing for SIP */
	fdlimit_share(FDLIMIT_HTTP, 1024);
	assert_int_equal(fdlimit_share(FDLIMIT_SIP_TCP, 4000000000u), sip);
}

static void test_raise_lifts_soft_limit(void **state)
{
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= 64)
		skip();
	rl.rlim_cur = 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(fdlimit_current(), 64);
	assert_int_equal(fdlimit_raise(), 0);
	struct rlimit now;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &now), 0);
	assert_true(now.rlim_cur > 64);
	if (rl.rlim_max != RLIM_INFINITY)
		assert_true(now.rlim_cur == rl.rlim_max);
	assert_int_equal(fdlimit_current(), now.rlim_cur > 4000000000u ? 4294967295u : (unsigned)now.rlim_cur);
	/* raising again is a no-op that still succeeds */
	assert_int_equal(fdlimit_raise(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shares_at_known_limits),
		cmocka_unit_test(test_shares_fit_under_limit),
		cmocka_unit_test(test_share_is_min_of_want),
		cmocka_unit_test(test_raise_lifts_soft_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
