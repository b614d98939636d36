/* The API server's life: options, the store connection pool, first-start setup
 * (system admin, default tenant), HTTP start and stop, and the fuzzing entry. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_int.h"
#include "core/log.h"

const struct conf_opt api_opts[] = {
	{ "http-address", CONF_STR, "", 0, 0, NULL, "address the REST API listens on (default: all)" },
	{ "http-port", CONF_INT, "8887", 1, 65535, NULL, "REST API port" },
	{ "web-domain", CONF_STR, "", 0, 0, NULL,
	  "the host name people reach the portal and the browser phone at (the name on the HTTPS certificate);"
	  " shown in the system information" },
	{ "events-ping-interval", CONF_INT, "30", 1, 3600, NULL,
	  "seconds between an event stream's pings (/api/events), each of which checks its session again" },
	{ "http-tls", CONF_BOOL, "on", 0, 0, NULL,
	  "HTTPS for the REST API; off only where the network is trusted (loopback tests)" },
	{ "http-tls-cert", CONF_STR, "", 0, 0, NULL,
	  "PEM certificate (chain) for HTTPS; default: self-signed, made in DATA_DIR/tls/" },
	{ "http-tls-key", CONF_STR, "", 0, 0, NULL, "PEM private key of --http-tls-cert" },
	{ "admin-password", CONF_STR, "", 0, 0, NULL,
	  "on an empty data dir, password of the system admin `admin` and of the default tenant's"
	  " `pbxadmin` (default: random, printed once); `-` reads it from standard input, and"
	  " --admin-password-file from a file: on the command line every local user can read it" },
	{ "default-domain", CONF_STR, "pbx.local", 0, 0, NULL,
	  "on an empty data dir, SIP domain of the default tenant" },
	{ "token-lifetime", CONF_INT, "3600", 1, 31536000, NULL, "seconds an API access token is valid" },
	{ "login-max-failures", CONF_INT, "5", 1, 1000000000, NULL,
	  "failed sign-ins from one address before it must wait" },
	{ "login-window", CONF_INT, "300", 1, 86400, NULL, "seconds over which failed sign-ins are counted" },
	{ "http-max-per-address", CONF_INT, "16", 1, 256, NULL,
	  "connections one client source (an IPv4 address, an IPv6 /64) may hold open to the REST API" },
	{ "http-request-timeout", CONF_INT, "10", 1, 3600, NULL,
	  "seconds a whole request (TLS handshake, headers and body) may take to arrive on a REST API"
	  " connection, however slowly its bytes trickle in; a connection that takes longer is closed" },
	{ "web-dir", CONF_STR, "", 0, 0, NULL,
	  "folder of the web portal served at / of the REST server (default: the build's web/dist)" },
};
const size_t api_opts_count = sizeof(api_opts) / sizeof(api_opts[0]);

/* --- connection pool ------------------------------------------------------------- */

struct store *api_store_get(struct api *a)
{
	pthread_mutex_lock(&a->pool_lock);
	for (;;) {
		for (size_t i = 0; i < a->npool; i++) {
			if (!a->busy[i]) {
				a->busy[i] = true;
				pthread_mutex_unlock(&a->pool_lock);
				return a->pool[i];
			}
		}
		pthread_cond_wait(&a->pool_cond, &a->pool_lock);
	}
}

void api_store_put(struct api *a, struct store *st)
{
	pthread_mutex_lock(&a->pool_lock);
	for (size_t i = 0; i < a->npool; i++) {
		if (a->pool[i] == st)
			a->busy[i] = false;
	}
	pthread_cond_signal(&a->pool_cond);
	pthread_mutex_unlock(&a->pool_lock);
}

/* --- first start ------------------------------------------------------------------ */

static int create_default_tenant(struct api *a, struct store *st, const char *domain, const char *password)
{
	const char *why;
	if (api_check_domain(domain, &why) || strlen(domain) >= STORE_DOMAIN_SZ) {
		log_error("api: --default-domain=%s %s; no default tenant created", domain, why);
		return EINVAL;
	}
	struct store_tenant t = { .enabled = true };
	snprintf(t.name, sizeof(t.name), "Default");
	snprintf(t.domain, sizeof(t.domain), "%s", domain);
	struct store_user u = { .role = STORE_ROLE_ADMIN, .enabled = true };
	snprintf(u.username, sizeof(u.username), "pbxadmin");
	snprintf(u.display_name, sizeof(u.display_name), "Tenant administrator");
	snprintf(u.ext_number, sizeof(u.ext_number), "100");
	int e = api_random_text(u.ext_password, 17);
	if (!e)
		e = store_pw_hash(password, u.pw_hash, sizeof(u.pw_hash));
	if (!e)
		e = store_tenant_create(st, &t, &u);
	if (e) {
		log_error("api: cannot create the default tenant: %s", strerror(e));
		return e;
	}
	pbx_notify_tenant(a->pbx, t.id, false);
	pbx_notify_user(a->pbx, t.id, u.id, false);
	return 0;
}

