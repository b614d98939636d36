/* `pbxctl feature-codes ...`: the codes the tenant's users dial for their own
 * extension (*78 DND on, *72N forward every call to N...). A tenant admin may
 * change any of them; pbxd refuses a code that is not * and 1 to 4 digits, one
 * that another feature has, and one that begins another (a phone dials digit by
 * digit). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static const struct ctl_col fac_cols[] = {
	{ "feature", "FEATURE" },
	{ "code", "CODE" },
	{ "default_code", "DEFAULT" },
	{ "takes_number", "NUMBER" },
	{ "description", "DESCRIPTION" },
};
#define FAC_NCOLS (sizeof(fac_cols) / sizeof(fac_cols[0]))
#define FAC_PATH "/api/feature_access_codes"

static int fac_send(struct ctl *c, json_t *body)
{
	json_t *resp = NULL;
	int err = ctl_api(c, "POST", FAC_PATH, body, &resp, NULL);
	if (!err)
		ctl_res_print_list(c, resp, fac_cols, FAC_NCOLS);
	json_decref(resp);
	return err;
}

int ctl_cmd_feature_codes(struct ctl *c, int argc, char **argv)
{
	struct ctl_args a;
	json_t *body = NULL, *resp = NULL;
	int err = ctl_args_parse(c, argc, argv, &a);

	if (err)
		return err;
	const char *verb = a.npos ? a.pos[0] : "list";
	if (strcmp(verb, "list") == 0) {
		if (!(err = ctl_res_npos(&a, a.npos ? 1 : 0, "feature-codes [list]")) &&
		    !(err = ctl_args_check_used(&a, "feature-codes list")) &&
		    !(err = ctl_api(c, "GET", FAC_PATH, NULL, &resp, NULL)))
			ctl_res_print_list(c, resp, fac_cols, FAC_NCOLS);
	} else if (strcmp(verb, "set") == 0) {
		/* --dnd-on=*11 is the field dnd_on; --dnd-on= puts its default back. */
		if (!(err = ctl_res_npos(&a, 1, "feature-codes set --FEATURE=CODE...")) && a.nopts == 0) {
			ctl_usage_error("feature-codes set: give the codes to change, e.g. --dnd-on=*11");
			err = EINVAL;
		}
		if (!err && !(body = json_object()))
			err = ENOMEM;
		if (!err && !(err = ctl_args_fields(&a, body, NULL)))
			err = fac_send(c, body);
	} else if (strcmp(verb, "reset") == 0) {
		if (a.npos < 2) {
			ctl_usage_error("feature-codes reset FEATURE...: name the features, e.g. dnd_on");
			err = EINVAL;
		}
		if (!err && !(err = ctl_args_check_used(&a, "feature-codes reset")) && !(body = json_object()))
			err = ENOMEM;
		for (size_t i = 1; !err && i < a.npos; i++) {
			char name[64];
			snprintf(name, sizeof(name), "%s", a.pos[i]);
			for (char *p = name; *p; p++)
				*p = *p == '-' ? '_' : *p; /* dnd-on as --dnd-on is */
			json_object_set_new(body, name, json_string(""));
		}
		if (!err)
			err = fac_send(c, body);
	} else {
		ctl_usage_error("feature-codes: expected list, set or reset");
		err = EINVAL;
	}
	json_decref(resp);
	json_decref(body);
	ctl_args_free(&a);
	return err;
}
