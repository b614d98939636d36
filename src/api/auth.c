/* Sign-in, tokens and the per-address rate limit of failed sign-ins; also the
 * routes that need no resource: info and me. Tokens are 32 random bytes sent as
 * base64url; the database keeps only their SHA-256, so a copy of it grants
 * nothing, and sessions survive a restart. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"
#include "core/log.h"

static const struct api_field sign_in_fields[] = {
	{ "username", API_T_STRING, API_F_REQUIRED, 1, 64, NULL, NULL, NULL, 0, "Login name" },
	{ "password", API_T_STRING, API_F_REQUIRED | API_F_WRITEONLY, 1, 128, NULL, NULL, NULL, 0, NULL },
	{ "domain", API_T_STRING, 0, 1, 253, NULL, NULL, NULL, 0,
	  "The tenant's SIP domain; omitted by system administrators" },
};
const struct api_schema api_s_sign_in = API_SCHEMA("SignIn", sign_in_fields, "Credentials");

static const struct api_field refresh_fields[] = {
	{ "refresh_token", API_T_STRING, API_F_REQUIRED | API_F_WRITEONLY, 1, 128, NULL, NULL, NULL, 0, NULL },
};
const struct api_schema api_s_refresh = API_SCHEMA("Refresh", refresh_fields, "A refresh token");

static const struct api_field token_fields[] = {
	{ "token", API_T_STRING, API_F_READONLY, 43, 43, NULL, NULL, NULL, 0, "Bearer access token" },
	{ "expires_in", API_T_INT, API_F_READONLY, 1, 1LL << 31, NULL, NULL, NULL, 0, "Seconds the token is valid" },
	{ "refresh_token", API_T_STRING, API_F_READONLY, 43, 43, NULL, NULL, NULL, 0,
	  "Spend at /api/auth/refresh for a new pair (valid 30 days)" },
	{ "two_factor_enabled", API_T_BOOL, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "Always false for now" },
};
const struct api_schema api_s_token = API_SCHEMA("Token", token_fields, "A session's token pair");

static const struct api_field tenant_ref_fields[] = {
	{ "id", API_T_STRING, API_F_READONLY, 1, 19, NULL, NULL, NULL, 0, NULL },
	{ "name", API_T_STRING, API_F_READONLY, 1, 128, NULL, NULL, NULL, 0, NULL },
	{ "domain", API_T_STRING, API_F_READONLY, 1, 253, NULL, NULL, NULL, 0, NULL },
	{ "enabled", API_T_BOOL, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
};
static const struct api_schema s_tenant_ref = API_SCHEMA("TenantRef", tenant_ref_fields,
							 "A tenant's public metadata");

static const struct api_field me_fields[] = {
	{ "id", API_T_STRING, API_F_READONLY, 1, 19, NULL, NULL, NULL, 0, NULL },
	{ "username", API_T_STRING, API_F_READONLY, 1, 64, NULL, NULL, NULL, 0, NULL },
	{ "role", API_T_STRING, API_F_READONLY, 0, 0, "system_admin|admin|user", NULL, NULL, 0,
	  "admin: tenant administrator; a system admin switched into a tenant stays system_admin" },
	{ "display_name", API_T_STRING, API_F_READONLY, 0, 128, NULL, NULL, NULL, 0, NULL },
	{ "email", API_T_STRING, API_F_READONLY, 0, 254, NULL, NULL, NULL, 0, NULL },
	{ "extension_number", API_T_STRING, API_F_READONLY, 0, 16, NULL, NULL, NULL, 0, NULL },
	{ "tenant", API_T_OBJECT, API_F_READONLY | API_F_NULLABLE, 0, 0, NULL, NULL, &s_tenant_ref, 0,
	  "The tenant the token acts in (null for a system admin not switched)" },
};
const struct api_schema api_s_me = API_SCHEMA("Me", me_fields, "The signed-in principal");

static const struct api_field info_fields[] = {
	{ "product", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "version", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, NULL },
	{ "server_time", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "ISO 8601 UTC" },
	{ "tenant", API_T_OBJECT, API_F_READONLY, 0, 0, NULL, NULL, &s_tenant_ref, 0,
	  "With ?domain=: that tenant (404 when no tenant has the domain)" },
};
const struct api_schema api_s_info = API_SCHEMA("Info", info_fields, "Server information");

static const struct api_field error_body_fields[] = {
	{ "status", API_T_INT, API_F_READONLY | API_F_REQUIRED, 400, 599, NULL, NULL, NULL, 0, "HTTP status" },
	{ "code", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0,
	  "invalid_json|invalid_field|missing_field|unknown_field|not_found|unauthorized|forbidden|conflict|"
	  "in_use|limit_reached|rate_limited|payload_too_large|method_not_allowed|busy|internal", NULL, NULL, 0,
	  "Stable error code" },
	{ "message", API_T_STRING, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, NULL, 0,
	  "Human-readable, starting with the field when one is wrong" },
	{ "field", API_T_STRING, API_F_READONLY, 0, 0, NULL, NULL, NULL, 0, "The field at fault (dotted path)" },
};
static const struct api_schema s_error_body = API_SCHEMA("ErrorBody", error_body_fields, NULL);
static const struct api_field error_fields[] = {
	{ "error", API_T_OBJECT, API_F_READONLY | API_F_REQUIRED, 0, 0, NULL, NULL, &s_error_body, 0, NULL },
};
const struct api_schema api_s_error = API_SCHEMA("Error", error_fields, "Every error answer");

/* --- rate limit of failed sign-ins ------------------------------------------------- */

