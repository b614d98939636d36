/* The location service (as Kamailio's usrloc under its registrar): the bindings
 * of each address-of-record, that is where an extension's devices can be reached.
 * The registrar writes it, the call engine reads it. It lives in memory on the
 * signalling thread; every change is reported to one observer (the pbx module,
 * which persists bindings through the storage worker and raises events).
 *
 * A binding expires by its own timer; `location_unbind` ends it early. Not
 * thread-safe. Free with mem_deref(). */
#ifndef PBX_LOCATION_H
#define PBX_LOCATION_H

#include <stdbool.h>
#include <stdint.h>

#include "core/list.h"
#include "core/timer.h"
#include "sip/msg.h"
#include "store/store.h"

/* A binding. The strings are NUL-terminated and live in the binding's own
 * allocation; `peer` holds a reference to the connection it registered over
 * (streams), so requests to the device can go back over the same flow. */
struct loc_binding {
	uint64_t id; /* time-ordered, unique: the device id the API shows */
	uint64_t tenant_id, user_id;
	const char *contact;    /* the Contact URI as registered */
	const char *instance;   /* +sip.instance, "" when none (RFC 5626) */
	const char *path;       /* Path header values, "" when none (RFC 3327) */
	const char *user_agent;
	const char *call_id;
	uint32_t cseq;
	uint32_t reg_id;        /* 0 when none */
	int q;                  /* q-value times 1000, -1 when none */
	int64_t expires_at;     /* ms since the epoch */
	int64_t created_at, updated_at;
	struct sip_peer peer;   /* where it registered from (after NAT) */
	uint8_t unanswered;     /* keep-alive pings in a row without an answer */
	/* internal */
	struct le le_aor, le_id, le_conn;
	struct tmr tmr;
	struct location *loc;
	struct loc_aor *aor;
};

enum loc_event { LOC_ADDED, LOC_REFRESHED, LOC_REMOVED };
/* Why a binding went. */
enum loc_reason { LOC_EXPIRED, LOC_UNREGISTERED, LOC_REPLACED, LOC_DROPPED, LOC_ADMIN, LOC_UNREACHABLE,
		  LOC_FLOW_CLOSED };

/* The observer: called after a binding is added or refreshed, and before a removed
 * one is freed (reason says why). */
typedef void (loc_change_h)(struct location *l, const struct loc_binding *b, enum loc_event ev,
			    enum loc_reason reason, void *arg);

/* What a REGISTER asks to bind. Strings need not be NUL-terminated. */
struct loc_spec {
	uint64_t tenant_id, user_id;
	struct pl contact, instance, path, user_agent, call_id;
	uint32_t cseq, reg_id;
	int q;
	int64_t expires_at; /* ms since the epoch */
	const struct sip_peer *peer;
};

struct location;

/* th: the timer heap that expires bindings (the signalling loop's); wall_ms:
 * the clock of expires_at (the store's real time; tests give a virtual one). */
typedef int64_t (loc_clock_h)(void);
int location_alloc(struct location **lp, struct tmr_heap *th, loc_clock_h *wall_ms, loc_change_h *h, void *arg);

/* The bindings of an address-of-record, oldest first; NULL when none. */
const struct list *location_aor(const struct location *l, uint64_t user_id);
size_t location_aor_count(const struct location *l, uint64_t user_id);
struct loc_binding *location_find(const struct location *l, uint64_t id);
/* Ends every binding registered over connection c (why: LOC_FLOW_CLOSED when c
 * closed and nothing can reach the device through it any more). */
void location_unbind_conn(struct location *l, const struct sip_conn *c, enum loc_reason why);
/* The binding of user_id a spec would refresh: the same instance and reg-id when
 * the spec has an instance, else the same Contact URI. NULL when none. */
struct loc_binding *location_match(const struct location *l, const struct loc_spec *s);

/* Adds a binding for s, or refreshes b (from location_match) with it. 0, ENOMEM,
 * or EINVAL (a string over the store's field size). *out, when given, is the
 * binding. */
int location_bind(struct location *l, struct loc_binding *b, const struct loc_spec *s, struct loc_binding **out);
/* Puts back a binding the store kept (at start); one already expired is ignored. */
int location_restore(struct location *l, const struct store_location *sl);
void location_unbind(struct location *l, struct loc_binding *b, enum loc_reason why);
/* Ends every binding of user_id. */
void location_unbind_aor(struct location *l, uint64_t user_id, enum loc_reason why);

/* Copies b into the store's form (for persistence and the API). */
void location_to_store(const struct loc_binding *b, struct store_location *out);
size_t location_count(const struct location *l);
/* Walks a slice of the bindings: those in buckets [from, to) of the table of
 * location_buckets() buckets, so that a periodic task can visit every binding once
 * per period in even steps. fn may unbind the binding it is given (no other). */
uint32_t location_buckets(const struct location *l);
void location_walk(struct location *l, uint32_t from, uint32_t to, void (*fn)(struct loc_binding *b, void *arg),
		   void *arg);
const char *location_reason_name(enum loc_reason why);

#endif
