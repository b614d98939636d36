/* The REST API server: JSON over HTTP(S) under /api, on libmicrohttpd's own
 * threads, each request using a pooled store connection of its own. */
#ifndef API_API_H
#define API_API_H

#include <stddef.h>
#include <stdint.h>

#include "core/conf.h"

/* Options: http-address, http-port, http-tls, http-tls-cert, http-tls-key,
 * admin-password, default-domain, token-lifetime, login-max-failures,
 * login-window, http-max-per-address, web-dir (the portal served at /). */
extern const struct conf_opt api_opts[];
extern const size_t api_opts_count;

struct api;

/* On an empty database creates the system admin `admin` and the default tenant
 * with its administrator, printing how to sign in. Then starts listening (HTTPS
 * unless --http-tls=off; a self-signed certificate is made in data_dir/tls/ when
 * none is configured). */
struct pbx;
/* pbx (may be NULL) is told of every tenant and user the API writes, and answers
 * for the devices and bans the API shows. */
int api_start(struct api **ap, const struct conf *conf, const char *data_dir, struct pbx *pbx);
void api_stop(struct api *a);
/* Reads the HTTPS certificate files again (SIGHUP): the next handshakes use the
 * new pair, connections open keep theirs; a bad pair is logged and the one in
 * use stays. 0, ENOENT (no HTTPS), or the error. Any thread. */
int api_tls_reload(struct api *a);

/* Fuzzing entry: runs data as a request body through the same parsing,
 * validation and route handlers a socket request goes through, against a
 * throw-away database in a temp dir created on the first call. The first byte
 * picks the route (sign-in, tenant create/update, user create/update, extension
 * settings, refresh...), the rest is the body. Always returns 0; a crash or a
 * sanitizer report is the finding. */
int api_request_fuzz(const uint8_t *data, size_t len);

#endif