/*
 * Two counters per attempt, each in its own table: the source (an IPv4 address,
 * or the /64 of an IPv6 one, since one host holds a whole /64) and the account
 * (the domain and username as typed, so unknown names count too). An account
 * is blocked after max_failures failures in the window; a source only after
 * RL_SOURCE_FACTOR times as many, so that one guesser behind a shared NAT blocks
 * the accounts it tries and, late, itself, but not everyone behind that address.
 *
 * The attempt is counted before the password is verified, in the same locked
 * step as the check, so that parallel guesses cannot all pass a check made
 * before any of them failed. A success forgets the account's failures and
 * refunds its own count to the source (the source's earlier failures stay: a
 * valid account must not launder a spraying run).
 *
 * A slot that is blocked is never given to another key. When a table holds
 * only blocked slots, new keys are refused (429) until the first block ends:
 * forgetting a block would unblock whoever fills the table.
 */

#define RL_SLOTS 4096
#define RL_SOURCE_FACTOR 10

struct rl_slot {
	uint8_t key[16]; /* SHA-256 prefix of the key */
	bool used;
	int failures;
	int64_t window_start; /* ms */
};

struct rl_table {
	int limit;
	struct rl_slot slot[RL_SLOTS];
};

struct api_ratelimit {
	/* Sign-ins run on several MHD threads; the lock guards both tables and is
	 * held for a lookup only (never across hashing or storage). */
	pthread_mutex_t lock;
	int64_t window_ms;
	struct rl_table source, account;
};

int api_ratelimit_alloc(struct api_ratelimit **rlp, int max_failures, int window_s)
{
	struct api_ratelimit *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return ENOMEM;
	pthread_mutex_init(&rl->lock, NULL);
	rl->account.limit = max_failures;
	rl->source.limit = max_failures > INT_MAX / RL_SOURCE_FACTOR ? INT_MAX : max_failures * RL_SOURCE_FACTOR;
	rl->window_ms = (int64_t)window_s * 1000;
	*rlp = rl;
	return 0;
}

