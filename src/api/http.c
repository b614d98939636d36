/* libmicrohttpd glue: collects a request (headers, query, a body of at most
 * 64 KiB), hands it to api_handle() with a pooled store connection, and sends
 * the JSON answer. MHD runs its own polling threads (a pool of API_HTTP_THREADS),
 * so nothing here touches pbxd's event loops.
 *
 * One client must not stall the API for the others: an address may hold at most
 * API_HTTP_PER_ADDRESS connections (MHD closes the next one as it is accepted),
 * a connection on which nothing arrives for API_HTTP_TIMEOUT_S is closed (an
 * unfinished request included), and costly routes are bounded in router.c.
 * HTTPS speaks TLS 1.2 and 1.3 only. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "core/log.h"
#include "core/sa.h"

struct http_req {
	char *body;
	size_t len;
	bool too_large;
};

struct query_ctx {
	struct api_req *rq;
	bool overflow;
};

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
	char *txt = rs->body ? json_dumps(rs->body, JSON_COMPACT) : NULL;
	size_t len = 0;
	if (txt) {
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
		MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (rs->retry_after) {
		char ra[16];
		snprintf(ra, sizeof(ra), "%d", rs->retry_after);
		MHD_add_response_header(r, "Retry-After", ra);
	}
	if (rs->status == 401 && rs->www_auth)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"pbxd\"");
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
			return too_large(c);
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
	if (hr->too_large)
		return too_large(c);

	char addr[INET6_ADDRSTRLEN + 1];
	client_addr(c, addr, sizeof(addr));
	struct api_req rq = { .api = a, .method = method, .path = url, .source = addr, .body = hr->body,
			      .body_len = hr->len };
	rq.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
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
	enum MHD_Result r = send_json(c, &rs);
	json_decref(rs.body);
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
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
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
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
	int per_address = a->http_max_per_address ? a->http_max_per_address : API_HTTP_PER_ADDRESS;
	struct MHD_OptionItem opts[12] = {
		{ MHD_OPTION_THREAD_POOL_SIZE, API_HTTP_THREADS, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, API_HTTP_TIMEOUT_S, NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, 256, NULL },
		{ MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_address, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL },
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL },
	};
	size_t n = 6;
	if (have_addr)
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &sa.u.sa };
	if (tls) {
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, a->cert_pem };
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, a->key_pem };
		/* GnuTLS priorities: its defaults, less every version before TLS 1.2. */
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0,
						     (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" };
	}
	opts[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	a->mhd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, a,
				  MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!a->mhd) {
		log_error("api: cannot listen on %s port %d", have_addr ? address : "*", port);
		return EADDRINUSE;
	}
	return 0;
}

void api_http_stop(struct api *a)
{
	if (a->mhd)
		MHD_stop_daemon(a->mhd);
	a->mhd = NULL;
}
