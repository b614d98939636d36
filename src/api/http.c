/* libmicrohttpd glue: collects a request (headers, query, a body of at most
 * 64 KiB), hands it to api_handle() with a pooled store connection, and sends
 * the JSON answer. MHD runs its own polling threads (a pool of API_HTTP_THREADS),
 * so nothing here touches pbxd's event loops.
 *
 * One client must not stall the API for the others (slowloris: many connections
 * that each send a byte now and then). Three rules hold it off:
 * - a source (an IPv4 address, or an IPv6 /64, since one host holds a whole /64;
 *   a v4-mapped IPv6 address counts as its IPv4) may hold API_HTTP_PER_ADDRESS
 *   connections: the accept policy refuses the next one, and the count is kept
 *   by MHD's connection notifications;
 * - a whole request (TLS handshake, headers and body) must arrive within
 *   --http-request-timeout (API_HTTP_REQUEST_DEADLINE_S by default) of the
 *   connection's start, or of the previous answer on a kept-alive connection,
 *   however the bytes trickle. MHD's own timeout counts only silence, so a
 *   sweeper thread shuts down the sockets of overdue connections; MHD sees the
 *   close and frees them. No deadline runs while a request is handled and
 *   answered (MHD's idle timeout, API_HTTP_TIMEOUT_S, still does);
 * - the connection limit (API_HTTP_CONNECTIONS, less if the API's share of the
 *   descriptor limit is smaller: core/fdlimit.h) is far above what a few sources
 *   can hold, so others still get in.
 * Costly routes are bounded in router.c. HTTPS speaks TLS 1.2 and 1.3 only.
 *
 * A WebSocket handshake that the route answers 101 (/api/events) becomes an
 * MHD upgrade: the socket goes to the API's event hub (events.c), and the
 * connection leaves the deadline rules (a stream is long-lived by design). */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "api/api_int.h"
#include "core/fdlimit.h"
#include "core/log.h"
#include "core/sa.h"

struct http_req {
	char *body;
	size_t len;
	bool too_large;
	/* a WebSocket handshake answered 101: what the upgrade handler needs */
	uint64_t ws_tenant;
	char ws_authorization[API_AUTH_SZ];
};

struct query_ctx {
	struct api_req *rq;
	bool overflow;
};

/* --- connections: the per-source cap and the request deadline ------------------ */

#define HTTP_BUCKETS 256   /* of the source table; sources are at most the connections */
#define HTTP_SWEEP_MS 500  /* how often overdue connections are looked for */

struct http_src {
	struct http_src *next; /* in its bucket */
	uint8_t key[API_HTTP_SOURCE_SZ];
	int count;             /* admitted connections not yet closed (those shut down by the sweeper
	                        * included); never one refused at NOTIFY_STARTED */
};

/* One per connection: MHD's socket context, from NOTIFY_STARTED to NOTIFY_CLOSED. */
struct http_conn {
	struct http_conn *prev, *next;
	struct http_src *src; /* NULL when refused: not counted, so it holds no entry */
	int fd;
	int64_t deadline; /* monotonic ms by which the next request must be in; 0: none */
	bool shut;        /* shut down by us: waiting for MHD to close it */
	bool upgraded;    /* a WebSocket now (events.c): no request deadline ever again */
};

/*
 * MHD calls the accept policy and the notifications from its several threads, and
 * the sweeper reads the deadlines: one lock guards the table and the list, held
 * for a few pointer moves (never across a call into MHD).
 *
 * The sweeper shuts down a socket by the fd cached at NOTIFY_STARTED, never after
 * MHD has closed it (a reused fd would be someone else's): MHD 0.9.75 calls
 * NOTIFY_CLOSED before it closes the socket (MHD_cleanup_connections, and the
 * failure path of internal_add_connection), and the entry leaves the list there,
 * under this lock.
 */
