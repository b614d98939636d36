/* pbxd: wires the layers and threads together and nothing else. Each layer
 * contributes its options table; main joins them, reads the configuration, opens
 * the data dir and runs the signalling loop on this thread until SIGTERM/SIGINT. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "core/conf.h"
#include "core/fdlimit.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/tlsfiles.h"
#include "media/media.h"
#include "pbx/call/call.h"
#include "pbx/keepalive.h"
#include "pbx/pbx.h"
#include "pbx/registrar/registrar.h"
#include "pbx/trunk/trunks.h"
#include "pbx/webhooks.h"
#include "sip/stack.h"
#include "store/store.h"


static const struct conf_opt main_opts[] = {
	{ "config", CONF_STR, "", 0, 0, NULL, "read options from this INI file first" },
	{ "data-dir", CONF_STR, "./data", 0, 0, NULL, "directory holding all of pbxd's state" },
	{ "log-level", CONF_CHOICE, "info", 0, 0, "error|warn|info|debug", "log verbosity" },
	{ "admin-password-file", CONF_STR, "", 0, 0, NULL,
	  "read --admin-password from the first line of this file, or give --admin-password=- to read"
	  " it from standard input: on the command line every local user can read it" },
};

struct opt_table {
	const struct conf_opt *opts;
	size_t n;
};

static int conf_join(struct conf *c, const struct opt_table *t, size_t nt, struct conf_opt **all)
{
	size_t n = 0;
	for (size_t i = 0; i < nt; i++)
		n += t[i].n;
	*all = calloc(n, sizeof(**all));
	if (!*all)
		return ENOMEM;
	n = 0;
	for (size_t i = 0; i < nt; i++) {
		memcpy(*all + n, t[i].opts, t[i].n * sizeof(**all));
		n += t[i].n;
	}
	return conf_init(c, *all, n);
}

struct sig_ctx {
	struct loop *loop;
	struct sip_stack *sip;
	struct api *api;
};

/* SIGHUP reloads the SIP TLS certificate (new handshakes take it, nothing in
 * progress ends); SIGTERM and SIGINT stop. */
static void on_signal(int fd, int events, void *arg)
{
	struct sig_ctx *sc = arg;
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("SIGHUP received: reloading the TLS certificates");
			if (sc->sip)
				sip_stack_tls_reload(sc->sip);
			if (sc->api)
				api_tls_reload(sc->api);
			continue;
		}
		log_info("signal %u received, stopping", si.ssi_signo);
		loop_stop(sc->loop);
	}
}

/* SIP over TLS and WSS use the HTTPS certificate unless given their own; the
 * paths are settled here, before the SIP stack starts, so that it and a
 * SIGHUP read the same files (core/tlsfiles.h makes the default pair). */
static int sip_tls_files(struct conf *conf, const char *data_dir)
{
	if (!conf_int(conf, "sip-tls-port") && !conf_int(conf, "sip-wss-port"))
		return 0;
	const char *cert = conf_str(conf, "sip-tls-cert"), *key = conf_str(conf, "sip-tls-key");
	bool own = (cert && *cert) || (key && *key);
	char cert_path[TLS_PATH_MAX], key_path[TLS_PATH_MAX], err[256];
	int e = tls_files_resolve(data_dir, own ? cert : conf_str(conf, "http-tls-cert"),
				  own ? key : conf_str(conf, "http-tls-key"), cert_path, key_path);
	if (e) {
		log_error("SIP TLS: %s", e == EINVAL ? (own ? "--sip-tls-cert and --sip-tls-key go together"
							    : "--http-tls-cert and --http-tls-key go together")
						      : strerror(e));
		return e;
	}
	if (conf_set(conf, "sip-tls-cert", cert_path, err, sizeof(err)) ||
	    conf_set(conf, "sip-tls-key", key_path, err, sizeof(err))) {
		log_error("SIP TLS: %s", err);
		return EINVAL;
	}
	return 0;
}

/* Creates dir and any missing parents (as mkdir -p), then checks we can write. */
static int data_dir_open(const char *dir)
{
	char path[4096];
	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path) || !*path) {
		log_error("data dir '%s': bad path", dir);
		return EINVAL;
	}
	for (char *p = path + 1;; p++) {
		bool end = *p == '\0';
		if (*p != '/' && !end)
			continue;
		*p = '\0';
		if (mkdir(path, 0750) < 0 && errno != EEXIST) {
			log_error("data dir %s: %s", path, strerror(errno));
			return errno;
		}
		if (end)
			break;
		*p = '/';
	}
	if (access(dir, W_OK) < 0) {
		log_error("data dir %s is not writable: %s", dir, strerror(errno));
		return errno;
	}
	return 0;
}

