/* pbxctl's internal interface. pbxctl manages pbxd only through its REST API (one
 * management path: whatever pbxctl can do, the web portal and scripts can do with
 * the same routes and the same checks). The modules are: main.c (options, dispatch,
 * exit codes), http.c (libcurl transport, sign-in, API error reporting), out.c
 * (aligned tables and key/value listings, or the API's JSON with --json), args.c
 * (a command's own --key=value options and positionals), res.c (list, show, add,
 * update, delete, export for any collection, and a whole command over one),
 * secret.c (passwords from standard input or a no-echo prompt) and one file per
 * command group.
 * Plain malloc/free here: a short-lived client with one owner per object, and
 * jansson's own reference counts for JSON; core's mbuf for response bodies. */
#ifndef PBXCTL_CTL_H
#define PBXCTL_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Exit codes promised in --help: scripts rely on them. */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_API = 1,   /* the API refused, or pbxd could not be reached */
	CTL_EXIT_USAGE = 2, /* the command line is wrong; nothing was sent */
};

/* Commands return 0 or an errno value; EINVAL always means a usage error (exit 2),
 * so the transport and the API layer never return EINVAL. */

/* At most: the sign-in password and two values of one command (user add). */
#define CTL_SECRETS_MAX 4

struct ctl {
	const char *url;      /* base URL, e.g. https://127.0.0.1:8887 */
	const char *username;
	const char *password;
	const char *domain;   /* tenant SIP domain; NULL for system admins */
	const char *tenant;   /* system admins: act in this tenant (ID or domain) */
	const char *cacert;
	bool insecure;
	bool json;
	bool warned;          /* the transport warnings were printed */
	const char *stdin_by; /* the one value that reads standard input, if any */
	char *secrets[CTL_SECRETS_MAX]; /* read from stdin or a prompt; wiped at exit */
	size_t nsecrets;
	char *token;          /* access token once signed in */
	char *refresh_token;
	char *outer_token;    /* the system admin's own token after --tenant */
	void *curl;           /* CURL handle, reused for keep-alive */
};

/* A command's arguments after its name: --key=value options and positionals. */
struct ctl_opt {
	const char *key;   /* without the leading "--" */
	const char *value; /* NULL for a bare flag */
	bool used;
};

struct ctl_args {
	const char **pos;
	size_t npos;
	struct ctl_opt *opts;
	size_t nopts;
};

/* args.c */
int ctl_args_parse(struct ctl *c, int argc, char **argv, struct ctl_args *a);
void ctl_args_free(struct ctl_args *a);
/* Returns the value of --key (marking it used) or NULL. */
const char *ctl_args_get(struct ctl_args *a, const char *key);
/* Reports any option no one asked for; returns 0 or EINVAL. */
int ctl_args_check_used(struct ctl_args *a, const char *cmd);
/* Turns a command-line value into JSON: `--key:=JSON` values are parsed as JSON;
 * otherwise the type of `like` (the field's current value) decides, and without
 * one true/false become booleans and everything else a string. */
int ctl_args_value(const char *key, const char *value, const json_t *like, json_t **out);
/* Adds every unused option to obj as a field (dashes in names become underscores,
 * dots reach into nested objects: --limits.max-users=10);
 * `current` is the object as the API last returned it, for types. */
int ctl_args_fields(struct ctl_args *a, json_t *obj, const json_t *current);
void ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* http.c */
int ctl_http_open(struct ctl *c);
void ctl_http_close(struct ctl *c);
int ctl_sign_in(struct ctl *c);
void ctl_sign_out(struct ctl *c);
/* Sends one request; path starts with "/api/" and may carry a query. When status
 * is NULL, a non-2xx answer is reported (stderr, and stdout with --json) and
 * EPROTO returned; otherwise the status is handed back and the caller decides.
 * *resp is the parsed body or NULL when it was empty. */
int ctl_api(struct ctl *c, const char *method, const char *path, json_t *body,
	    json_t **resp, long *status);
/* A GET whose answer is not JSON (a CSV export): *text (NUL-terminated, *len
 * bytes, the caller frees it) on 2xx; an error answer is reported as ctl_api
 * does and EPROTO returned. */
