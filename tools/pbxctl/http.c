/* The transport: one libcurl handle per invocation (so sign-in and the requests
 * that follow share a connection), JSON bodies through jansson, and the one place
 * where an API error answer becomes a message for the user. Sign-in is lazy: the
 * first request to a route that needs a token signs in, so a command can reject
 * its arguments (exit 2) before anything is sent. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <strings.h>

#include <curl/curl.h>

#include "core/mbuf.h"
#include "core/mem.h"

#include "ctl.h"

/* Far above any answer pbxd gives (lists are paged at 100 items); a cap keeps a
 * wrong URL pointing at a huge download from eating memory. */
#define CTL_BODY_MAX (16u * 1024 * 1024)

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct mbuf *mb = arg;
	if (mbuf_write_mem(mb, p, size * n))
		return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
	return size * n;
}

int ctl_http_open(struct ctl *c)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return ENOMEM;
	c->curl = curl_easy_init();
	return c->curl ? 0 : ENOMEM;
}

void ctl_http_close(struct ctl *c)
{
	if (c->curl)
		curl_easy_cleanup(c->curl);
	c->curl = NULL;
	free(c->token);
	free(c->refresh_token);
	free(c->outer_token);
	c->token = c->refresh_token = c->outer_token = NULL;
	curl_global_cleanup();
}

/* Whether the host of an http:// or https:// URL is this machine. Only literal
 * loopback addresses and "localhost" count: any other name could resolve
 * anywhere, and we must decide before the first byte (a password) is sent. */
static bool host_is_loopback(const char *url)
{
	const char *h = strstr(url, "://");
	char host[256];
	size_t n;

	if (!h)
		return false;
	h += 3;
	n = strcspn(h, "/?#");
	const char *at = memchr(h, '@', n); /* user:pass@host */
	if (at) {
		n -= (size_t)(at + 1 - h);
		h = at + 1;
	}
	if (*h == '[') {
		const char *close = memchr(h, ']', n);
		if (!close)
			return false;
		n = (size_t)(close - h - 1);
		h++;
	} else {
		n = strcspn(h, ":/?#");
	}
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, h, n);
	host[n] = '\0';
	if (host[n - 1] == '.')
		host[n - 1] = '\0';
	if (strcasecmp(host, "localhost") == 0)
		return true;
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
	}
	return false;
}

/* Says once per run, before the first request, when the connection does not
 * protect what travels on it: the password at sign-in, then the token. */
static void warn_transport(struct ctl *c)
{
	if (c->warned)
		return;
	c->warned = true;
	if (strncmp(c->url, "https://", 8) == 0 && c->insecure)
		fprintf(stderr, "pbxctl: warning: TLS certificate checks are off (--insecure or "
				"PBXCTL_INSECURE); anyone on the path could pose as pbxd and read the "
				"password. Prefer --cacert=FILE\n");
	else if (strncmp(c->url, "http://", 7) == 0 && !host_is_loopback(c->url))
		fprintf(stderr, "pbxctl: warning: %s is plain http:// to another host; the password "
				"and everything else travel unencrypted. Use https://\n", c->url);
}

static bool is_public(const char *path)
{
	return strncmp(path, "/api/info", 9) == 0 || strncmp(path, "/api/auth/", 10) == 0
	       || strncmp(path, "/api/openapi.json", 17) == 0;
}

static int transfer(struct ctl *c, const char *method, const char *path, const char *body,
		    long *status, struct mbuf *mb)
{
	CURL *h = c->curl;
	struct curl_slist *hdrs = NULL, *tmp;
	char url[2048], *auth = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	int err = 0;

	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->url, path) >= sizeof(url))
		return ENAMETOOLONG;
	warn_transport(c);
	tmp = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = tmp ? tmp : hdrs;
	if (body) {
		tmp = curl_slist_append(hdrs, "Content-Type: application/json");
		hdrs = tmp ? tmp : hdrs;
	}
	if (c->token) {
		if (asprintf(&auth, "Authorization: Bearer %s", c->token) < 0) {
			curl_slist_free_all(hdrs);
			return ENOMEM;
		}
		tmp = curl_slist_append(hdrs, auth);
		free(auth);
		hdrs = tmp ? tmp : hdrs;
	}
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, mb);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "pbxctl/0.1");
	/* pbxctl runs on the server: its own pbxd on loopback is never behind a proxy. */
	curl_easy_setopt(h, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
	if (c->insecure) {
		/* pbxd's first-start certificate is self-signed; the user asked to trust it. */
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (c->cacert) {
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
	}
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		fprintf(stderr, "pbxctl: %s %s: %s\n", method, url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE)
			fprintf(stderr, "pbxctl: pbxd's certificate is not trusted: give --cacert=FILE, "
					"or --insecure for its self-signed one\n");
		err = rc == CURLE_WRITE_ERROR ? EMSGSIZE : EIO;
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	}
	curl_slist_free_all(hdrs);
	return err;
}

