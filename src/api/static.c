/* The web portal's files at / of the REST server (everything but /api): the
 * build's web/dist (docs/web.md), read from disk per request, so a rebuilt
 * portal is served without a restart.
 *
 * What a browser is told:
 * - Content-Type from the name's extension, and X-Content-Type-Options: nosniff;
 * - Cache-Control: files under /assets/ carry a hash of their content in their
 *   name (the build guarantees it), so they are cached for a year as immutable;
 *   anything else (index.html first) is "no-cache": revalidated every time,
 *   answered 304 when its ETag still matches;
 * - a strict Content-Security-Policy: scripts, styles and connections from this
 *   origin only, no inline script or style, no plugins, no framing.
 * A path that names no file and has no extension in its last segment is a page
 * of the portal's own routing (/tenants, /users/123): index.html answers it, or
 * the index.html of the path's first folder when there is one (the browser
 * phone: /phone/ is phone/index.html). A missing file with an extension
 * (/assets/old-ABCD1234.js) is 404. The phone's pages may also connect to SIP
 * over WebSocket on their host (--sip-wss-port, --sip-ws-port).
 *
 * Nothing outside the folder is ever served: the path (already percent-decoded
 * by libmicrohttpd) is refused when a segment is empty, starts with a dot (.., .,
 * hidden files) or holds a backslash, and the file is opened with openat2()
 * beneath the folder's descriptor, refusing any symbolic link, and must be a
 * regular file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "api/api_int.h"
#include "core/log.h"

#define STATIC_PATH_MAX 512

/* No inline script or style anywhere; connect-src 'self' covers the API and its
 * WebSocket on the same origin. */
#define STATIC_CSP                                                                                          \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " \
	"connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; "                   \
	"frame-ancestors 'none'"
#define STATIC_IMMUTABLE "public, max-age=31536000, immutable"

struct api_static {
	int dirfd; /* the folder (O_PATH), -1: no portal built */
	char dir[PATH_MAX];
};

static const struct {
	const char *ext, *type;
} static_types[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "mjs", "text/javascript; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "json", "application/json" },
	{ "map", "application/json" },
	{ "webmanifest", "application/manifest+json" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "ico", "image/x-icon" },
	{ "woff2", "font/woff2" },
	{ "txt", "text/plain; charset=utf-8" },
	{ "wav", "audio/wav" },
};

static const char *content_type(const char *name)
{
	const char *base = strrchr(name, '/');
	const char *dot = strrchr(base ? base : name, '.');
	if (dot) {
		for (size_t i = 0; i < sizeof(static_types) / sizeof(static_types[0]); i++) {
			if (strcasecmp(dot + 1, static_types[i].ext) == 0)
				return static_types[i].type;
		}
	}
	return "application/octet-stream";
}

bool api_static_path(const char *url)
{
	if (!url || url[0] != '/')
		return false; /* odd request targets stay the router's (JSON errors) */
	return !(strncmp(url, "/api", 4) == 0 && (url[4] == '\0' || url[4] == '/'));
}

/* Checks url (which starts with '/') and copies the file's path relative to the
 * folder into rel: "index.html" for "/". 0; ENOENT for a path that names no
 * file but may be a page (a trailing slash); EPERM for one that could leave the
 * folder or names a hidden file; ENAMETOOLONG. */
static int relative_path(const char *url, char *rel, size_t size)
{
	const char *p = url + 1;
	if (!*p)
		p = "index.html";
	if (strlen(p) >= size || strlen(p) >= STATIC_PATH_MAX)
		return ENAMETOOLONG;
	if (strchr(p, '\\'))
		return EPERM;
	for (const char *seg = p; *seg;) {
		size_t l = strcspn(seg, "/");
		if (l == 0 || seg[0] == '.')
			return EPERM; /* "//", "/./", "/../", ".hidden" */
		seg += l;
		if (*seg == '/' && !*++seg)
			return ENOENT; /* a trailing slash names no file */
	}
	snprintf(rel, size, "%s", p);
	return 0;
}

