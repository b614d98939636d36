/* In-process tests of the API's route table and request path (no socket): the
 * OpenAPI document lists exactly the routes served (API-01), unknown routes and
 * methods get the error shape (API-08), and random and mutated JSON bodies run
 * through every POST handler without a crash (the fuzz entry, bounded). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/api_int.h"

static void lower(const char *m, char *out)
{
	size_t i = 0;
	for (; m[i]; i++)
		out[i] = (char)(m[i] - 'A' + 'a');
	out[i] = '\0';
}

/* Resolves every "$ref" inside v against the document's components. */
static void check_refs(const json_t *doc, const json_t *v)
{
	if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x) {
			if (strcmp(k, "$ref") == 0) {
				const char *r = json_string_value(x);
				assert_non_null(r);
				assert_int_equal(strncmp(r, "#/components/schemas/", 21), 0);
				assert_non_null(json_object_get(json_object_get(json_object_get(doc, "components"),
										"schemas"), r + 21));
			} else {
				check_refs(doc, x);
			}
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
			check_refs(doc, x);
	}
}

/* API-01: every route is documented, and every documented operation is a route. */
static void test_openapi_matches_routes(void **state)
{
	json_t *doc = api_openapi();
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
	json_t *paths = json_object_get(doc, "paths");
	size_t n, documented = 0;
	const struct api_route *r = api_routes(&n);
	for (size_t i = 0; i < n; i++) {
		char m[8];
		lower(r[i].method, m);
		json_t *op = json_object_get(json_object_get(paths, r[i].path), m);
		assert_non_null(op);
		assert_non_null(json_object_get(op, "responses"));
	}
	const char *p;
	json_t *item;
	json_object_foreach(paths, p, item) {
		const char *m;
		json_t *op;
		json_object_foreach(item, m, op) {
			bool found = false;
			for (size_t i = 0; i < n; i++) {
				char lm[8];
				lower(r[i].method, lm);
				found = found || (strcmp(r[i].path, p) == 0 && strcmp(lm, m) == 0);
			}
			assert_true(found);
			documented++;
		}
	}
	assert_int_equal(documented, n);
	check_refs(doc, doc);
	json_decref(doc);
}

static int call(const char *method, const char *path, json_t **body)
{
	struct api_req rq = { .method = method, .path = path, .source = "test" };
	struct api_resp rs = { 0 };
	api_handle(&rq, &rs);
	*body = rs.body;
	return rs.status;
}

/* API-08: no route is 404 not_found, a wrong method 405; both in the one shape. */
static void test_unknown_route_and_method(void **state)
{
	json_t *b;
	assert_int_equal(call("GET", "/api/nothing", &b), 404);
	assert_string_equal(json_string_value(json_object_get(json_object_get(b, "error"), "code")), "not_found");
	json_decref(b);
	assert_int_equal(call("DELETE", "/api/users", &b), 405);
	assert_string_equal(json_string_value(json_object_get(json_object_get(b, "error"), "code")),
			    "method_not_allowed");
	json_decref(b);
	assert_int_equal(call("GET", "/api/openapi.json", &b), 200);
	json_decref(b);
	/* signed-in routes answer 401 before anything else, even with a bad id */
	assert_int_equal(call("GET", "/api/users/x/extension", &b), 401);
	json_decref(b);
}

static const char *const seeds[] = {
	"\x00{\"username\":\"admin\",\"password\":\"fuzz-pass1\"}",
	"\x00{\"username\":\"fa\",\"password\":\"x\",\"domain\":\"fuzz.test\"}",
	"\x01{\"refresh_token\":\"abc\"}",
	"\x02{\"name\":\"N\",\"domain\":\"n.test\",\"admin\":{\"username\":\"n\",\"password\":\"pass-word1\"}}",
	"\x03{\"limits\":{\"max_users\":3},\"enabled\":true}",
	("\x04{\"username\":\"u2\",\"password\":\"pass-word1\",\"email\":\"u2@x.io\",\"extension_number\":\"102\","
	 "\"extension_password\":\"sipsecret2\"}"),
	"\x05{\"display_name\":\"X\",\"role\":\"admin\"}",
	"\x06{\"forwarding\":{\"exceptions\":[{\"caller_id\":\"1\",\"destination\":{\"action\":\"number\"}}]}}",
	"\x07{\"dnd\":true,\"voicemail\":{\"pin\":\"12\"}}",
	"\x08{\"email\":\"bad\"}",
	"\x09role eq 'admin' and enabled eq true",
	"\x09username eq 'it''s'",
	"\x06{\"outbound_caller_ids\":[{\"trunk\":\"t\",\"caller_id\":\"022000\"}],\"max_simultaneous_calls\":0}",
	"\x04[1,2,3]",
	"\x04{\"username\":1}",
	"\x04{\"a\":{\"b\":{\"c\":[[[[[]]]]]}}}",
};

/* A small deterministic mutation fuzz over the seeds; `make test` also runs the
 * lead's libFuzzer target on api_request_fuzz for a bounded time. */