void api_ratelimit_free(struct api_ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

static void rl_digest(uint8_t tag, const void *data, size_t len, uint8_t key[16])
{
	uint8_t buf[1 + STORE_DOMAIN_SZ + STORE_USERNAME_SZ + 1], md[SHA256_DIGEST_LENGTH];
	if (len > sizeof(buf) - 1)
		len = sizeof(buf) - 1;
	buf[0] = tag;
	memcpy(buf + 1, data, len);
	SHA256(buf, len + 1, md);
	memcpy(key, md, 16);
}

static void rl_lower(char *dst, size_t sz, const char *s)
{
	size_t i = 0;
	for (; s && s[i] && i + 1 < sz; i++)
		dst[i] = (char)tolower((unsigned char)s[i]);
	dst[i] = '\0';
}

void api_ratelimit_keys(struct api_rl_keys *k, const char *source, const char *domain, const char *username)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, source, &a4) == 1) {
		rl_digest(4, &a4, 4, k->source);
	} else if (inet_pton(AF_INET6, source, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6))
			rl_digest(4, a6.s6_addr + 12, 4, k->source);
		else
			rl_digest(6, a6.s6_addr, 8, k->source); /* the /64 */
	} else {
		rl_digest('s', source, strlen(source), k->source);
	}
	/* Domains and usernames compare case-insensitively (ASCII), as in the store. */
	char du[STORE_DOMAIN_SZ + STORE_USERNAME_SZ];
	rl_lower(du, STORE_DOMAIN_SZ, domain);
	size_t dl = strlen(du) + 1; /* the NUL separates domain and username */
	rl_lower(du + dl, STORE_USERNAME_SZ, username);
	rl_digest('a', du, dl + strlen(du + dl), k->account);
}

static bool rl_live(const struct api_ratelimit *rl, const struct rl_slot *s, int64_t now)
{
	return s->used && now - s->window_start < rl->window_ms;
}

static int rl_wait(const struct api_ratelimit *rl, const struct rl_slot *s, int64_t now)
{
	int64_t w = (s->window_start + rl->window_ms - now + 999) / 1000;
	return w > 0 ? (int)w : 1;
}

/* The live slot of key, else a new one in a free or expired slot, else in the
 * oldest unblocked one. NULL when every slot is blocked; *wait then says when
 * the first of them ends. */
static struct rl_slot *rl_slot_of(struct api_ratelimit *rl, struct rl_table *t, const uint8_t key[16], int64_t now,
				  int *wait)
{
	struct rl_slot *spare = NULL, *oldest = NULL;
	*wait = 0;
	for (size_t i = 0; i < RL_SLOTS; i++) {
		struct rl_slot *s = &t->slot[i];
		bool live = rl_live(rl, s, now);
		if (live && memcmp(s->key, key, 16) == 0)
			return s;
		if (!live) {
			if (!spare)
				spare = s;
		} else if (s->failures < t->limit) {
			if (!oldest || s->window_start < oldest->window_start)
				oldest = s;
		} else if (!*wait || rl_wait(rl, s, now) < *wait) {
			*wait = rl_wait(rl, s, now);
		}
	}
	struct rl_slot *s = spare ? spare : oldest;
	if (!s)
		return NULL;
	memcpy(s->key, key, 16);
	s->used = true;
	s->failures = 0;
	s->window_start = now;
	return s;
}

int api_ratelimit_begin(struct api_ratelimit *rl, const struct api_rl_keys *k, const char **why)
{
	int64_t now = store_now_ms();
	int wait = 0, full_src, full_acc;
	*why = NULL;
	pthread_mutex_lock(&rl->lock);
	struct rl_slot *src = rl_slot_of(rl, &rl->source, k->source, now, &full_src);
	struct rl_slot *acc = rl_slot_of(rl, &rl->account, k->account, now, &full_acc);
	if (!src || !acc) {
		wait = !src ? full_src : full_acc;
		*why = "too many blocked sign-ins on this server";
	} else if (src->failures >= rl->source.limit) {
		wait = rl_wait(rl, src, now);
		*why = "too many failed sign-ins from this address";
	} else if (acc->failures >= rl->account.limit) {
		wait = rl_wait(rl, acc, now);
		*why = "too many failed sign-ins for this account";
	} else {
		src->failures++;
		acc->failures++;
	}
	pthread_mutex_unlock(&rl->lock);
	return wait;
}