static int take_tokens(struct ctl *c, const json_t *resp)
{
	const char *token = json_string_value(json_object_get(resp, "token"));
	const char *rt = json_string_value(json_object_get(resp, "refresh_token"));

	free(c->token);
	free(c->refresh_token);
	c->token = token ? strdup(token) : NULL;
	c->refresh_token = rt ? strdup(rt) : NULL;
	return c->token ? 0 : ENOMEM;
}

/* Finds a tenant's ID from its SIP domain (IDs are all digits, domains never). */
int ctl_tenant_id(struct ctl *c, const char *tenant, char *id, size_t size)
{
	char path[1024], filter[600];
	json_t *resp = NULL;
	int err;

	if (*tenant && strspn(tenant, "0123456789") == strlen(tenant)) {
		snprintf(id, size, "%s", tenant);
		return 0;
	}
	/* The filter syntax quotes strings with '' for a quote; domains have none. */
	if (!*tenant || strchr(tenant, '\'')
	    || (size_t)snprintf(filter, sizeof(filter), "domain eq '%s'", tenant) >= sizeof(filter)) {
		fprintf(stderr, "pbxctl: --tenant=%s: no such tenant\n", tenant);
		return ENOENT;
	}
	for (char *p = filter; *p; p++)
		*p = (char)tolower((unsigned char)*p); /* pbxd stores domains in lower case */
	if ((err = ctl_path(c, path, sizeof(path), "/api/tenants?top=1&filter=%s", filter))
	    || (err = ctl_api(c, "GET", path, NULL, &resp, NULL)))
		return err;
	const json_t *first = json_array_get(json_object_get(resp, "items"), 0);
	const char *found = json_string_value(json_object_get(first, "id"));
	if (!found) {
		fprintf(stderr, "pbxctl: --tenant=%s: no such tenant\n", tenant);
		err = ENOENT;
	} else {
		snprintf(id, size, "%s", found);
	}
	json_decref(resp);
	return err;
}

/* A system admin acting in a tenant trades its token for one scoped to it. */
static int switch_tenant(struct ctl *c)
{
	char id[64], path[256];
	json_t *resp = NULL;
	int err;

	if ((err = ctl_tenant_id(c, c->tenant, id, sizeof(id)))
	    || (err = ctl_path(c, path, sizeof(path), "/api/tenants/%s/switch", id))
	    || (err = ctl_api(c, "POST", path, NULL, &resp, NULL)))
		return err;
	c->outer_token = c->token;
	c->token = NULL;
	err = take_tokens(c, resp);
	json_decref(resp);
	return err;
}

int ctl_sign_in(struct ctl *c)
{
	json_t *req, *resp = NULL;
	long status = 0;
	int err;

	if (!c->username || !*c->username) {
		ctl_usage_error("no username: give --username=U or set PBXCTL_USERNAME");
		return EINVAL;
	}
	if ((err = ctl_password_resolve(c)))
		return err;
	req = json_pack("{s:s, s:s}", "username", c->username, "password", c->password);
	if (!req)
		return ENOMEM;
	if (c->domain && *c->domain)
		json_object_set_new(req, "domain", json_string(c->domain));
	err = ctl_api(c, "POST", "/api/auth/sign_in", req, &resp, &status);
	json_decref(req);
	if (err)
		return err;
	const char *token = json_string_value(json_object_get(resp, "token"));
	if (status / 100 != 2 || !token) {
		if (status / 100 == 2 && json_is_true(json_object_get(resp, "two_factor_enabled")))
			fprintf(stderr, "pbxctl: this account uses two-factor sign-in, which pbxctl "
					"does not support; use an account without it\n");
		else
			ctl_api_report(c, status, resp);
		json_decref(resp);
		return EPROTO;
	}
	err = take_tokens(c, resp);
	json_decref(resp);
	if (!err && c->tenant && *c->tenant)
		err = switch_tenant(c);
	return err;
}