int ctl_api_text(struct ctl *c, const char *path, char **text, size_t *len);
/* A tenant's ID from an ID or its SIP domain (looked up, system admins only). */
int ctl_tenant_id(struct ctl *c, const char *tenant, char *id, size_t size);
/* Reports an API error answer the way ctl_api does. */
void ctl_api_report(struct ctl *c, long status, const json_t *resp);
/* Formats a path from fmt and one argument (an ID, a query value), URL-escaping
 * the argument so user input never changes the route. */
int ctl_path(struct ctl *c, char *buf, size_t size, const char *fmt, const char *arg);
/* Fetches every page of a list route into one {"count", "items"} object. The
 * query options filter/search/orderby/skip/top from args are passed through;
 * when skip or top is given only that page is fetched. */
int ctl_api_list(struct ctl *c, const char *path, struct ctl_args *a, json_t **out);
/* A command option a list passes as a query option of the route (e.g. --from as
 * start_time_from). */
struct ctl_qopt {
	const char *opt;   /* without the leading "--" */
	const char *query;
};
/* ctl_api_list for a route with its own query options instead of filter, search
 * and orderby; skip and top behave the same. */
int ctl_api_list_with(struct ctl *c, const char *path, const struct ctl_qopt *passed, size_t npassed,
		      struct ctl_args *a, json_t **out);

/* secret.c: a secret given as "-" (or a positional new password left out, passed
 * here as NULL) comes from standard input: a no-echo prompt on a terminal, else
 * one line. Only one value per run may; claim each before reading any. */
bool ctl_secret_from_stdin(const char *value);
/* Records that name (e.g. "--password") takes standard input when value says so;
 * returns EINVAL (usage error printed) when another value already did. */
int ctl_secret_claim(struct ctl *c, const char *name, const char *value);
/* Reads a secret from stdin; a new one (is_new) is asked twice on a terminal.
 * *out stays valid until ctl_secrets_free. Returns 0, EINVAL (nothing there,
 * empty, mismatch), EIO or ENOMEM. */
int ctl_secret_read(struct ctl *c, const char *name, const char *prompt, bool is_new, const char **out);
/* The value of a new password: value itself, or read as above when it is "-"/NULL. */
int ctl_secret_get(struct ctl *c, const char *name, const char *prompt, const char *value,
		   const char **out);
/* Makes c->password usable for sign-in: reads "-", prompts on a terminal when
 * none was given, else a usage error (EINVAL). */
int ctl_password_resolve(struct ctl *c);
void ctl_secrets_free(struct ctl *c);

/* out.c */
struct ctl_col {
	const char *field; /* JSON field, dotted for nested objects */
	const char *title;
};
void ctl_out_json(const json_t *j);
void ctl_out_object(const json_t *obj);
void ctl_out_table(const json_t *items, const struct ctl_col *cols, size_t ncols);
/* Prints the API's answer to a change: the object when there is one, else msg. */
void ctl_out_result(struct ctl *c, const json_t *resp, const char *msg);

/* res.c: the verbs every REST collection shares. */
struct ctl_res {
	const char *noun; /* "tenant", for messages */
	const char *path; /* "/api/tenants" */
	const struct ctl_col *cols; /* table columns for list */
	size_t ncols;
};
int ctl_res_list(struct ctl *c, const struct ctl_res *r, struct ctl_args *a);
int ctl_res_show(struct ctl *c, const struct ctl_res *r, const char *id);
int ctl_res_create(struct ctl *c, const struct ctl_res *r, json_t *body);
int ctl_res_update(struct ctl *c, const struct ctl_res *r, const char *id, struct ctl_args *a);
int ctl_res_delete(struct ctl *c, const struct ctl_res *r, const char *id);
/* Like ctl_res_update, with body holding fields already taken from named options;
 * the options still unused are added as --FIELD=VALUE (typed like the current
 * object's). body is the caller's. */
int ctl_res_update_with(struct ctl *c, const struct ctl_res *r, const char *id, struct ctl_args *a, json_t *body);
/* GET {path}/export: the CSV to stdout, or to the file of --output=FILE. */
int ctl_res_export(struct ctl *c, const struct ctl_res *r, struct ctl_args *a);

/* A named option of a command and the API field it sets, so `--max-calls=4` is
 * sent as the integer max_calls whether or not there is an object to compare. */
