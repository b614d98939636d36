/* In-process tests of the API's route table and request path (no socket): the
 * OpenAPI document lists exactly the routes served (API-01), unknown routes and
 * methods get the error shape (API-08), and random and mutated JSON bodies run
 * through every POST handler without a crash (the fuzz entry, bounded). */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openapi_matches_routes),
		cmocka_unit_test(test_unknown_route_and_method),
		cmocka_unit_test(test_fuzz_smoke),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
