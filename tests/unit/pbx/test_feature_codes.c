/* Unit tests for feature access codes (src/pbx/feature_codes.c). Method: the
 * defaults checked against the rules they impose on overrides (unique, none a
 * prefix of another), overrides applied and refused with the field named, and
 * matching dialled strings (a code alone, a code with a number, a default that
 * an override replaced). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pbx/feature_codes.h"

static json_t *js(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	return j;
}

static void test_defaults_are_a_valid_set(void **state)
{
	struct feature_codes c;
	struct sched_err err;
	assert_int_equal(feature_codes_from_json(&c, NULL, NULL, &err), 0);
	json_t *empty = js("{}");
	assert_int_equal(feature_codes_from_json(&c, empty, NULL, &err), 0);
	json_decref(empty);
	for (int i = 0; i < FEATURE_COUNT; i++) {
		const struct feature_info *f = feature_info(i);
		assert_non_null(f);
		assert_true(feature_code_valid(f->code));
		assert_string_equal(c.code[i], f->code);
		assert_int_equal(feature_by_name(f->name), i);
	}
	assert_null(feature_info(FEATURE_COUNT));
	assert_int_equal(feature_by_name("park"), -1);
	assert_string_equal(c.code[FEATURE_DND_ON], "*78");
	assert_true(feature_info(FEATURE_FWD_ALL_ON)->number);
	assert_false(feature_info(FEATURE_FWD_ALL_OFF)->number);
}

static void test_code_format(void **state)
{
	static const char *const good[] = { "*1", "*12", "*123", "*1234", "*0" };
	static const char *const bad[] = { "", "*", "*12345", "78", "**1", "*1a", "#1", "* 1", "*-1" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(feature_code_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(feature_code_valid(bad[i]));
	assert_false(feature_code_valid(NULL));
}

static void expect_refused(const char *overrides, const char *code, const char *field)
{
	struct feature_codes c;
	struct sched_err err;
	json_t *o = js(overrides);
	assert_int_equal(feature_codes_from_json(&c, o, "codes", &err), EINVAL);
	json_decref(o);
	assert_string_equal(err.code, code);
	assert_string_equal(err.field, field);
	assert_int_equal(strncmp(err.msg, field, strlen(field)), 0);
	/* refused, the codes are the defaults: nothing half-applied */
	for (int i = 0; i < FEATURE_COUNT; i++)
		assert_string_equal(c.code[i], feature_info(i)->code);
}

static void test_overrides(void **state)
{
	struct feature_codes c;
	struct sched_err err;
	json_t *o = js("{\"dnd_on\": \"*11\", \"forward_all_on\": \"*4\", \"dnd_off\": \"\"}");
	assert_int_equal(feature_codes_from_json(&c, o, NULL, &err), 0);
	json_decref(o);
	assert_string_equal(c.code[FEATURE_DND_ON], "*11");
	assert_string_equal(c.code[FEATURE_FWD_ALL_ON], "*4");
	assert_string_equal(c.code[FEATURE_DND_OFF], "*79"); /* "": the default */
	o = js("{\"dnd_on\": \"*79\", \"dnd_off\": \"*78\"}"); /* a swap */
	assert_int_equal(feature_codes_from_json(&c, o, NULL, &err), 0);
	json_decref(o);
	expect_refused("{\"park\": \"*8\"}", "unknown_field", "codes.park");
	expect_refused("{\"dnd_on\": \"78\"}", "invalid_field", "codes.dnd_on");
	expect_refused("{\"dnd_on\": 78}", "invalid_field", "codes.dnd_on");
	expect_refused("{\"dnd_off\": \"*78\"}", "invalid_field", "codes.dnd_off");
	expect_refused("{\"dnd_on\": \"*11\", \"voicemail\": \"*11\"}", "invalid_field", "codes.voicemail");
	expect_refused("{\"call_waiting_on\": \"*7\"}", "invalid_field", "codes.call_waiting_on");
	expect_refused("{\"voicemail\": \"*781\"}", "invalid_field", "codes.voicemail");
	expect_refused("{\"dnd_on\": \"*11\", \"dnd_off\": \"*1\"}", "invalid_field", "codes.dnd_off");
	json_t *arr = js("[]");
	assert_int_equal(feature_codes_from_json(&c, arr, "codes", &err), EINVAL);
	assert_string_equal(err.field, "codes");
	json_decref(arr);
	/* no err: the answer alone */
	o = js("{\"dnd_off\": \"*78\"}");
	assert_int_equal(feature_codes_from_json(&c, o, NULL, NULL), EINVAL);
	json_decref(o);
}

static void test_match(void **state)
{
	struct feature_codes c;
	const char *arg = NULL;
	feature_codes_default(&c);
	assert_int_equal(feature_match(&c, "*78", &arg), FEATURE_DND_ON);
	assert_string_equal(arg, "");
	assert_int_equal(feature_match(&c, "*72102", &arg), FEATURE_FWD_ALL_ON);
	assert_string_equal(arg, "102");
	assert_int_equal(feature_match(&c, "*72", &arg), -1);    /* the number is missing */
	assert_int_equal(feature_match(&c, "*781", &arg), -1);   /* DND takes no number */
	assert_int_equal(feature_match(&c, "*72ab", &arg), -1);
	assert_int_equal(feature_match(&c, "*00", &arg), -1);
	assert_int_equal(feature_match(&c, "", &arg), -1);
	json_t *o = js("{\"dnd_on\": \"*11\", \"forward_busy_on\": \"*4\"}");
	assert_int_equal(feature_codes_from_json(&c, o, NULL, NULL), 0);
	json_decref(o);
	assert_int_equal(feature_match(&c, "*11", &arg), FEATURE_DND_ON);
	assert_int_equal(feature_match(&c, "*78", &arg), -1); /* replaced, not kept beside */
	assert_int_equal(feature_match(&c, "*4201", &arg), FEATURE_FWD_BUSY_ON);
	assert_string_equal(arg, "201");
	assert_int_equal(feature_match(&c, "*90201", &arg), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_are_a_valid_set),
		cmocka_unit_test(test_code_format),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