/* Opens rel beneath the folder: no "..", no symbolic link, no other mount's
 * magic links. Falls back to openat() with O_NOFOLLOW on kernels before 5.6
 * (relative_path has refused "..": only a link in a directory part could lead
 * out, and the portal's build makes none). */
static int open_beneath(int dirfd, const char *rel)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
	int fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	return fd;
}

/* A regular file of the folder, open, with its size and change time; -1 when
 * there is none (errno). */
static int open_file(const struct api_static *s, const char *rel, struct stat *st)
{
	int fd = open_beneath(s->dirfd, rel);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
		close(fd);
		errno = ENOENT;
		return -1;
	}
	return fd;
}

/* The browser phone's pages may also connect to SIP over (secure) WebSocket on
 * the host they were loaded from: that host and the WSS/WS ports, nothing else. */
static void phone_csp(const struct api *a, struct MHD_Connection *c, char *out, size_t sz)
{
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	char h[256] = "";
	size_t n = 0;
	if (host && host[0] == '[') { /* [v6]:port */
		const char *end = strchr(host, ']');
		n = end ? (size_t)(end - host + 1) : 0;
	} else if (host) {
		n = strcspn(host, ":");
	}
	bool ok = n > 0 && n < sizeof(h);
	for (size_t i = 0; ok && i < n; i++)
		ok = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-[]:", host[i]) != NULL;
	if (ok)
		memcpy(h, host, n);
	h[ok ? n : 0] = '\0';
	char ws[600] = "";
	if (h[0] && a->sip_wss_port)
		snprintf(ws, sizeof(ws), " wss://%s:%d", h, a->sip_wss_port);
	if (h[0] && a->sip_ws_port)
		snprintf(ws + strlen(ws), sizeof(ws) - strlen(ws), " ws://%s:%d", h, a->sip_ws_port);
	snprintf(out, sz,
		 "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
		 "connect-src 'self'%s; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
		 ws);
}

