/* The PBX layer: what pbxd does with the requests the SIP stack hands it. Each
 * capability is its own module (the directory of tenants and extensions, the
 * location service, security, the registrar, calls, and later the applications);
 * this module starts them, keeps their data current and durable through the
 * storage worker, and is the one door other threads (the REST API) use.
 *
 * Threads: everything here runs on the signalling thread, but for the functions
 * under "any thread", which pass messages (mqueue) to it. */
#ifndef PBX_PBX_H
#define PBX_PBX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/conf.h"
#include "core/loop.h"
#include "pbx/security.h"
#include "sip/stack.h"
#include "store/store.h"

struct pbx;

extern const struct conf_opt pbx_opts[];
extern const size_t pbx_opts_count;

/* Loads tenants, extensions and registered devices from st (at start: the only
 * time the signalling thread reads the database itself), then takes requests.
 * Writes go to worker. Free with pbx_free() (not reference counted): it saves
 * what is still unsaved through the worker, which must still run. */
int pbx_alloc(struct pbx **pp, struct loop *loop, struct sip_stack *sip, const struct conf *conf, struct store *st,
	      struct store_worker *worker);
void pbx_free(struct pbx *p);

/* --- any thread ------------------------------------------------------------------- */

/* Merges a partial update into an extension's settings (both JSON objects):
 * objects merge key by key, other values replace, and a patch that sets a
 * destination's "action" drops its old "number" and "mailbox", one that sets a
 * "mode" the old "destination" and "schedules" unless it gives them again.
 * Pure; the API and the feature codes both change settings this way. */
struct json_t;
void pbx_settings_merge(struct json_t *dst, const struct json_t *patch);

/* The API wrote a tenant's or a user's row (created, changed or deleted it): the
 * PBX re-reads it through the storage worker. With wait, returns once the PBX has
 * applied what the store holds (a few seconds at most), so that when the API
 * answers, a phone can register with the extension it just created; without, at
 * once (before the signalling loop runs: the first start's default tenant). p may
 * be NULL (nothing to tell). */
void pbx_notify_tenant(struct pbx *p, uint64_t tenant_id, bool wait);
void pbx_notify_user(struct pbx *p, uint64_t tenant_id, uint64_t user_id, bool wait);
/* The API wrote configuration objects of kind (enum store_obj_kind): the PBX
 * reads that kind again, whole (providers re-register as their rows say). */
void pbx_notify_objects(struct pbx *p, int kind, bool wait);

/* A provider's state as the PBX knows it (pbx/trunks). */
struct pbx_provider_status {
	bool registered;
	char state[16];      /* registered, registering, failed, unregistered, ip, disabled */
	uint16_t last_code;  /* the last final answer to a REGISTER, 0 none */
	char last_error[128];
	int64_t expires_at, next_attempt_at; /* ms, 0: none */
	char address[64];    /* where its requests go */
	unsigned calls;
};
/* ENOENT: the PBX has no such provider (not yet read, or deleted). */
int pbx_provider_status(struct pbx *p, uint64_t provider_id, struct pbx_provider_status *out);

/* These wait (at most a few seconds) for the signalling thread's answer: 0, or
 * ETIMEDOUT when it did not answer in time. */

/* The registered devices of a user of a tenant, oldest first, as a malloc'd array
 * the caller frees. */
int pbx_devices(struct pbx *p, uint64_t tenant_id, uint64_t user_id, struct store_location **out, size_t *n);
/* Ends one device's registration: 0 or ENOENT (no such device of that user). */
int pbx_device_unregister(struct pbx *p, uint64_t tenant_id, uint64_t user_id, uint64_t device_id);
/* Numbers of registered devices per user, for lists: counts[i] for users[i]. */
int pbx_device_counts(struct pbx *p, const uint64_t *users, size_t n, unsigned *counts);
/* A browser phone's SIP credential for a user's extension (dir_webcred): the
 * digest username "<number>~<id>" and its secret, valid an hour, at most
 * DIR_WEBCRED_MAX at once per extension (the oldest is replaced). 0, ENOENT
 * (no such usable extension of that tenant) or EIO (no randomness). */
