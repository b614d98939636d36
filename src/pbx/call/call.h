/* The call engine: a back-to-back user agent. An authenticated INVITE from an
 * extension to a number of its tenant becomes a call with an A leg (the caller's
 * dialog, where pbxd is the UAS) and one B leg per registered device of the
 * callee (dialogs where pbxd is the UAC), rung in parallel; the first to answer
 * wins. Media is anchored: each call has an RTP port pair facing the caller and
 * one facing the callee, relayed by a media worker (media.h), and each leg's
 * SDP names pbxd's own pair.
 *
 * Threads: everything runs on the signalling thread, one owner, no locks on call
 * state; the media worker is told what to relay by messages. A finished call's
 * CDR is handed to the caller's hook (the pbx module, which stores it through
 * the storage worker and publishes it). */
#ifndef PBX_CALL_CALL_H
#define PBX_CALL_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "core/conf.h"
#include "core/loop.h"
#include "pbx/authn.h"
#include "pbx/directory.h"
#include "pbx/location.h"
#include "pbx/trunk/trunks.h"
#include "sip/stack.h"
#include "store/store.h"

extern const struct conf_opt call_opts[];
extern const size_t call_opts_count;

struct call_engine;
struct pbx_call_info;

/* Events of a call's life, for the event bus and webhooks: the JSON object of
 * the seeds' call_start (at routing) or call_cdr (at the end), as text. */
enum call_event_kind { CALL_EV_START, CALL_EV_CDR };

/* A finished call's CDR: ownership passes to the hook (free with
 * call_cdr_free). */
typedef void (call_cdr_h)(struct store_cdr *cdr, void *arg);
/* A call started (json: the call_start event; valid during the call). */
typedef void (call_start_h)(uint64_t tenant_id, const char *json, void *arg);
void call_cdr_free(struct store_cdr *cdr);

struct call_deps {
	struct loop *loop;
	struct sip_stack *sip;
	const struct conf *conf; /* call_opts and media_opts */
	struct directory *dir;
	struct location *loc;
	struct authn *authn;
	struct trunks *trunks;   /* providers and rules for calls from and to the outside */
	call_cdr_h *cdr;
	call_start_h *start;
	call_start_h *answered;  /* a call was answered (json: call_answered), or NULL */
	/* Writes a partial update of a user's settings (a feature code): JSON text
	 * merged as the API merges it, applied asynchronously. 0 or errno. */
	int (*settings_patch)(uint64_t tenant_id, uint64_t user_id, const char *patch, void *arg);
	void *arg;
};

/* Starts the media worker and takes INVITE, ACK, BYE and UPDATE from the stack.
 * Not reference counted: call_engine_free() hangs up every call (their CDRs are
 * still handed over), stops the media worker and frees the ports. */
int call_engine_alloc(struct call_engine **cp, const struct call_deps *d);
void call_engine_free(struct call_engine *c);
/* The status that picks the user's forwarding rules now: the one they set,
 * else outside_office_hours while their office hours are closed, else
 * available. 0 or ENOENT (no such extension of the tenant). */
int call_engine_status(struct call_engine *e, uint64_t tenant_id, uint64_t user_id, char *out, size_t size);
/* Calls in progress (ringing or answered), all tenants. */
size_t call_engine_active(const struct call_engine *e);

/* Active calls of a tenant (user_id 0) or of one user, oldest first, into a
 * malloc'd array. */
int call_engine_list(struct call_engine *c, uint64_t tenant_id, uint64_t user_id, struct pbx_call_info **out,
		     size_t *n);
/* 0 or ENOENT. */
int call_engine_hangup(struct call_engine *c, uint64_t tenant_id, uint64_t session_id);

#endif