enum ctl_ftype {
	CTL_F_STR,  /* the value as given */
	CTL_F_INT,  /* an integer */
	CTL_F_BOOL, /* --opt (true) or --opt=true|false */
	CTL_F_NOT,  /* --disabled (the field false) or --disabled=true|false */
	CTL_F_LIST, /* strings: the option repeated and/or comma-separated; --opt= is [] */
};
struct ctl_field {
	const char *opt;   /* without the leading "--" */
	const char *field; /* the API's */
	enum ctl_ftype type;
};
/* Sets body's fields from the named options given (marking them used). */
int ctl_res_fields(struct ctl_args *a, const struct ctl_field *f, size_t nf, json_t *body);

/* A command over one collection: `list`, `show ID`, `add ...`, `set ID ...`,
 * `remove ID` and `export` (update and delete as other commands say them). */
struct ctl_res_cmd {
	const char *cmd;                /* "inbound", for messages */
	const struct ctl_res *res;
	const struct ctl_field *fields; /* named options of add and set */
	size_t nfields;
	const char *add_pos;            /* add's one positional goes to this field, or NULL */
	const char *const *required;    /* fields add cannot do without; NULL-terminated */
	const char *add_usage;          /* "inbound add --name=N ..." */
	/* Options a field table cannot say (a secret, an object); may be NULL.
	 * Sets fields in body; 0, EINVAL (usage error printed) or another errno. */
	int (*build)(struct ctl *c, struct ctl_args *a, json_t *body, bool create);
	/* Verbs of the command's own, tried first; ENOSYS when verb is not one. */
	int (*verb)(struct ctl *c, const char *verb, struct ctl_args *a);
	const char *verbs;              /* for the usage error: "list, show, add, set, remove or export" */
};
int ctl_res_run(struct ctl *c, const struct ctl_res_cmd *rc, int argc, char **argv);
/* Checks the number of positionals (after the verb); returns 0 or EINVAL. */
int ctl_res_npos(const struct ctl_args *a, size_t want, const char *usage);
/* Prints a list: with cols, those columns; without, the plain fields of the first
 * item. */
void ctl_res_print_list(struct ctl *c, const json_t *list, const struct ctl_col *cols, size_t ncols);

/* cmd_user.c: prints a {"count", "items"} list of devices (the API's Device
 * objects) as a table, lead columns (taken from each item as they are) first;
 * with --json the list as it is. */
void ctl_devices_print(struct ctl *c, const json_t *list, const struct ctl_col *lead, size_t nlead);

/* Command groups; each takes the arguments after the command name. */
int ctl_cmd_info(struct ctl *c, int argc, char **argv);
int ctl_cmd_me(struct ctl *c, int argc, char **argv);
int ctl_cmd_password(struct ctl *c, int argc, char **argv);
int ctl_cmd_tenant(struct ctl *c, int argc, char **argv);
int ctl_cmd_user(struct ctl *c, int argc, char **argv);
int ctl_cmd_extension(struct ctl *c, int argc, char **argv);
int ctl_cmd_settings(struct ctl *c, int argc, char **argv);
int ctl_cmd_registrations(struct ctl *c, int argc, char **argv);
int ctl_cmd_calls(struct ctl *c, int argc, char **argv);
int ctl_cmd_cdrs(struct ctl *c, int argc, char **argv);
int ctl_cmd_ban(struct ctl *c, int argc, char **argv);
int ctl_cmd_office_hours(struct ctl *c, int argc, char **argv);
int ctl_cmd_holiday(struct ctl *c, int argc, char **argv);
int ctl_cmd_feature_codes(struct ctl *c, int argc, char **argv);
int ctl_cmd_init(struct ctl *c, int argc, char **argv);
int ctl_cmd_provider(struct ctl *c, int argc, char **argv);
int ctl_cmd_inbound(struct ctl *c, int argc, char **argv);
int ctl_cmd_outbound(struct ctl *c, int argc, char **argv);
int ctl_cmd_country_code(struct ctl *c, int argc, char **argv);
int ctl_cmd_disallowed(struct ctl *c, int argc, char **argv);
int ctl_cmd_blacklist(struct ctl *c, int argc, char **argv);
int ctl_cmd_outbound_limits(struct ctl *c, int argc, char **argv);

#endif