void api_ratelimit_success(struct api_ratelimit *rl, const struct api_rl_keys *k)
{
	int64_t now = store_now_ms();
	int unused;
	pthread_mutex_lock(&rl->lock);
	struct rl_slot *src = rl_slot_of(rl, &rl->source, k->source, now, &unused);
	struct rl_slot *acc = rl_slot_of(rl, &rl->account, k->account, now, &unused);
	if (src && src->failures > 0)
		src->failures--;
	if (acc)
		acc->used = false;
	pthread_mutex_unlock(&rl->lock);
}

/* --- random text --------------------------------------------------------------------- */

/* Without 0/O, 1/l/I: generated passwords are read aloud and typed. */
static const char pw_abc[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
#define PW_ABC_N (sizeof(pw_abc) - 1)
#define PW_DIGITS 8 /* the last 8 of pw_abc */

/* A uniform index below n from r, or -1: bytes at or above the largest multiple
 * of n are rejected, so that no character is likelier than another. */
static int uniform(uint8_t r, unsigned n)
{
	unsigned lim = 256 - 256 % n;
	return r < lim ? (int)(r % n) : -1;
}

int api_random_text(char *out, size_t len)
{
	if (len < 3)
		return EINVAL;
	uint8_t r[64];
	size_t o = 0, used = sizeof(r);
	while (o + 1 < len) {
		if (used == sizeof(r)) {
			if (RAND_bytes(r, sizeof(r)) != 1) {
				log_error("api: no random bytes from OpenSSL");
				return EIO;
			}
			used = 0;
		}
		/* The last character is a digit: letters always come with one, as
		 * api_check_password wants. */
		bool digit = o + 2 == len;
		int i = uniform(r[used++], digit ? PW_DIGITS : PW_ABC_N);
		if (i >= 0)
			out[o++] = digit ? pw_abc[PW_ABC_N - PW_DIGITS + (size_t)i] : pw_abc[i];
	}
	out[o] = '\0';
	return 0;
}

/* --- tokens ------------------------------------------------------------------------ */

static int token_new(char out[44], uint8_t hash[32])
{
	uint8_t raw[32];
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		log_error("api: no random bytes from OpenSSL: no token issued");
		return EIO;
	}
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	for (size_t i = 0; i < 32; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (i + 1 < 32 ? (uint32_t)raw[i + 1] << 8 : 0) |
			     (i + 2 < 32 ? raw[i + 2] : 0);
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		if (i + 1 < 32)
			out[o++] = b64[v >> 6 & 63];
		if (i + 2 < 32)
			out[o++] = b64[v & 63];
	}
	out[o] = '\0';
	SHA256((const uint8_t *)out, o, hash);
	return 0;
}

/* A new access + refresh pair: the tokens' text, and their rows without a
 * principal (the caller sets it, or the store copies it from a spent token). */
static int pair_new(struct api_req *rq, int64_t now, struct store_session s[2], char access[44], char refresh[44])
{
	memset(s, 0, 2 * sizeof(*s));
	s[0].kind = STORE_SESSION_ACCESS;
	s[0].expires_at = now + rq->api->token_lifetime_s * 1000;
	s[1].kind = STORE_SESSION_REFRESH;
	s[1].expires_at = now + (int64_t)API_REFRESH_LIFETIME_S * 1000;
	s[0].created_at = s[1].created_at = now;
	return token_new(access, s[0].hash) || token_new(refresh, s[1].hash) ? EIO : 0;
}

static void pair_answer(struct api_req *rq, struct api_resp *rs, const char *access, const char *refresh)
{
	api_ok(rs, 200, json_pack("{s:s, s:I, s:s, s:b}", "token", access, "expires_in",
				  (json_int_t)rq->api->token_lifetime_s, "refresh_token", refresh,
				  "two_factor_enabled", 0));
}

