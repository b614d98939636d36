/* Webhooks: a tenant's call events (call_start, call_cdr) POSTed as JSON to the
 * URLs its administrator configured (the API writes them in the store), at least
 * once, in order per webhook, surviving restarts.
 *
 * The module subscribes to the event bus. An event becomes rows of a durable
 * outbox, one per enabled webhook of the tenant subscribed to it, written by
 * the storage worker (the signalling thread hands it a copy and goes on). A
 * delivery thread of its own sends them with libcurl, several webhooks at once
 * but one request per webhook at a time, deletes a row when its receiver
 * answers 2xx, and otherwise retries it later: waits double from 1 s up to
 * --webhook-retry-max, and a receiver that is down (no connection, a timeout,
 * 5xx, 408, 429) holds its webhook's other rows back with it. A row older than
 * --webhook-max-age is given up; a tenant's outbox holds --webhook-queue-max
 * rows, the oldest going first. Every give-up is logged.
 *
 * Threads: alloc, stop and free on the signalling thread; webhooks_kick from any. */
#ifndef PBX_WEBHOOKS_H
#define PBX_WEBHOOKS_H

#include <stddef.h>

#include "core/conf.h"
#include "pbx/events.h"
#include "store/store.h"

extern const struct conf_opt webhooks_opts[];
extern const size_t webhooks_opts_count;

struct webhooks;

/* Subscribes to ev and starts the delivery thread, which opens its own store
 * connection in the data dir and first makes every waiting row due. Writes go
 * to worker; st (the signalling thread's connection) takes them once the worker
 * is gone (webhooks_stop). Not reference counted: free with webhooks_free(). */
int webhooks_alloc(struct webhooks **wp, const struct conf *conf, struct pbx_events *ev, struct store *st,
		   struct store_worker *worker);
/* Any thread: the outbox changed (rows added, a webhook enabled): look now. */
void webhooks_kick(struct webhooks *w);
/* Any thread: the events (STORE_WH_* bits) the tenant's enabled webhooks now
 * want, after the API wrote one (0: none; its calls then queue nothing). */
void webhooks_tenant_set(struct webhooks *w, uint64_t tenant_id, unsigned events);
/* At shutdown, before the last events (the calls hung up by the stop): the
 * delivery thread stops (what it was sending is sent again at the next start)
 * and events are written through st from now on, the worker being stopped. */
void webhooks_stop(struct webhooks *w);
void webhooks_free(struct webhooks *w);

#endif