/* On an empty database: the system admin, the default tenant with its admin, and
 * how to sign in. Generated passwords go to stderr once and are never logged. */
static int bootstrap(struct api *api, struct store *st, const struct conf *conf, const char *url)
{
	uint64_t n = 0;
	int e = store_admin_count(st, &n);
	if (e || n)
		return e;
	const char *given = conf_str(conf, "admin-password");
	char pw[20], tpw[20];
	if (given && *given) {
		snprintf(pw, sizeof(pw), "%s", "");
		snprintf(tpw, sizeof(tpw), "%s", "");
	} else if (api_random_text(pw, sizeof(pw)) || api_random_text(tpw, sizeof(tpw))) {
		log_error("api: cannot generate the first passwords; not starting");
		return EIO;
	}
	struct store_admin a = { .enabled = true };
	snprintf(a.username, sizeof(a.username), "admin");
	e = store_pw_hash(given && *given ? given : pw, a.pw_hash, sizeof(a.pw_hash));
	if (!e)
		e = store_admin_create(st, &a);
	if (e) {
		log_error("api: cannot create the system admin: %s", strerror(e));
		return e;
	}
	const char *domain = conf_str(conf, "default-domain");
	bool tenant = create_default_tenant(api, st, domain, given && *given ? given : tpw) == 0;
	log_info("api: first start: system admin \"admin\" created%s", tenant ? ", and tenant \"Default\"" : "");
	if (!(given && *given)) {
		fprintf(stderr, "\npbxd: first start. Generated passwords (shown this once):\n"
				"  system admin   username admin     password %s\n", pw);
		if (tenant)
			fprintf(stderr, "  tenant admin   username pbxadmin  password %s  domain %s\n", tpw, domain);
		fprintf(stderr, "\n");
	}
	log_info("api: sign in at %s/api/auth/sign_in with {\"username\": \"admin\", \"password\": ...}"
		 " (system admin)", url);
	if (tenant)
		log_info("api: or as the tenant admin: {\"username\": \"pbxadmin\", \"password\": ...,"
			 " \"domain\": \"%s\"}", domain);
	return 0;
}

/* --- life --------------------------------------------------------------------------- */

static int api_alloc(struct api **ap, const char *data_dir, int64_t lifetime, int max_failures, int window)
{
	struct api *a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	pthread_mutex_init(&a->pool_lock, NULL);
	pthread_cond_init(&a->pool_cond, NULL);
	pthread_mutex_init(&a->costly_lock, NULL);
	pthread_cond_init(&a->costly_cond, NULL);
	snprintf(a->data_dir, sizeof(a->data_dir), "%s", data_dir);
	a->token_lifetime_s = lifetime;
	int e = api_ratelimit_alloc(&a->rl, max_failures, window);
	for (size_t i = 0; !e && i < API_POOL; i++) {
		e = store_open(&a->pool[i], data_dir);
		if (!e)
			a->npool++;
	}
	char pw[20];
	if (!e)
		e = api_random_text(pw, sizeof(pw));
	if (!e)
		e = store_pw_hash(pw, a->dummy_hash, sizeof(a->dummy_hash));
	if (e) {
		api_stop(a);
		return e;
	}
	*ap = a;
	return 0;
}

