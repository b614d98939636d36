/* Feature access codes (issue 13, CALL-14): the codes a tenant's users dial for
 * their own extension (DND, forwarding, call waiting, voicemail...), with the
 * defaults of pbx/feature_codes.h, which a tenant admin may change. The store
 * keeps only the codes that differ from the defaults ({"dnd_on": "*11"}); the
 * answer lists every feature with its code and default.
 *
 * A code is * and 1 to 4 digits; the tenant's codes, defaults included, are
 * unique and none is a prefix of another (a phone dials digit by digit: *7
 * would hide *78). An update names the features it changes; "" puts one back
 * to its default. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "pbx/feature_codes.h"

/* --- schemas ------------------------------------------------------------------------- */

static int check_code(const char *v, const char **why)
{
	*why = "must be * followed by 1 to 4 digits (\"\": the default)";
	return !feature_code_valid(v);
}

#define CODE_FIELD(id, nm, cd, num, d) \
	{ nm, API_T_STRING, 0, 0, FEATURE_CODE_SZ - 1, NULL, check_code, NULL, 0, d " (default " cd ")" },
static const struct api_field codes_fields[] = { FEATURE_LIST(CODE_FIELD) };
#undef CODE_FIELD
const struct api_schema api_s_feature_codes = API_SCHEMA("FeatureCodesUpdate", codes_fields,
	"Codes to change, by feature; \"\" puts a feature back to its default code");

static const struct api_field code_fields[] = {
	{ "feature", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 1, 32, NULL, NULL, NULL, 0, "e.g. dnd_on" },
	{ "code", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 2, 5, NULL, NULL, NULL, 0, "What is dialled" },
	{ "default_code", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 2, 5, NULL, NULL, NULL, 0, NULL },
	{ "takes_number", API_T_BOOL, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	  "The code is followed by a destination number (*72102: forward every call to 102)" },
	{ "description", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0, NULL },
};
static const struct api_schema s_code = API_SCHEMA("FeatureCode", code_fields, NULL);

static const struct api_field list_fields[] = {
	{ "count", API_T_INT, API_F_READONLY | API_F_REQUIRED, 0, FEATURE_COUNT, NULL, NULL, NULL, 0, NULL },
	{ "items", API_T_ARRAY, API_F_READONLY | API_F_REQUIRED, 0, FEATURE_COUNT, NULL, NULL, &s_code, 0, NULL },
};
const struct api_schema api_s_feature_code_list = API_SCHEMA("FeatureCodeList", list_fields,
	"Every feature with the tenant's code for it");

/* --- routes --------------------------------------------------------------------------- */

static json_t *codes_json(const struct feature_codes *c)
{
	json_t *items = json_array();
	for (int i = 0; i < FEATURE_COUNT; i++) {
		const struct feature_info *f = feature_info(i);
		json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:b, s:s}", "feature", f->name, "code",
						       c->code[i], "default_code", f->code, "takes_number", f->number,
						       "description", f->desc));
	}
	return json_pack("{s:i, s:o}", "count", FEATURE_COUNT, "items", items);
}

/* The stored overrides (an object; {} for none). */
static json_t *overrides_load(const struct store_tenant_settings *ts)
{
	json_t *o = ts->feature_codes[0] ? json_loads(ts->feature_codes, 0, NULL) : NULL;
	if (json_is_object(o))
		return o;
	json_decref(o);
	return json_object();
}

void api_h_feature_codes_get(struct api_req *rq, struct api_resp *rs)
{
	struct store_tenant_settings ts;
	struct feature_codes c;
	int e = store_tenant_settings_get(rq->st, rq->who.tenant_id, &ts);
	if (e) {
		api_store_error(rs, rq->st, e, "tenant");
		return;
	}
	json_t *o = overrides_load(&ts);
	if (feature_codes_from_json(&c, o, NULL, NULL))
		feature_codes_default(&c); /* as the call engine does */
	json_decref(o);
	api_ok(rs, 200, codes_json(&c));
}

/* The body's codes applied to the stored overrides (a default is no override),
 * the whole set checked; into ts. 0, or the status put in rs. */
static int codes_apply(struct store_tenant_settings *ts, const json_t *body, struct feature_codes *c,
		       struct api_resp *rs)
{
	json_t *o = overrides_load(ts);
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)body, k, v) {
		const struct feature_info *f = feature_info(feature_by_name(k));
		const char *code = json_string_value(v);
		if (!f || !code)
			continue; /* the schema let neither through */
		if (!*code || strcmp(code, f->code) == 0)
			json_object_del(o, k);
		else
			json_object_set(o, k, v);
	}
	struct sched_err err;
	int e = feature_codes_from_json(c, o, NULL, &err);
	char *txt = e ? NULL : json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (e)
		return api_sched_error(rs, &err);
	if (!txt || strlen(txt) >= sizeof(ts->feature_codes)) {
		free(txt);
		return api_error(rs, 500, "internal", NULL, "cannot store the codes");
	}
	snprintf(ts->feature_codes, sizeof(ts->feature_codes), "%s", txt);
	free(txt);
	return 0;
}

void api_h_feature_codes_update(struct api_req *rq, struct api_resp *rs)
{
	for (int i = 0; i < API_EDIT_TRIES; i++) {
		struct store_tenant_settings ts;
		struct feature_codes c;
		int e = store_tenant_settings_get(rq->st, rq->who.tenant_id, &ts);
		if (e) {
			api_store_error(rs, rq->st, e, "tenant");
			return;
		}
		if (codes_apply(&ts, rq->json, &c, rs))
			return;
		e = store_tenant_settings_update(rq->st, &ts);
		if (e == ESTALE)
			continue;
		if (e) {
			api_store_error(rs, rq->st, e, "tenant");
			return;
		}
		pbx_notify_tenant(rq->api->pbx, rq->who.tenant_id, true);
		api_ok(rs, 200, codes_json(&c));
		return;
	}
	api_error(rs, 409, "conflict", NULL, "the feature codes changed too often meanwhile; try again");
}