static void security_headers(struct MHD_Response *r, const char *csp)
{
	MHD_add_response_header(r, "Content-Security-Policy", csp ? csp : STATIC_CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
}

/* The one error shape of the API ({"error": {...}}), for what the portal's
 * paths cannot answer. */
static int send_error(struct MHD_Connection *c, int status, const char *code, const char *allow,
		      const char *message)
{
	struct api_resp rs = { 0 };
	api_error(&rs, status, code, NULL, "%s", message);
	char *txt = json_dumps(rs.body, JSON_COMPACT);
	json_decref(rs.body);
	if (!txt)
		return MHD_NO;
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(txt), txt, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(txt);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (allow)
		MHD_add_response_header(r, "Allow", allow);
	security_headers(r, NULL);
	int ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static bool etag_matches(const char *header, const char *etag)
{
	if (!header)
		return false;
	if (strcmp(header, "*") == 0)
		return true;
	size_t l = strlen(etag);
	for (const char *p = strstr(header, etag); p; p = strstr(p + 1, etag)) {
		if ((p == header || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/') &&
		    (p[l] == '\0' || p[l] == ',' || p[l] == ' '))
			return true;
	}
	return false;
}

/* Sends the open file fd (taken: MHD closes it with the response). */
static int send_file(struct MHD_Connection *c, int fd, const struct stat *st, const char *rel, const char *csp)
{
	char etag[64];
	snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st->st_size,
		 (unsigned long long)st->st_mtim.tv_sec * 1000000000ull + (unsigned long long)st->st_mtim.tv_nsec);
	bool unchanged = etag_matches(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match"), etag);
	struct MHD_Response *r;
	if (unchanged) {
		close(fd);
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	} else {
		r = MHD_create_response_from_fd((size_t)st->st_size, fd);
		if (!r)
			close(fd);
	}
	if (!r)
		return MHD_NO;
	if (!unchanged)
		MHD_add_response_header(r, "Content-Type", content_type(rel));
	MHD_add_response_header(r, "Cache-Control", strncmp(rel, "assets/", 7) == 0 ? STATIC_IMMUTABLE : "no-cache");
	MHD_add_response_header(r, "ETag", etag);
	security_headers(r, csp);
	int ret = MHD_queue_response(c, unchanged ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

int api_static_serve(struct api *a, struct MHD_Connection *c, const char *method, const char *url)
{
	const struct api_static *s = a->web;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return send_error(c, 405, "method_not_allowed", "GET, HEAD", "the web portal's files are only read");
	if (!s || s->dirfd < 0)
		return send_error(c, 404, "not_found", NULL, "the web portal is not built here (make build)");
	char rel[STATIC_PATH_MAX];
	int e = relative_path(url, rel, sizeof(rel));
	if (e && e != ENOENT)
		return send_error(c, 404, "not_found", NULL, "no such file");
	struct stat st;
	int fd = -1;
	if (!e) {
		fd = open_file(s, rel, &st);
		if (fd < 0 && errno != ENOENT && errno != ENOTDIR)
			log_debug("api: web: %s: %s", rel, strerror(errno)); /* ELOOP, EXDEV: refused */
	}
	if (fd < 0) {
		const char *last = strrchr(rel, '/');
		if (!e && strchr(last ? last : rel, '.'))
			return send_error(c, 404, "not_found", NULL, "no such file");
		/* A page of the portal's routing: the index of its first folder
		 * when it has one (the phone's, /phone/...), else the portal's. */
		size_t first = strcspn(url + 1, "/");
		bool folder = (url[1 + first] == '/' || url[1 + first] == '\0') && first > 0 && first < 64;
		if (folder) {
			snprintf(rel, sizeof(rel), "%.*s/index.html", (int)first, url + 1);
			/* no dot in the folder's name: nothing hidden, nothing above */
			if (strchr(rel, '.') == rel + first + 6 && (fd = open_file(s, rel, &st)) >= 0)
				goto found;
		}
		snprintf(rel, sizeof(rel), "index.html");
		fd = open_file(s, rel, &st);
		if (fd < 0)
			return send_error(c, 404, "not_found", NULL, "the web portal has no index.html");
	}
found:;
	char csp[1024];
	bool phone = strncmp(rel, "phone/", 6) == 0;
	if (phone)
		phone_csp(a, c, csp, sizeof(csp));
	return send_file(c, fd, &st, rel, phone ? csp : NULL);
}

/* --- the folder -------------------------------------------------------------------- */

static bool has_index(const char *dir)
{
	char p[PATH_MAX * 2 + 16];
	if (snprintf(p, sizeof(p), "%s/index.html", dir) >= (int)sizeof(p))
		return false;
	return access(p, R_OK) == 0;
}

/* The build's web/dist: beside the executable's build folder (build/pbxd ->
 * web/dist), an installed share/pbxd/web, or the source tree it was built from. */
static bool find_default(char *out, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		static const char *const rel[] = { "../web/dist", "../share/pbxd/web" };
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			char cand[PATH_MAX * 2];
			if (snprintf(cand, sizeof(cand), "%s/%s", exe, rel[i]) >= (int)sizeof(cand))
				continue;
			if (has_index(cand) && realpath(cand, out))
				return true;
		}
	}
#ifdef PBXD_WEB_DIST
	if (has_index(PBXD_WEB_DIST) && strlen(PBXD_WEB_DIST) < size) {
		snprintf(out, size, "%s", PBXD_WEB_DIST);
		return true;
	}
#endif
	return false;
}

int api_static_open(struct api_static **sp, const char *configured)
{
	struct api_static *s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->dirfd = -1;
	if (configured && *configured) {
		if (!realpath(configured, s->dir) || !has_index(s->dir)) {
			log_error("api: --web-dir=%s: no index.html there", configured);
			free(s);
			return ENOENT;
		}
	} else if (!find_default(s->dir, sizeof(s->dir))) {
		log_warn("api: the web portal is not built (make build): / answers 404");
		*sp = s;
		return 0;
	}
	s->dirfd = open(s->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		int e = errno;
		log_error("api: web portal folder %s: %s", s->dir, strerror(e));
		free(s);
		return e;
	}
	*sp = s;
	return 0;
}

const char *api_static_dir(const struct api_static *s)
{
	return s && s->dirfd >= 0 ? s->dir : NULL;
}

void api_static_free(struct api_static *s)
{
	if (!s)
		return;
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s);
}