int api_start(struct api **ap, const struct conf *conf, const char *data_dir, struct pbx *pbx)
{
	struct api *a;
	int e = api_alloc(&a, data_dir, conf_int(conf, "token-lifetime"), (int)conf_int(conf, "login-max-failures"),
			  (int)conf_int(conf, "login-window"));
	if (e)
		return e;
	a->pbx = pbx;
	a->sip_wss_port = (int)conf_int(conf, "sip-wss-port");
	a->sip_ws_port = (int)conf_int(conf, "sip-ws-port");
	a->ws_ping_ms = (uint32_t)conf_int(conf, "events-ping-interval") * 1000u;
	if (!a->ws_ping_ms)
		a->ws_ping_ms = 30000;
	e = api_system_info_init(a, conf);
	bool tls = conf_bool(conf, "http-tls");
	const char *addr = conf_str(conf, "http-address");
	int port = (int)conf_int(conf, "http-port");
	char host[256] = "localhost", url[400];
	if (addr && *addr)
		snprintf(host, sizeof(host), strchr(addr, ':') ? "[%s]" : "%s", addr);
	else
		gethostname(host, sizeof(host) - 1);
	snprintf(url, sizeof(url), "%s://%s:%d", tls ? "https" : "http", host, port);
	if (!e)
		e = bootstrap(a, a->pool[0], conf, url);
	if (!e && tls)
		e = api_tls_open(a, data_dir, conf_str(conf, "http-tls-cert"), conf_str(conf, "http-tls-key"));
	a->http_max_per_address = (int)conf_int(conf, "http-max-per-address");
	a->http_request_timeout_s = (int)conf_int(conf, "http-request-timeout");
	if (!e)
		e = api_static_open(&a->web, conf_str(conf, "web-dir"));
	if (!e)
		e = api_ws_start(a);
	if (!e)
		e = api_http_start(a, addr, port, tls);
	if (e) {
		api_stop(a);
		return e;
	}
	log_info("api: REST API at %s/api", url);
	if (api_static_dir(a->web))
		log_info("api: web portal at %s/ (from %s)", url, api_static_dir(a->web));
	*ap = a;
	return 0;
}

void api_stop(struct api *a)
{
	if (!a)
		return;
	api_ws_stop(a); /* MHD stops once every upgraded connection is closed */
	api_http_stop(a);
	api_ws_free(a);
	for (size_t i = 0; i < a->npool; i++)
		store_close(a->pool[i]);
	api_ratelimit_free(a->rl);
	api_static_free(a->web);
	api_tls_close(a);
	json_decref(a->sysinfo);
	pthread_cond_destroy(&a->pool_cond);
	pthread_cond_destroy(&a->costly_cond);
	pthread_mutex_destroy(&a->costly_lock);
	pthread_mutex_destroy(&a->pool_lock);
	free(a);
}

/* --- fuzzing -------------------------------------------------------------------------- */

/* State of the fuzzing harness, made on its first call and kept for the process:
 * a fuzzer calls api_request_fuzz() millions of times in one process. */
static struct {
	char dir[32];
	struct api *api;
	char sys_token[64], ten_token[64], refresh[64];
	char other_tenant[24], user_id[24];
} fz;

static json_t *fuzz_call(const char *method, const char *path, const char *token, const char *body,
			 size_t len, const char *filter)
{
	char auth[80];
	struct api_req rq = { .api = fz.api, .method = method, .path = path, .source = "fuzz", .body = body,
			      .body_len = len };
	if (token) {
		snprintf(auth, sizeof(auth), "Bearer %s", token);
		rq.authorization = auth;
	}
	if (filter)
		rq.query[rq.nquery++] = (struct api_kv){ "filter", filter };
	struct api_resp rs = { 0 };
	rq.st = api_store_get(fz.api);
	api_handle(&rq, &rs);
	api_store_put(fz.api, rq.st);
	json_decref(rq.json);
	/* Every answer is a JSON object or empty, and errors carry the shape. */
	if (rs.status >= 400 && !json_object_get(json_object_get(rs.body, "error"), "code"))
		abort();
	return rs.body;
}

static void fuzz_take(json_t *body, const char *key, char *dst, size_t sz)
{
	const char *v = json_string_value(json_object_get(body, key));
	snprintf(dst, sz, "%s", v ? v : "");
	json_decref(body);
}

static void fuzz_cleanup(void)
{
	static const char *const files[] = { "pbxd.db", "pbxd.db-wal", "pbxd.db-shm" };
	char p[64];
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", fz.dir, files[i]);
		unlink(p);
	}
	rmdir(fz.dir);
}