int api_issue_tokens(struct api_req *rq, struct api_resp *rs, uint64_t admin_id, uint64_t user_id,
		     uint64_t tenant_id, uint64_t parent_grant, int64_t cred_gen)
{
	char access[44], refresh[44];
	struct store_session s[2];
	if (pair_new(rq, store_now_ms(), s, access, refresh))
		return api_error(rs, 500, "internal", NULL, "cannot make a token");
	uint64_t grant = store_id_next();
	int e = 0;
	for (int i = 0; !e && i < 2; i++) {
		s[i].grant_id = grant;
		s[i].parent_grant = parent_grant;
		s[i].admin_id = admin_id;
		s[i].user_id = user_id;
		s[i].tenant_id = tenant_id;
		s[i].cred_gen = cred_gen;
		e = store_session_put(rq->st, &s[i]);
	}
	if (e) {
		store_session_delete_grant(rq->st, grant);
		return api_store_error(rs, rq->st, e, "session");
	}
	pair_answer(rq, rs, access, refresh);
	return 0;
}

/* Checks that the principal of a session may still act: the admin or user exists
 * and is enabled, a user's tenant is enabled (TEN-03), and the credentials are
 * of the generation the session was issued under: a password changed or an
 * account disabled since (even if enabled again) ends it, whatever raced. */
static int principal_ok(struct api_req *rq, const struct store_session *s, struct api_who *w)
{
	memset(w, 0, sizeof(*w));
	w->grant_id = s->grant_id;
	w->tenant_id = s->tenant_id;
	if (s->admin_id) {
		struct store_admin a;
		if (store_admin_get(rq->st, s->admin_id, &a) || !a.enabled || a.cred_gen != s->cred_gen)
			return EACCES;
		w->sysadmin = true;
		w->admin_id = a.id;
		w->cred_gen = a.cred_gen;
		w->tenant_admin = s->tenant_id != 0;
		if (s->tenant_id) {
			struct store_tenant t;
			if (store_tenant_get(rq->st, s->tenant_id, &t))
				return EACCES;
		}
		return 0;
	}
	struct store_user u = { 0 };
	struct store_tenant t;
	int e = store_user_get(rq->st, s->tenant_id, s->user_id, &u);
	store_user_reset(&u);
	if (e || !u.enabled || u.cred_gen != s->cred_gen || store_tenant_get(rq->st, u.tenant_id, &t) ||
	    !t.enabled)
		return EACCES;
	w->user_id = u.id;
	w->cred_gen = u.cred_gen;
	snprintf(w->domain, sizeof(w->domain), "%s", t.domain);
	w->tenant_admin = u.role == STORE_ROLE_ADMIN;
	return 0;
}

int api_authenticate(struct api_req *rq, struct api_resp *rs)
{
	const char *h = rq->authorization;
	rs->www_auth = true;
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return api_error(rs, 401, "unauthorized", NULL, "sign in first: Authorization: Bearer TOKEN");
	h += 7;
	while (*h == ' ')
		h++;
	size_t len = strlen(h);
	if (len == 0 || len > 128)
		return api_error(rs, 401, "unauthorized", NULL, "invalid or expired token");
	uint8_t hash[32];
	SHA256((const uint8_t *)h, len, hash);
	struct store_session s;
	int e = store_session_get(rq->st, hash, &s);
	if (e && e != ENOENT)
		return api_store_error(rs, rq->st, e, "session");
	if (e || s.kind != STORE_SESSION_ACCESS || s.expires_at <= store_now_ms() ||
	    principal_ok(rq, &s, &rq->who))
		return api_error(rs, 401, "unauthorized", NULL, "invalid or expired token");
	memcpy(rq->who.token_hash, hash, 32);
	rq->who.signed_in = true;
	rs->www_auth = false;
	return 0;
}

/* --- routes ------------------------------------------------------------------------- */

/* Expired sessions are deleted at most once a minute, by the first sign-in after
 * that: a sweep per sign-in would be a write on every attempt. */
static void purge_expired(struct api_req *rq)
{
	int64_t now = store_now_ms(), due = atomic_load(&rq->api->purge_due);
	if (now < due || !atomic_compare_exchange_strong(&rq->api->purge_due, &due, now + API_PURGE_EVERY_MS))
		return;
	store_session_purge(rq->st, now);
}