void ctl_sign_out(struct ctl *c)
{
	json_t *resp = NULL;
	long status;

	if (!c->token)
		return;
	/* Best effort: a token left behind expires on its own, so failures stay quiet. */
	ctl_api(c, "POST", "/api/auth/sign_out", NULL, &resp, &status);
	json_decref(resp);
	if (c->outer_token) {
		free(c->token);
		c->token = c->outer_token;
		c->outer_token = NULL;
		resp = NULL;
		ctl_api(c, "POST", "/api/auth/sign_out", NULL, &resp, &status);
		json_decref(resp);
	}
}

void ctl_api_report(struct ctl *c, long status, const json_t *resp)
{
	const json_t *e = json_object_get(resp, "error");
	const char *msg = json_string_value(json_object_get(e, "message"));
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *field = json_string_value(json_object_get(e, "field"));

	if (c->json && resp)
		ctl_out_json(resp);
	if (!msg)
		msg = status == 404 ? "not found" : status == 401 ? "not signed in" : "request failed";
	/* pbxd's messages start with the field at fault; name it only otherwise. */
	if (field && strncmp(msg, field, strlen(field)) == 0)
		field = NULL;
	fprintf(stderr, "pbxctl: %s (HTTP %ld%s%s%s%s)\n", msg, status, code ? ", " : "", code ? code : "",
		field ? ", field " : "", field ? field : "");
}

/* Routes that act in a tenant: a system admin gets 403 there unless switched. */
static bool tenant_route(const char *path)
{
	static const char *const prefixes[] = { "/api/users", "/api/cdrs", "/api/call_sessions", "/api/tenant/",
						"/api/holidays", "/api/feature_access_codes", "/api/inbound_rules",
						"/api/outbound_rules", "/api/allowed_country_codes",
						"/api/disallowed_codes", "/api/blacklisted_numbers" };
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		if (strncmp(path, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	}
	return false;
}

/* Signs in when the route needs it and sends the request; *mb is the answer's
 * body (the caller frees it with mem_deref) and *st its status. */
static int request(struct ctl *c, const char *method, const char *path, json_t *body, long *st,
		   struct mbuf **mb)
{
	char *text = NULL;
	int err;

	*mb = NULL;
	if (!c->token && !is_public(path)) {
		err = ctl_sign_in(c);
		if (err)
			return err;
	}
	if (body) {
		text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!text)
			return ENOMEM;
	}
	*mb = mbuf_alloc(4096, CTL_BODY_MAX);
	if (!*mb) {
		free(text);
		return ENOMEM;
	}
	err = transfer(c, method, path, text, st, *mb);
	free(text);
	if (err)
		*mb = mem_deref(*mb);
	return err;
}

/* Reports a non-2xx answer, with the hint a system admin needs for a tenant's route. */
static void report_failure(struct ctl *c, const char *path, long st, const json_t *resp)
{
	ctl_api_report(c, st, resp);
	if (st == 403 && !c->domain && !c->tenant && tenant_route(path))
		fprintf(stderr, "pbxctl: a system admin acts in a tenant with --tenant=ID|DOMAIN\n");
}

int ctl_api(struct ctl *c, const char *method, const char *path, json_t *body,
	    json_t **resp, long *status)
{
	struct mbuf *mb = NULL;
	long st = 0;
	int err;

	*resp = NULL;
	if ((err = request(c, method, path, body, &st, &mb)))
		return err;
	if (mb->end > 0) {
		json_error_t jerr;
		*resp = json_loadb((const char *)mb->buf, mb->end, JSON_DECODE_ANY, &jerr);
		/* A non-JSON answer is an error page from something that is not pbxd's
		 * API (or an older pbxd); only its status is worth reporting. */
		if (!*resp && st / 100 == 2) {
			fprintf(stderr, "pbxctl: %s %s: answer is not JSON: %s\n", method, path, jerr.text);
			err = EPROTO;
			goto out;
		}
	}
	if (status) {
		*status = st;
	} else if (st / 100 != 2) {
		report_failure(c, path, st, *resp);
		json_decref(*resp);
		*resp = NULL;
		err = EPROTO;
	}
out:
	mem_deref(mb);
	return err;
}