static int fuzz_setup(void)
{
	snprintf(fz.dir, sizeof(fz.dir), "/tmp/pbxd-fuzz-XXXXXX");
	char *dir = fz.dir;
	if (!mkdtemp(dir))
		return errno;
	atexit(fuzz_cleanup);
	store_pw_set_fast(true);
	log_set_level(LOG_ERROR);
	if (api_alloc(&fz.api, dir, 3600, 1000000000, 60))
		return EIO;
	struct store *st = api_store_get(fz.api);
	struct store_admin a = { .enabled = true };
	snprintf(a.username, sizeof(a.username), "admin");
	store_pw_hash("fuzz-pass1", a.pw_hash, sizeof(a.pw_hash));
	store_admin_create(st, &a);
	api_store_put(fz.api, st);
	static const char si[] = "{\"username\":\"admin\",\"password\":\"fuzz-pass1\"}";
	json_t *r = fuzz_call("POST", "/api/auth/sign_in", NULL, si, sizeof(si) - 1, NULL);
	snprintf(fz.refresh, sizeof(fz.refresh), "%s", json_string_value(json_object_get(r, "refresh_token")));
	fuzz_take(r, "token", fz.sys_token, sizeof(fz.sys_token));
	static const char t1[] = "{\"name\":\"F\",\"domain\":\"fuzz.test\",\"admin\":{\"username\":\"fa\","
				 "\"password\":\"fuzz-pass1\"}}";
	static const char t2[] = "{\"name\":\"G\",\"domain\":\"other.test\",\"admin\":{\"username\":\"ga\","
				 "\"password\":\"fuzz-pass1\"}}";
	json_decref(fuzz_call("POST", "/api/tenants", fz.sys_token, t1, sizeof(t1) - 1, NULL));
	fuzz_take(fuzz_call("POST", "/api/tenants", fz.sys_token, t2, sizeof(t2) - 1, NULL), "id",
		  fz.other_tenant, sizeof(fz.other_tenant));
	static const char s2[] = "{\"username\":\"fa\",\"password\":\"fuzz-pass1\",\"domain\":\"fuzz.test\"}";
	fuzz_take(fuzz_call("POST", "/api/auth/sign_in", NULL, s2, sizeof(s2) - 1, NULL), "token", fz.ten_token,
		  sizeof(fz.ten_token));
	static const char u1[] = "{\"username\":\"u1\",\"password\":\"fuzz-pass1\",\"email\":\"u@x.io\","
				 "\"extension_number\":\"101\",\"extension_password\":\"sipsecret1\"}";
	fuzz_take(fuzz_call("POST", "/api/users", fz.ten_token, u1, sizeof(u1) - 1, NULL), "id", fz.user_id,
		  sizeof(fz.user_id));
	return fz.ten_token[0] && fz.user_id[0] && fz.other_tenant[0] ? 0 : EIO;
}

int api_request_fuzz(const uint8_t *data, size_t len)
{
	if (!fz.api && fuzz_setup())
		abort();
	if (len < 1)
		return 0;
	char path[96];
	const char *body = (const char *)data + 1;
	size_t blen = len - 1;
	switch (data[0] % 10) {
	case 0:
		json_decref(fuzz_call("POST", "/api/auth/sign_in", NULL, body, blen, NULL));
		break;
	case 1:
		json_decref(fuzz_call("POST", "/api/auth/refresh", NULL, body, blen, NULL));
		break;
	case 2:
		json_decref(fuzz_call("POST", "/api/tenants", fz.sys_token, body, blen, NULL));
		break;
	case 3:
		snprintf(path, sizeof(path), "/api/tenants/%s", fz.other_tenant);
		json_decref(fuzz_call("POST", path, fz.sys_token, body, blen, NULL));
		break;
	case 4:
		json_decref(fuzz_call("POST", "/api/users", fz.ten_token, body, blen, NULL));
		break;
	case 5:
		snprintf(path, sizeof(path), "/api/users/%s", fz.user_id);
		json_decref(fuzz_call("POST", path, fz.ten_token, body, blen, NULL));
		break;
	case 6:
		snprintf(path, sizeof(path), "/api/users/%s/extension", fz.user_id);
		json_decref(fuzz_call("POST", path, fz.ten_token, body, blen, NULL));
		break;
	case 7:
		json_decref(fuzz_call("POST", "/api/user/extension", fz.ten_token, body, blen, NULL));
		break;
	case 8:
		json_decref(fuzz_call("POST", "/api/user/profile", fz.ten_token, body, blen, NULL));
		break;
	default: {
		/* the list query parser: the bytes as a filter */
		char *f = strndup(body, blen);
		if (f) {
			json_decref(fuzz_call("GET", "/api/users", fz.ten_token, NULL, 0, f));
			free(f);
		}
		break;
	}
	}
	return 0;
}