struct api_http {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the sweeper's sleep; signalled to stop it */
	pthread_t sweeper;
	bool sweeper_running, stopping;
	int per_source;
	int deadline_s; /* --http-request-timeout */
	struct http_conn *conns;
	struct http_src *bucket[HTTP_BUCKETS];
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void api_http_source_key(const struct sockaddr *sa, uint8_t key[API_HTTP_SOURCE_SZ])
{
	memset(key, 0, API_HTTP_SOURCE_SZ);
	if (sa && sa->sa_family == AF_INET) {
		struct sockaddr_in in;
		memcpy(&in, sa, sizeof(in));
		key[0] = 4;
		memcpy(key + 1, &in.sin_addr, 4);
	} else if (sa && sa->sa_family == AF_INET6) {
		struct sockaddr_in6 in6;
		memcpy(&in6, sa, sizeof(in6));
		if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
			key[0] = 4;
			memcpy(key + 1, in6.sin6_addr.s6_addr + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, in6.sin6_addr.s6_addr, 8); /* the /64 */
		}
	}
}

static struct http_src **src_slot(struct api_http *h, const uint8_t key[API_HTTP_SOURCE_SZ])
{
	uint32_t x = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < API_HTTP_SOURCE_SZ; i++)
		x = (x ^ key[i]) * 16777619u;
	struct http_src **pp = &h->bucket[x % HTTP_BUCKETS];
	while (*pp && memcmp((*pp)->key, key, API_HTTP_SOURCE_SZ) != 0)
		pp = &(*pp)->next;
	return pp;
}

/* Refuses, at accept, a connection whose source holds its limit. Connections
 * accepted by MHD's other threads at the same moment may pass this check
 * together; on_connection counts exactly and closes the excess. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
	struct api_http *h = cls;
	uint8_t key[API_HTTP_SOURCE_SZ];
	api_http_source_key(len >= (socklen_t)sizeof(sa_family_t) ? sa : NULL, key);
	pthread_mutex_lock(&h->lock);
	struct http_src *s = *src_slot(h, key);
	bool full = s && s->count >= h->per_source;
	pthread_mutex_unlock(&h->lock);
	if (full)
		log_debug("api: http: a source holds %d connections; one more refused", h->per_source);
	return full ? MHD_NO : MHD_YES;
}

static void conn_started(struct api_http *h, struct MHD_Connection *c, void **socket_context)
{
	const union MHD_ConnectionInfo *ai = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const union MHD_ConnectionInfo *fi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	int fd = fi ? fi->connect_fd : -1;
	uint8_t key[API_HTTP_SOURCE_SZ];
	api_http_source_key(ai ? ai->client_addr : NULL, key);
	struct http_conn *hc = calloc(1, sizeof(*hc));
	bool refuse = !hc;
	pthread_mutex_lock(&h->lock);
	struct http_src **pp = src_slot(h, key);
	if (hc && !*pp && (*pp = calloc(1, sizeof(**pp))))
		memcpy((*pp)->key, key, API_HTTP_SOURCE_SZ);
	if (hc && *pp) {
		/* Passed on_accept in a race. A refused connection does not count: the
		 * source does not hold it, and counted until MHD closes it, it would
		 * refuse the next one although the source holds fewer than the limit.
		 * (A new entry always admits: per_source >= 1.) */
		refuse = (*pp)->count >= h->per_source;
		if (!refuse) {
			hc->src = *pp;
			hc->src->count++;
		}
		hc->fd = fd;
		hc->deadline = mono_ms() + (int64_t)h->deadline_s * 1000;
		hc->shut = refuse;
		hc->next = h->conns;
		if (h->conns)
			h->conns->prev = hc;
		h->conns = hc;
	} else if (hc) {
		free(hc);
		hc = NULL;
		refuse = true;
	}
	pthread_mutex_unlock(&h->lock);
	*socket_context = hc;
	/* This is MHD's thread for c, so fd is still c's; MHD sees the close. */
	if (refuse && fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

static void conn_closed(struct api_http *h, struct http_conn *hc)
{
	if (!hc)
		return;
	pthread_mutex_lock(&h->lock);
	if (hc->prev)
		hc->prev->next = hc->next;
	else
		h->conns = hc->next;
	if (hc->next)
		hc->next->prev = hc->prev;
	if (hc->src && --hc->src->count == 0) {
		struct http_src **pp = src_slot(h, hc->src->key);
		*pp = hc->src->next;
		free(hc->src);
	}
	pthread_mutex_unlock(&h->lock);
	free(hc);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct api_http *h = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		conn_started(h, c, socket_context);
	else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		conn_closed(h, *socket_context);
		*socket_context = NULL;
	}
}