static int sign_in_fail(struct api_resp *rs)
{
	rs->www_auth = true;
	return api_error(rs, 401, "unauthorized", NULL, "wrong username, password or domain");
}

/* The principal is read before its password is verified; the tokens carry
 * the credential generation of that read, so a reset or a disable that commits
 * while Argon2 runs leaves them dead on arrival (principal_ok). */
void api_h_sign_in(struct api_req *rq, struct api_resp *rs)
{
	const char *username = json_string_value(json_object_get(rq->json, "username"));
	const char *password = json_string_value(json_object_get(rq->json, "password"));
	const char *domain = json_string_value(json_object_get(rq->json, "domain"));
	if (!domain) {
		struct store_admin a;
		int e = store_admin_get_by_name(rq->st, username, &a);
		e = api_pw_check(rq, rs, NULL, username, e ? NULL : a.pw_hash, password);
		if (e == EACCES || (!e && !a.enabled))
			sign_in_fail(rs);
		if (e || !a.enabled)
			return;
		purge_expired(rq);
		api_issue_tokens(rq, rs, a.id, 0, 0, 0, a.cred_gen);
		return;
	}
	struct store_tenant t;
	struct store_user u = { 0 };
	int e = store_tenant_get_by_domain(rq->st, domain, &t);
	if (!e)
		e = store_user_get_by_name(rq->st, t.id, username, &u);
	/* The tenant's state is read again after the user: a disable that commits
	 * between the two reads has already moved the user's generation, so the
	 * first read's "enabled" would mint a session of the new generation that
	 * works again once the tenant is enabled. Read after, it says disabled. */
	if (!e)
		e = store_tenant_get(rq->st, t.id, &t);
	store_user_reset(&u);
	e = api_pw_check(rq, rs, domain, username, e ? NULL : u.pw_hash, password);
	bool ok = !e && u.enabled && t.enabled;
	if (e == EACCES || (!e && !ok))
		sign_in_fail(rs);
	if (!ok)
		return;
	purge_expired(rq);
	api_issue_tokens(rq, rs, 0, u.id, t.id, 0, u.cred_gen);
}

/* The refresh token is spent and its successors stored in one store call whose
 * DELETE is the gate: of concurrent requests with one token, one wins. A token
 * presented after it was spent means two parties hold it: the grant ends. */
void api_h_refresh(struct api_req *rq, struct api_resp *rs)
{
	const char *tok = json_string_value(json_object_get(rq->json, "refresh_token"));
	uint8_t hash[32];
	SHA256((const uint8_t *)tok, strlen(tok), hash);
	int64_t now = store_now_ms();
	char access[44], refresh[44];
	struct store_session old, next[2];
	if (pair_new(rq, now, next, access, refresh)) {
		api_error(rs, 500, "internal", NULL, "cannot make a token");
		return;
	}
	int e = store_session_spend(rq->st, hash, now, &old, next);
	if (e == EALREADY)
		log_warn("api: a spent refresh token was presented again (from %s); its session is ended",
			 rq->source);
	if (e && e != ENOENT && e != EALREADY) {
		api_store_error(rs, rq->st, e, "session");
		return;
	}
	struct api_who w;
	if (!e && principal_ok(rq, &old, &w)) {
		store_session_delete_grant(rq->st, old.grant_id);
		e = EACCES;
	}
	if (e) {
		rs->www_auth = true;
		api_error(rs, 401, "unauthorized", "refresh_token", "refresh_token: invalid or expired");
		return;
	}
	pair_answer(rq, rs, access, refresh);
}

/* Ends the grant, and the grants switched into tenants from it. */
void api_h_sign_out(struct api_req *rq, struct api_resp *rs)
{
	int e = store_session_delete_grant(rq->st, rq->who.grant_id);
	if (e)
		api_store_error(rs, rq->st, e, "session");
	else
		api_ok(rs, 204, NULL);
}

/* Any principal changes their own login password, a system admin included (a
 * tenant user's request is /api/user/password's). The old password is required
 * (an attempt on the account's failure limit), and the account's other sessions
 * end. The write is versioned: if the row changed meanwhile it is redone on the
 * fresh row, unless the credentials themselves changed (then 409). */