struct pbx_webcred {
	char username[80], password[40];
	char number[STORE_EXT_SZ], domain[STORE_DOMAIN_SZ], display_name[STORE_NAME_SZ];
	int64_t expires_ms;
};
enum { PBX_WEBCRED_TTL_S = 3600 };
int pbx_webcred_new(struct pbx *p, uint64_t tenant_id, uint64_t user_id, struct pbx_webcred *out);
/* SIP over TLS and WSS read their certificate files again (after an upload):
 * 0, ENOENT (TLS is off), or the load's error (the pair in use stays). */
int pbx_sip_tls_reload(struct pbx *p);
/* call_engine_status() for the API: out holds at least 32 bytes. */
int pbx_user_status(struct pbx *p, uint64_t tenant_id, uint64_t user_id, char *out, size_t size);
/* What the system holds now, for the system admin's overview. */
struct pbx_stats {
	size_t tenants, extensions, devices, calls;
};
int pbx_stats(struct pbx *p, struct pbx_stats *out);
/* Current bans (malloc'd array, the caller frees). */
int pbx_bans(struct pbx *p, struct security_ban **out, size_t *n);
/* Lifts a ban: 0, ENOENT (not banned) or EINVAL (not an address). */
int pbx_ban_lift(struct pbx *p, const char *address);

/* An active call as the API lists it (a snapshot). */
enum { PBX_NUMBER_SZ = 64 };
struct pbx_call_info {
	uint64_t session_id;                 /* the CDR's session_id, X-Session-Id */
	uint64_t tenant_id;
	uint64_t caller_user_id, callee_user_id; /* 0: not a user of the tenant */
	char caller[PBX_NUMBER_SZ], callee[PBX_NUMBER_SZ];
	char caller_display_name[STORE_NAME_SZ];
	char callee_display_name[STORE_NAME_SZ];
	char call_id[STORE_CALLID_SZ];       /* the caller's Call-ID */
	const char *state;                   /* "ringing", "talking" or "ending" (static) */
	const char *direction;               /* "ext", "in", "out", "in2out" (static) */
	int64_t start_time, answered_time;   /* ms since the epoch; answered 0: not yet */
};
/* The tenant's active calls (user_id 0), or those of one user (as caller or
 * callee), oldest first, as a malloc'd array the caller frees. */
int pbx_calls(struct pbx *p, uint64_t tenant_id, uint64_t user_id, struct pbx_call_info **out, size_t *n);
/* Hangs a call of the tenant up (BYE to answered legs, CANCEL or 480 to the
 * others): 0 or ENOENT (no such active call in that tenant). */
int pbx_call_hangup(struct pbx *p, uint64_t tenant_id, uint64_t session_id);

/* --- event feeds and webhooks (any thread) ----------------------------------------- */

/* A feed of a tenant's call events (call_start, call_cdr: the seeds' JSON objects,
 * as the webhooks get them) for a thread of the API: each event is queued, as
 * text, until the reader takes it with pbx_feed_next(). At most `max` wait; an
 * event past that is not queued and the feed is marked overrun (its reader
 * cannot keep up and should let go: the signalling thread never waits for it).
 * pbx_feed_fd() is an eventfd, readable once events arrived (read it to clear).
 * 0, EINVAL (tenant 0, max 0) or ENOMEM. Every feed is closed before pbx_free(). */
struct pbx_feed;
int pbx_feed_open(struct pbx *p, uint64_t tenant_id, size_t max, struct pbx_feed **fp);
int pbx_feed_fd(const struct pbx_feed *f);
/* The oldest waiting event's JSON text (malloc'd: the caller frees it), or NULL
 * when none waits; *overrun tells whether events were lost. */
char *pbx_feed_next(struct pbx_feed *f, bool *overrun);
void pbx_feed_close(struct pbx_feed *f);

/* The API changed a tenant's webhooks; events: the STORE_WH_* bits its enabled
 * webhooks now want (0: none, so its calls queue nothing). The delivery thread
 * looks at the outbox now (a webhook enabled again delivers what waited for
 * it). p may be NULL. */
void pbx_webhooks_changed(struct pbx *p, uint64_t tenant_id, unsigned events);

#endif