/* Arms (the next request must be in by then) or disarms (0) c's deadline. */
static void conn_deadline(struct api *a, struct MHD_Connection *c, int64_t deadline)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct http_conn *hc = ci ? ci->socket_context : NULL;
	if (!hc)
		return;
	pthread_mutex_lock(&a->http->lock);
	hc->deadline = hc->upgraded ? 0 : deadline;
	pthread_mutex_unlock(&a->http->lock);
}

static void conn_upgraded(struct api *a, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct http_conn *hc = ci ? ci->socket_context : NULL;
	if (!hc)
		return;
	pthread_mutex_lock(&a->http->lock);
	hc->upgraded = true;
	hc->deadline = 0;
	pthread_mutex_unlock(&a->http->lock);
}

static void *sweeper(void *arg)
{
	struct api_http *h = arg;
	pthread_mutex_lock(&h->lock);
	while (!h->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += HTTP_SWEEP_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&h->wake, &h->lock, &ts);
		int64_t now = mono_ms();
		int n = 0;
		for (struct http_conn *hc = h->conns; hc; hc = hc->next) {
			if (hc->shut || !hc->deadline || now < hc->deadline || hc->fd < 0)
				continue;
			/* Under the lock: hc is in the list, so MHD has not closed fd yet. */
			shutdown(hc->fd, SHUT_RDWR);
			hc->shut = true;
			n++;
		}
		if (n)
			log_debug("api: http: %d connection(s) closed: no whole request within %d s", n,
				  h->deadline_s);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static void http_free(struct api_http *h)
{
	if (!h)
		return;
	if (h->sweeper_running) {
		pthread_mutex_lock(&h->lock);
		h->stopping = true;
		pthread_cond_signal(&h->wake);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->sweeper, NULL);
	}
	/* MHD is stopped: every connection has been notified closed. */
	for (size_t i = 0; i < HTTP_BUCKETS; i++) {
		while (h->bucket[i]) {
			struct http_src *s = h->bucket[i];
			h->bucket[i] = s->next;
			free(s);
		}
	}
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static int http_alloc(struct api_http **hp, int per_source, int deadline_s)
{
	struct api_http *h = calloc(1, sizeof(*h));
	if (!h)
		return ENOMEM;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->wake, &ca);
	pthread_condattr_destroy(&ca);
	h->per_source = per_source;
	h->deadline_s = deadline_s;
	*hp = h;
	return 0;
}

/* API_HTTP_CONNECTIONS, or the REST API's share of the descriptor limit when
 * that is smaller (core/fdlimit.h). */
static unsigned connection_limit(void)
{
	unsigned n = fdlimit_share(FDLIMIT_HTTP, API_HTTP_CONNECTIONS);
	if (n < API_HTTP_CONNECTIONS)
		log_warn("api: descriptor limit %u: REST API connections limited to %u (not %d)", fdlimit_current(), n,
			 API_HTTP_CONNECTIONS);
	return n;
}

static enum MHD_Result on_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct query_ctx *q = cls;
	if (q->rq->nquery == API_QUERY_MAX) {
		q->overflow = true;
		return MHD_NO;
	}
	q->rq->query[q->rq->nquery++] = (struct api_kv){ key, value };
	return MHD_YES;
}