int main(int argc, char **argv)
{
	/* Large blocks (a password hash's 19 MiB of Argon2 memory) are mapped and
	 * given back when freed: glibc's adaptive threshold would otherwise serve
	 * the next one from the heap of the HTTP thread that hashed, which keeps it
	 * for good, 19 MiB per thread that ever checked a password. */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	const struct opt_table tables[] = {
		{ main_opts, sizeof(main_opts) / sizeof(main_opts[0]) },
		{ sip_stack_opts, sip_stack_opts_count },
		{ sip_transport_opts, sip_transport_opts_count },
		{ pbx_opts, pbx_opts_count },
		{ registrar_opts, registrar_opts_count },
		{ security_opts, security_opts_count },
		{ keepalive_opts, keepalive_opts_count },
		{ call_opts, call_opts_count },
		{ trunk_opts, trunk_opts_count },
		{ webhooks_opts, webhooks_opts_count },
		{ media_opts, media_opts_count },
		{ api_opts, api_opts_count },
	};
	struct conf conf;
	struct conf_opt *all = NULL;
	char err[512];
	bool help = false;
	int rc = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("pbxd %s\n", PBXD_VERSION);
			return 0;
		}
	}
	if (conf_join(&conf, tables, sizeof(tables) / sizeof(tables[0]), &all)) {
		fprintf(stderr, "pbxd: out of memory\n");
		return 1;
	}
	if (conf_parse_args(&conf, argc, argv, &help, err, sizeof(err))) {
		fprintf(stderr, "pbxd: %s (see pbxd --help)\n", err);
		goto out;
	}
	if (help) {
		printf("Usage: pbxd [--key=value ...]\n"
		       "A multi-tenant SIP PBX. Every option is also a key of the config file\n"
		       "(\"key = value\", or \"[section]\" then the rest of the key).\n\n");
		conf_print_help(&conf, stdout);
		rc = 0;
		goto out;
	}
	/* Before anything else runs: the password leaves /proc/PID/cmdline. */
	bool pw_on_cmdline = false;
	if (conf_secret_resolve(&conf, "admin-password", "admin-password-file", argc, argv, &pw_on_cmdline,
				err, sizeof(err))) {
		fprintf(stderr, "pbxd: %s\n", err);
		goto out;
	}
	enum log_level lvl;
	log_level_parse(conf_str(&conf, "log-level"), &lvl);
	log_set_level(lvl);
	if (pw_on_cmdline)
		log_warn("--admin-password on the command line was readable by every local user until now;"
			 " use --admin-password-file=PATH or --admin-password=- (standard input)");

	/* Everything pbxd writes (the database with SIP passwords, keys, recordings)
	 * is its own business: no group or world access, whatever the caller's umask. */
	umask(077);
	if (data_dir_open(conf_str(&conf, "data-dir")))
		goto out;
	/* Before anything opens descriptors by the thousand: their caps are shares
	 * of this limit (core/fdlimit.h). */
	fdlimit_raise();

	struct loop *loop = NULL;
	if (loop_alloc(&loop)) {
		log_error("cannot create the event loop");
		goto out;
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	struct sig_ctx sig = { .loop = loop };
	if (sfd < 0 || loop_fd_listen(loop, sfd, LOOP_READ, on_signal, &sig)) {
		log_error("cannot watch signals");
		goto out_loop;
	}

	struct sip_stack *sip = NULL;
	int e = sip_tls_files(&conf, conf_str(&conf, "data-dir"));
	if (!e)
		e = sip_stack_alloc(&sip, loop, &conf);
	if (e) {
		log_error("SIP stack: %s", strerror(e));
		goto out_sig;
	}
	sip_transport_configure(sip_stack_transport(sip), &conf);
	sig.sip = sip;

	/* Storage first: migrations run at this first open, and the PBX loads its
	 * tenants, extensions and devices from it; then the worker takes the
	 * signalling thread's writes, and the API server keeps its own connections
	 * (it tells the PBX what it wrote). */
	const char *data_dir = conf_str(&conf, "data-dir");
	struct store *store = NULL;
	struct store_worker *store_worker = NULL;
	struct pbx *pbx = NULL;
	struct api *api = NULL;
	if ((e = store_open(&store, data_dir))) {
		log_error("store: %s", strerror(e));
		goto out_sip;
	}
	if ((e = store_worker_start(&store_worker, data_dir))) {
		log_error("store worker: %s", strerror(e));
		goto out_store;
	}
	if ((e = pbx_alloc(&pbx, loop, sip, &conf, store, store_worker))) {
		log_error("PBX: %s", strerror(e));
		goto out_worker;
	}
	if ((e = api_start(&api, &conf, data_dir, pbx))) {
		log_error("REST API: %s", strerror(e));
		goto out_pbx;
	}

	sig.api = api;
	log_info("pbxd %s running (data dir %s)", PBXD_VERSION, data_dir);
	e = loop_run(loop);
	rc = e ? 1 : 0;
	log_info("pbxd stopped");

	api_stop(api);
out_pbx:
	/* The worker runs what it was given before the PBX saves its last changes
	 * itself and lets go of them. */
	store_worker_stop(store_worker);
	store_worker = NULL;
out_worker:
	pbx_free(pbx);
	store_worker_stop(store_worker);
out_store:
	store_close(store);
out_sip:
	sip_stack_free(sip);
out_sig:
	if (sfd >= 0) {
		loop_fd_close(loop, sfd);
		close(sfd);
	}
out_loop:
	loop_free(loop);
out:
	log_flush(); /* counts of suppressed log lines still owed */
	conf_close(&conf);
	free(all);
	return rc;
}