static void test_fuzz_smoke(void **state)
{
	unsigned seed = 12345;
	uint8_t buf[512];
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		size_t len = 1 + strlen(seeds[i] + 1);
		api_request_fuzz((const uint8_t *)seeds[i], len);
	}
	for (int iter = 0; iter < 3000; iter++) {
		const char *s = seeds[rand_r(&seed) % (sizeof(seeds) / sizeof(seeds[0]))];
		size_t len = 1 + strlen(s + 1);
		memcpy(buf, s, len);
		int muts = 1 + rand_r(&seed) % 4;
		for (int m = 0; m < muts; m++) {
			size_t at = 1 + rand_r(&seed) % (len > 1 ? len - 1 : 1);
			switch (rand_r(&seed) % 4) {
			case 0: buf[at] = (uint8_t)rand_r(&seed); break;
			case 1: if (len > 2) { memmove(buf + at, buf + at + 1, len - at - 1); len--; } break;
			case 2: if (len < sizeof(buf) - 1) { memmove(buf + at + 1, buf + at, len - at); buf[at] = "{}[]\",:0a"[rand_r(&seed) % 9]; len++; } break;
			default: len = at; break;
			}
		}
		api_request_fuzz(buf, len);
	}
}

/* The failed sign-in limit (auth.c): IPv6 sources by their /64, per-account
 * counters beside a higher per-source ceiling, success clearing the account,
 * and blocked slots never evicted (a full table refuses instead). */
static void test_ratelimit(void **state)
{
	struct api_ratelimit *rl;
	struct api_rl_keys k, k2;
	const char *why;
	assert_int_equal(api_ratelimit_alloc(&rl, 2, 60), 0);

	/* one /64 is one source: ten times the limit across accounts, then blocked */
	char user[32];
	for (int i = 0; i < 20; i++) {
		snprintf(user, sizeof(user), "u%d", i);
		api_ratelimit_keys(&k, i % 2 ? "2001:db8:1:2::1" : "2001:db8:1:2:ffff::9", "a.test", user);
		assert_int_equal(api_ratelimit_begin(rl, &k, &why), 0);
	}
	api_ratelimit_keys(&k, "2001:db8:1:2::77", "a.test", "fresh");
	assert_true(api_ratelimit_begin(rl, &k, &why) > 0);
	assert_non_null(strstr(why, "address"));
	api_ratelimit_keys(&k, "2001:db8:1:3::1", "a.test", "fresh"); /* the next /64 */
	assert_int_equal(api_ratelimit_begin(rl, &k, &why), 0);

	/* IPv4 and IPv4-mapped IPv6 are one source; accounts are case-insensitive */
	api_ratelimit_keys(&k, "192.0.2.7", "B.test", "Bob");
	api_ratelimit_keys(&k2, "::ffff:192.0.2.7", "b.TEST", "bob");
	assert_memory_equal(&k, &k2, sizeof(k));
	assert_int_equal(api_ratelimit_begin(rl, &k, &why), 0);
	assert_int_equal(api_ratelimit_begin(rl, &k, &why), 0);
	assert_true(api_ratelimit_begin(rl, &k2, &why) > 0);
	assert_non_null(strstr(why, "account"));
	/* the account, not the address: another account from it goes on */
	api_ratelimit_keys(&k2, "192.0.2.7", "b.test", "carol");
	assert_int_equal(api_ratelimit_begin(rl, &k2, &why), 0);
	api_ratelimit_success(rl, &k2);
	assert_int_equal(api_ratelimit_begin(rl, &k2, &why), 0);
	assert_int_equal(api_ratelimit_begin(rl, &k2, &why), 0);
	api_ratelimit_success(rl, &k2); /* clears carol's two */
	assert_int_equal(api_ratelimit_begin(rl, &k2, &why), 0);
	api_ratelimit_free(rl);

	/* a table full of blocked accounts: new ones wait, the blocked stay blocked */
	assert_int_equal(api_ratelimit_alloc(&rl, 1, 60), 0);
	char src[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(src, sizeof(src), "10.%d.%d.1", i / 250, i % 250);
		snprintf(user, sizeof(user), "u%d", i);
		api_ratelimit_keys(&k, src, "c.test", user);
		int w = api_ratelimit_begin(rl, &k, &why);
		if (w) {
			assert_true(i >= 4096);
			assert_non_null(strstr(why, "blocked"));
		}
	}
	for (int i = 0; i < 4096; i += 511) {
		snprintf(user, sizeof(user), "u%d", i);
		api_ratelimit_keys(&k, "10.200.0.1", "c.test", user);
		assert_true(api_ratelimit_begin(rl, &k, &why) > 0);
	}
	api_ratelimit_free(rl);
}

/* Generated passwords: the length asked for, the alphabet, a digit at the end. */
static void test_random_text(void **state)
{
	char pw[17];
	for (int i = 0; i < 200; i++) {
		assert_int_equal(api_random_text(pw, sizeof(pw)), 0);
		assert_int_equal(strlen(pw), 16);
		assert_int_equal(strspn(pw, "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"), 16);
		assert_true(pw[15] >= '2' && pw[15] <= '9');
		const char *why;
		assert_int_equal(api_check_password(pw, &why), 0);
	}
	assert_int_equal(api_random_text(pw, 2), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openapi_matches_routes),
		cmocka_unit_test(test_unknown_route_and_method),
		cmocka_unit_test(test_fuzz_smoke),
		cmocka_unit_test(test_ratelimit),
		cmocka_unit_test(test_random_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