static enum MHD_Result send_json(struct MHD_Connection *c, struct api_resp *rs)
{
	char *txt = rs->text ? rs->text : rs->body ? json_dumps(rs->body, JSON_COMPACT) : NULL;
	size_t len = 0;
	rs->text = NULL; /* the response owns it now */
	if (txt && rs->ctype) {
		len = strlen(txt);
	} else if (txt) {
		len = strlen(txt);
		char *nl = realloc(txt, len + 2); /* a final newline, for curl users */
		if (nl) {
			txt = nl;
			txt[len++] = '\n';
			txt[len] = '\0';
		}
	}
	struct MHD_Response *r = txt ? MHD_create_response_from_buffer(len, txt, MHD_RESPMEM_MUST_FREE)
				     : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!r) {
		free(txt);
		return MHD_NO;
	}
	if (txt)
		MHD_add_response_header(r, "Content-Type", rs->ctype ? rs->ctype : "application/json");
	if (rs->ctype && rs->filename[0]) {
		char cd[96];
		snprintf(cd, sizeof(cd), "attachment; filename=\"%s\"", rs->filename);
		MHD_add_response_header(r, "Content-Disposition", cd);
	}
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (rs->retry_after) {
		char ra[16];
		snprintf(ra, sizeof(ra), "%d", rs->retry_after);
		MHD_add_response_header(r, "Retry-After", ra);
	}
	if (rs->status == 401 && rs->www_auth)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"pbxd\"");
	if (rs->status == 426)
		MHD_add_response_header(r, "Sec-WebSocket-Version", "13");
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)rs->status, r);
	MHD_destroy_response(r);
	return ret;
}

static void client_addr(struct MHD_Connection *c, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(buf, size, "unknown");
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)size);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)size);
}

/* Whether a header's comma-separated value has token (case-insensitive). */
static bool has_token(const char *v, const char *token)
{
	size_t tl = strlen(token);
	while (v && *v) {
		v += strspn(v, " \t,");
		size_t l = strcspn(v, ",");
		size_t t = l;
		while (t && (v[t - 1] == ' ' || v[t - 1] == '\t'))
			t--;
		if (t == tl && strncasecmp(v, token, tl) == 0)
			return true;
		v += l;
	}
	return false;
}

static void ws_headers(struct MHD_Connection *c, struct api_req *rq)
{
	const char *up = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_UPGRADE);
	const char *conn = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONNECTION);
	rq->ws.upgrade = has_token(up, "websocket") && has_token(conn, "upgrade");
	rq->ws.key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	rq->ws.version = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Version");
}

/* The socket is the event hub's from here (events.c). */
static void on_upgrade(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra, size_t extra_len,
		       MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct api *a = cls;
	struct http_req *hr = con_cls;
	conn_upgraded(a, c);
	api_ws_adopt(a, hr->ws_tenant, hr->ws_authorization, extra, extra_len, sock, urh);
}

/* 101 Switching Protocols (RFC 6455 §4.2.2). */
static enum MHD_Result send_upgrade(struct api *a, struct MHD_Connection *c, struct http_req *hr,
				    const struct api_req *rq, const struct api_resp *rs)
{
	hr->ws_tenant = rs->ws_tenant;
	snprintf(hr->ws_authorization, sizeof(hr->ws_authorization), "%s", rq->authorization ? rq->authorization : "");
	struct MHD_Response *r = MHD_create_response_for_upgrade(on_upgrade, a);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "websocket"); /* MHD adds Connection: Upgrade */
	MHD_add_response_header(r, "Sec-WebSocket-Accept", rs->ws_accept);
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result too_large(struct MHD_Connection *c)
{
	struct api_resp rs = { 0 };
	api_error(&rs, 413, "payload_too_large", NULL, "the body is larger than %d bytes", API_BODY_MAX);
	enum MHD_Result r = send_json(c, &rs);
	json_decref(rs.body);
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct api *a = cls;
	struct http_req *hr = *con_cls;
	if (!hr) {
		hr = calloc(1, sizeof(*hr));
		if (!hr)
			return MHD_NO;
		*con_cls = hr;
		/* Refuse an announced oversized body before reading any of it. */
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > API_BODY_MAX) {
			hr->too_large = true;
			return too_large(c); /* the deadline runs on: MHD closes after this answer */
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (!hr->too_large && hr->len + *upload_size <= API_BODY_MAX) {
			char *nb = realloc(hr->body, hr->len + *upload_size + 1);
			if (!nb)
				return MHD_NO;
			hr->body = nb;
			memcpy(hr->body + hr->len, upload, *upload_size);
			hr->len += *upload_size;
		} else {
			hr->too_large = true; /* a chunked body that grew too big: drained, then 413 */
		}
		*upload_size = 0;
		return MHD_YES;
	}
	/* The whole request is in: no deadline while it is handled and answered. */
	conn_deadline(a, c, 0);
	if (hr->too_large)
		return too_large(c);
	if (api_static_path(url))
		return (enum MHD_Result)api_static_serve(a, c, method, url); /* the web portal (static.c) */

	char addr[INET6_ADDRSTRLEN + 1];
	client_addr(c, addr, sizeof(addr));
	struct api_req rq = { .api = a, .method = method, .path = url, .source = addr, .body = hr->body,
			      .body_len = hr->len };
	rq.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	ws_headers(c, &rq);
	struct query_ctx qc = { &rq, false };
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, on_query, &qc);
	struct api_resp rs = { 0 };
	if (qc.overflow) {
		api_error(&rs, 400, "invalid_field", NULL, "at most %d query options", API_QUERY_MAX);
	} else {
		rq.st = api_store_get(a);
		api_handle(&rq, &rs);
		api_store_put(a, rq.st);
	}
	log_debug("api: %s %s %s -> %d", addr, method, url, rs.status);
	json_decref(rq.json);
	enum MHD_Result r = rs.status == 101 ? send_upgrade(a, c, hr, &rq, &rs) : send_json(c, &rs);
	json_decref(rs.body);
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	/* The next request on a kept-alive connection has a deadline of its own. */
	struct api *a = cls;
	conn_deadline(a, c, mono_ms() + (int64_t)a->http->deadline_s * 1000);
	struct http_req *hr = *con_cls;
	if (hr) {
		free(hr->body);
		free(hr);
		*con_cls = NULL;
	}
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t l = strlen(msg);
	while (l && msg[l - 1] == '\n')
		msg[--l] = '\0';
	log_debug("api: http: %s", msg);
}