void api_h_me_password(struct api_req *rq, struct api_resp *rs)
{
	if (!rq->who.sysadmin) {
		api_h_user_password(rq, rs);
		return;
	}
	const char *old = json_string_value(json_object_get(rq->json, "old_password"));
	const char *pw = json_string_value(json_object_get(rq->json, "new_password"));
	char hash[STORE_HASH_SZ];
	int64_t gen = 0;
	for (int i = 0; i < API_EDIT_TRIES; i++) {
		struct store_admin a;
		int e = store_admin_get(rq->st, rq->who.admin_id, &a);
		if (e) {
			api_store_error(rs, rq->st, e, "admin");
			return;
		}
		if (i == 0) {
			e = api_pw_check(rq, rs, NULL, a.username, a.pw_hash, old);
			if (e == EACCES)
				api_error(rs, 422, "invalid_field", "old_password", "old_password: does not match");
			if (e || api_pw_hash(rq, rs, pw, hash, sizeof(hash)))
				return;
			gen = a.cred_gen;
		} else if (a.cred_gen != gen) {
			api_error(rs, 409, "conflict", NULL, "the account's credentials changed meanwhile; sign in again");
			return;
		}
		snprintf(a.pw_hash, sizeof(a.pw_hash), "%s", hash);
		e = store_admin_update(rq->st, &a, rq->who.grant_id);
		if (e == ESTALE)
			continue;
		if (e) {
			api_store_error(rs, rq->st, e, "admin");
			return;
		}
		log_info("api: system admin %s changed their password", a.username);
		api_ok(rs, 204, NULL);
		return;
	}
	api_error(rs, 409, "conflict", NULL, "the account changed too often meanwhile; try again");
}

void api_h_me(struct api_req *rq, struct api_resp *rs)
{
	const struct api_who *w = &rq->who;
	struct store_tenant t;
	json_t *tenant = json_null();
	if (w->tenant_id && store_tenant_get(rq->st, w->tenant_id, &t) == 0)
		tenant = api_tenant_summary(&t);
	if (w->sysadmin) {
		struct store_admin a;
		if (store_admin_get(rq->st, w->admin_id, &a)) {
			json_decref(tenant);
			api_error(rs, 401, "unauthorized", NULL, "invalid or expired token");
			return;
		}
		api_ok(rs, 200, json_pack("{s:o, s:s, s:s, s:o}", "id", api_json_id(a.id), "username", a.username,
					  "role", "system_admin", "tenant", tenant));
		return;
	}
	struct store_user u = { 0 };
	int e = store_user_get(rq->st, w->tenant_id, w->user_id, &u);
	if (e) {
		json_decref(tenant);
		api_store_error(rs, rq->st, e, "user");
		return;
	}
	api_ok(rs, 200, json_pack("{s:o, s:s, s:s, s:s, s:s, s:s, s:o}", "id", api_json_id(u.id), "username",
				  u.username, "role", u.role == STORE_ROLE_ADMIN ? "admin" : "user", "display_name",
				  u.display_name, "email", u.email, "extension_number", u.ext_number, "tenant",
				  tenant));
	store_user_reset(&u);
}

void api_h_info(struct api_req *rq, struct api_resp *rs)
{
	const char *domain = api_query(rq, "domain");
	json_t *o = json_pack("{s:s, s:s, s:o}", "product", "pbxd", "version", PBXD_VERSION, "server_time",
			      api_json_time(store_now_ms()));
	if (domain) {
		struct store_tenant t;
		int e = store_tenant_get_by_domain(rq->st, domain, &t);
		if (e) {
			json_decref(o);
			api_error(rs, 404, "not_found", "domain", "domain: no tenant has this SIP domain");
			return;
		}
		json_t *tr = api_tenant_summary(&t);
		json_object_del(tr, "id"); /* public: no ids before sign-in */
		json_object_set_new(o, "tenant", tr);
	}
	api_ok(rs, 200, o);
}
