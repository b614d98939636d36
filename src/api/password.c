/* Every Argon2 operation of the API goes through here: at most API_COSTLY_MAX run
 * at once (each takes 19 MiB and tens of ms), and every verification of a login
 * password, whatever the route, is an attempt on that account's failure limit. */
#include <errno.h>
#include <time.h>

#include "api/api_int.h"

/* A verification of a password someone presents is refused at once (503) when
 * the gate is full: that is what a flood of guesses looks like, and nothing
 * should queue behind it. Hashing a new password, which only a signed-in
 * principal asks for (an admin creating users in bulk), waits for its turn up
 * to API_COSTLY_WAIT_MS instead. */
static bool gate_enter(struct api_req *rq, struct api_resp *rs, bool wait)
{
	struct api *a = rq->api;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += API_COSTLY_WAIT_MS / 1000;
	pthread_mutex_lock(&a->costly_lock);
	int r = 0;
	while (wait && a->costly_running >= API_COSTLY_MAX && r == 0)
		r = pthread_cond_timedwait(&a->costly_cond, &a->costly_lock, &until);
	bool ok = a->costly_running < API_COSTLY_MAX;
	if (ok)
		a->costly_running++;
	pthread_mutex_unlock(&a->costly_lock);
	if (!ok) {
		rs->retry_after = 1;
		api_error(rs, 503, "busy", NULL, "too many password checks at once; try again in a moment");
	}
	return ok;
}

static void gate_leave(struct api_req *rq)
{
	struct api *a = rq->api;
	pthread_mutex_lock(&a->costly_lock);
	a->costly_running--;
	pthread_cond_signal(&a->costly_cond);
	pthread_mutex_unlock(&a->costly_lock);
}

int api_pw_hash(struct api_req *rq, struct api_resp *rs, const char *password, char *out, size_t outsz)
{
	if (!gate_enter(rq, rs, true))
		return EBUSY;
	int e = store_pw_hash(password, out, outsz);
	gate_leave(rq);
	if (e)
		api_error(rs, 500, "internal", NULL, "cannot hash the password");
	return e;
}

int api_pw_check(struct api_req *rq, struct api_resp *rs, const char *domain, const char *username,
		 const char *encoded, const char *password)
{
	/* The gate first: an attempt refused as busy must not count as a failure. */
	if (!gate_enter(rq, rs, false))
		return EBUSY;
	struct api_rl_keys k;
	const char *why;
	api_ratelimit_keys(&k, rq->source, domain, username);
	int wait = api_ratelimit_begin(rq->api->rl, &k, &why);
	if (wait) {
		gate_leave(rq);
		rs->retry_after = wait;
		api_error(rs, 429, "rate_limited", NULL, "%s; retry in %d s", why, wait);
		return EAGAIN;
	}
	/* An unknown account costs the same hashing time as a wrong password. */
	int e = store_pw_verify(encoded ? encoded : rq->api->dummy_hash, password);
	gate_leave(rq);
	if (e || !encoded)
		return EACCES;
	api_ratelimit_success(rq->api->rl, &k);
	return 0;
}