int api_http_start(struct api *a, const char *address, int port, bool tls)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE;
	struct sa sa;
	bool have_addr = address && *address;
	if (have_addr) {
		if (sa_set(&sa, address, (uint16_t)port)) {
			log_error("api: --http-address=%s is not a numeric address", address);
			return EINVAL;
		}
		if (sa_af(&sa) == AF_INET6)
			flags |= MHD_USE_IPv6;
	} else {
		flags |= MHD_USE_DUAL_STACK;
	}
	if (tls)
		flags |= MHD_USE_TLS;
	int per_source = a->http_max_per_address ? a->http_max_per_address : API_HTTP_PER_ADDRESS;
	int deadline_s = a->http_request_timeout_s ? a->http_request_timeout_s : API_HTTP_REQUEST_DEADLINE_S;
	int e = http_alloc(&a->http, per_source, deadline_s);
	if (e)
		return e;
	struct MHD_OptionItem opts[12] = {
		{ MHD_OPTION_THREAD_POOL_SIZE, API_HTTP_THREADS, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, API_HTTP_TIMEOUT_S, NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, connection_limit(), NULL },
		{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, a->http },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, a },
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL },
	};
	size_t n = 6;
	if (have_addr)
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &sa.u.sa };
	if (tls) {
		/* The certificate is asked for at each handshake: a reload takes effect at once. */
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_CERT_CALLBACK, 0, api_tls_callback() };
		/* GnuTLS priorities: its defaults, less every version before TLS 1.2. */
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0,
						     (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" };
	}
	opts[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	a->mhd = MHD_start_daemon(flags, (uint16_t)port, on_accept, a->http, on_request, a,
				  MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!a->mhd) {
		log_error("api: cannot listen on %s port %d", have_addr ? address : "*", port);
		api_http_stop(a);
		return EADDRINUSE;
	}
	e = pthread_create(&a->http->sweeper, NULL, sweeper, a->http);
	if (e) {
		log_error("api: cannot start the HTTP deadline thread: %s", strerror(e));
		api_http_stop(a);
		return e;
	}
	a->http->sweeper_running = true;
	return 0;
}

void api_http_stop(struct api *a)
{
	if (a->mhd)
		MHD_stop_daemon(a->mhd);
	a->mhd = NULL;
	http_free(a->http); /* after MHD: its last notifications use it */
	a->http = NULL;
}