int ctl_api_text(struct ctl *c, const char *path, char **text, size_t *len)
{
	struct mbuf *mb = NULL;
	long st = 0;
	int err;

	*text = NULL;
	*len = 0;
	if ((err = request(c, "GET", path, NULL, &st, &mb)))
		return err;
	if (st / 100 != 2) {
		/* Errors come as the API's JSON, like everywhere else. */
		json_t *resp = mb->end ? json_loadb((const char *)mb->buf, mb->end, 0, NULL) : NULL;
		report_failure(c, path, st, resp);
		json_decref(resp);
		err = EPROTO;
	} else if (!(*text = malloc(mb->end + 1))) {
		err = ENOMEM;
	} else {
		memcpy(*text, mb->buf, mb->end);
		(*text)[mb->end] = '\0';
		*len = mb->end;
	}
	mem_deref(mb);
	return err;
}

int ctl_path(struct ctl *c, char *buf, size_t size, const char *fmt, const char *arg)
{
	char *esc = curl_easy_escape(c->curl, arg, 0);
	int n;

	if (!esc)
		return ENOMEM;
	n = snprintf(buf, size, fmt, esc);
	curl_free(esc);
	return n < 0 || (size_t)n >= size ? ENAMETOOLONG : 0;
}

static int append_query(struct ctl *c, struct mbuf *q, const char *key, const char *val)
{
	char *esc = curl_easy_escape(c->curl, val, 0);
	int err;

	if (!esc)
		return ENOMEM;
	err = mbuf_printf(q, "%c%s=%s", q->end ? '&' : '?', key, esc);
	curl_free(esc);
	return err;
}

/* The page size: the API's maximum `top`. */
#define CTL_PAGE 100

int ctl_api_list(struct ctl *c, const char *path, struct ctl_args *a, json_t **out)
{
	static const struct ctl_qopt passed[] = {
		{ "filter", "filter" }, { "search", "search" }, { "orderby", "orderby" },
	};
	return ctl_api_list_with(c, path, passed, sizeof(passed) / sizeof(passed[0]), a, out);
}

int ctl_api_list_with(struct ctl *c, const char *path, const struct ctl_qopt *passed, size_t npassed,
		      struct ctl_args *a, json_t **out)
{
	const char *skip = ctl_args_get(a, "skip"), *top = ctl_args_get(a, "top");
	struct mbuf *q = mbuf_alloc(256, 8192);
	json_t *all = NULL, *items;
	long total = -1, done = 0;
	int err = 0;

	if (!q)
		return ENOMEM;
	for (size_t i = 0; i < npassed; i++) {
		const char *v = ctl_args_get(a, passed[i].opt);
		if (v && (err = append_query(c, q, passed[i].query, v)))
			goto out;
	}
	if ((err = ctl_args_check_used(a, "list")))
		goto out;
	all = json_pack("{s:i, s:[]}", "count", 0, "items");
	if (!all) {
		err = ENOMEM;
		goto out;
	}
	items = json_object_get(all, "items");
	for (;;) {
		char full[4096], page[64];
		json_t *resp = NULL;
		size_t qend = q->end;

		if (skip || top) {
			if ((skip && (err = append_query(c, q, "skip", skip)))
			    || (top && (err = append_query(c, q, "top", top))))
				goto out;
		} else {
			snprintf(page, sizeof(page), "%ld", done);
			if ((err = append_query(c, q, "skip", page)))
				goto out;
			snprintf(page, sizeof(page), "%d", CTL_PAGE);
			if ((err = append_query(c, q, "top", page)))
				goto out;
		}
		if ((size_t)snprintf(full, sizeof(full), "%s%.*s", path, (int)q->end, (const char *)q->buf)
		    >= sizeof(full)) {
			err = ENAMETOOLONG;
			goto out;
		}
		q->end = q->pos = qend;
		if ((err = ctl_api(c, "GET", full, NULL, &resp, NULL)))
			goto out;
		json_t *pitems = json_object_get(resp, "items");
		json_t *count = json_object_get(resp, "count");
		if (!json_is_array(pitems)) {
			fprintf(stderr, "pbxctl: GET %s: answer has no \"items\" list\n", path);
			json_decref(resp);
			err = EPROTO;
			goto out;
		}
		size_t got = json_array_size(pitems);
		json_array_extend(items, pitems);
		done += (long)got;
		total = json_is_integer(count) ? (long)json_integer_value(count) : done;
		json_decref(resp);
		/* One page when the user chose it; otherwise until the count is reached
		 * (or a short page, should rows vanish while we read). */
		if (skip || top || done >= total || got < CTL_PAGE)
			break;
	}
	json_object_set_new(all, "count", json_integer(total < 0 ? done : total));
	*out = all;
	all = NULL;
out:
	json_decref(all);
	mem_deref(q);
	return err;
}
