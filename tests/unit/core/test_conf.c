/* Unit tests for table-driven configuration (src/core/conf.c): defaults, the
 * command line (--key=value and bare boolean flags), INI files with sections and
 * comments, precedence (default < file < command line), validation messages that
 * name the option, unknown options, and --help listing every option. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/conf.h"

static const struct conf_opt opts[] = {
	{ "config", CONF_STR, NULL, 0, 0, NULL, "Configuration file" },
	{ "sip-udp-port", CONF_INT, "5060", 1, 65535, NULL, "UDP port for SIP" },
	{ "sip-tcp", CONF_BOOL, "off", 0, 0, NULL, "Listen on TCP" },
	{ "log-level", CONF_CHOICE, "info", 0, 0, "debug|info|warn|error", "Log verbosity" },
	{ "data-dir", CONF_STR, "/var/lib/pbxd", 0, 0, NULL, "Where the database lives" },
	{ "api-token", CONF_STR, NULL, 0, 0, NULL, "Bootstrap API token" },
	{ "rtp-min", CONF_INT, "10000", -5, 65535, NULL, "Lowest RTP port" },
	{ "foreground", CONF_BOOL, "no", 0, 0, NULL, "Stay in the foreground" },
};
enum { NOPTS = sizeof(opts) / sizeof(opts[0]) };

struct fx {
	struct conf c;
	char path[64];
	char err[256];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f || conf_init(&f->c, opts, NOPTS))
		return -1;
	snprintf(f->path, sizeof(f->path), "/tmp/pbxd-test-conf-%d.ini", (int)getpid());
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	conf_close(&f->c);
	unlink(f->path);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static int parse(struct fx *f, bool *help, int argc, ...)
{
	char *argv[16];
	va_list ap;
	va_start(ap, argc);
	argv[0] = (char *)"pbxd";
	for (int i = 1; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	f->err[0] = '\0';
	return conf_parse_args(&f->c, argc, argv, help, f->err, sizeof(f->err));
}

static void test_defaults(void **state)
{
	struct fx *f = *state;
	assert_int_equal(conf_int(&f->c, "sip-udp-port"), 5060);
	assert_false(conf_bool(&f->c, "sip-tcp"));
	assert_false(conf_bool(&f->c, "foreground"));
	assert_string_equal(conf_str(&f->c, "log-level"), "info");
	assert_string_equal(conf_str(&f->c, "data-dir"), "/var/lib/pbxd");
	assert_null(conf_str(&f->c, "api-token"));
	assert_null(conf_str(&f->c, "config"));
	assert_int_equal(conf_int(&f->c, "rtp-min"), 10000);
	/* names that are not options read as unset */
	assert_null(conf_str(&f->c, "nope"));
	assert_int_equal(conf_int(&f->c, "nope"), 0);
	assert_false(conf_bool(&f->c, "nope"));
	bool help = true;
	assert_int_equal(parse(f, &help, 1), 0);
	assert_false(help);
	assert_int_equal(conf_int(&f->c, "sip-udp-port"), 5060);
}

static void test_args(void **state)
{
	struct fx *f = *state;
	bool help;
	assert_int_equal(parse(f, &help, 6, "--sip-udp-port=5080", "--sip-tcp", "--log-level=debug",
			       "--api-token=s3cr=t", "--data-dir="), 0);
	assert_false(help);
	assert_int_equal(conf_int(&f->c, "sip-udp-port"), 5080);
	assert_true(conf_bool(&f->c, "sip-tcp"));
	assert_string_equal(conf_str(&f->c, "log-level"), "debug");
	assert_string_equal(conf_str(&f->c, "api-token"), "s3cr=t"); /* split at the first '=' */
	assert_string_equal(conf_str(&f->c, "data-dir"), "");
	/* the last of repeated options wins; booleans take every spelling */
	assert_int_equal(parse(f, &help, 4, "--sip-tcp=off", "--foreground=YES", "--sip-udp-port=1"), 0);
	assert_false(conf_bool(&f->c, "sip-tcp"));
	assert_true(conf_bool(&f->c, "foreground"));
	assert_int_equal(conf_int(&f->c, "sip-udp-port"), 1);
	assert_int_equal(parse(f, &help, 2, "--foreground=0"), 0);
	assert_false(conf_bool(&f->c, "foreground"));
	assert_int_equal(parse(f, &help, 2, "--rtp-min=-5"), 0);
	assert_int_equal(conf_int(&f->c, "rtp-min"), -5);
	assert_int_equal(parse(f, &help, 3, "--help", "--sip-tcp=on"), 0);
	assert_true(help);
	assert_true(conf_bool(&f->c, "sip-tcp"));
	assert_int_equal(parse(f, &help, 2, "-h"), 0);
	assert_true(help);
}

static void test_file(void **state)
{
	struct fx *f = *state;
	write_file(f->path,
		   "# pbxd configuration\n"
		   "; another comment style\n"
		   "\n"
		   "data-dir = /srv/pbxd   \n"
		   "log-level=warn\r\n"
		   "[sip]\n"
		   "  # indented comment\n"
		   "udp-port = 5070\n"
		   "tcp = yes\n"
		   "[ rtp ]\n"
		   "min\t=\t20000\n"
		   "[api]\n"
		   "token = \"quoted value # not a comment\"\n");
	assert_int_equal(conf_load_file(&f->c, f->path, f->err, sizeof(f->err)), 0);
	assert_string_equal(conf_str(&f->c, "data-dir"), "/srv/pbxd");
	assert_string_equal(conf_str(&f->c, "log-level"), "warn");
	assert_int_equal(conf_int(&f->c, "sip-udp-port"), 5070);
	assert_true(conf_bool(&f->c, "sip-tcp"));
	assert_int_equal(conf_int(&f->c, "rtp-min"), 20000);
	assert_string_equal(conf_str(&f->c, "api-token"), "quoted value # not a comment");
	assert_false(conf_bool(&f->c, "foreground")); /* untouched default */
}

static void test_file_errors(void **state)
{
	struct fx *f = *state;
	write_file(f->path, "[sip]\nudp-port = 70000\n");
	assert_int_equal(conf_load_file(&f->c, f->path, f->err, sizeof(f->err)), ERANGE);
	assert_non_null(strstr(f->err, f->path));
	assert_non_null(strstr(f->err, ":2:"));
	assert_non_null(strstr(f->err, "sip-udp-port"));
	assert_int_equal(conf_int(&f->c, "sip-udp-port"), 5060);

	write_file(f->path, "[sip]\nno-such = 1\n");
	assert_int_equal(conf_load_file(&f->c, f->path, f->err, sizeof(f->err)), ENOENT);
	assert_non_null(strstr(f->err, "sip-no-such"));

	write_file(f->path, "data-dir\n");
	assert_int_equal(conf_load_file(&f->c, f->path, f->err, sizeof(f->err)), EINVAL);
	assert_non_null(strstr(f->err, ":1:"));

	write_file(f->path, "[sip\nudp-port = 1\n");
	assert_int_equal(conf_load_file(&f->c, f->path, f->err, sizeof(f->err)), EINVAL);
	assert_non_null(strstr(f->err, "section"));

	/* a file that is not there */
	char missing[80];
	snprintf(missing, sizeof(missing), "%s.missing", f->path);
	assert_int_equal(conf_load_file(&f->c, missing, f->err, sizeof(f->err)), ENOENT);
	assert_non_null(strstr(f->err, missing));
}

static void test_cmdline_overrides_file(void **state)
{
	struct fx *f = *state;
	write_file(f->path, "[sip]\nudp-port = 5070\ntcp = on\n[log]\nlevel = error\n");
	char cfg[96];
	snprintf(cfg, sizeof(cfg), "--config=%s", f->path);
	bool help;
	/* the command-line value wins even when written before --config */
	assert_int_equal(parse(f, &help, 4, "--sip-udp-port=6000", cfg, "--sip-tcp=off"), 0);
	assert_int_equal(conf_int(&f->c, "sip-udp-port"), 6000);
	assert_false(conf_bool(&f->c, "sip-tcp"));
	assert_string_equal(conf_str(&f->c, "log-level"), "error"); /* from the file */
	assert_string_equal(conf_str(&f->c, "config"), f->path);

	/* an error in the file stops parsing and names the file */
	write_file(f->path, "[log]\nlevel = loud\n");
	assert_int_not_equal(parse(f, &help, 2, cfg), 0);
	assert_non_null(strstr(f->err, f->path));
	assert_non_null(strstr(f->err, "log-level"));
}

static void test_validation(void **state)
{
	struct fx *f = *state;
	struct {
		const char *name, *val;
		int err;
		const char *msg;
	} bad[] = {
		{ "sip-udp-port", "0", ERANGE, "1..65535" },
		{ "sip-udp-port", "65536", ERANGE, "65536" },
		{ "sip-udp-port", "50x", EINVAL, "not a number" },
		{ "sip-udp-port", "", EINVAL, "not a number" },
		{ "sip-udp-port", "99999999999999999999999", EINVAL, "not a number" },
		{ "rtp-min", "-6", ERANGE, "-5..65535" },
		{ "sip-tcp", "maybe", EINVAL, "maybe" },
		{ "sip-tcp", "", EINVAL, "on or off" },
		{ "log-level", "trace", EINVAL, "debug|info|warn|error" },
		{ "log-level", "inf", EINVAL, "inf" },
		{ "log-level", "info|warn", EINVAL, "info|warn" },
		{ "log-level", "INFO", EINVAL, "INFO" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f->err[0] = '\0';
		assert_int_equal(conf_set(&f->c, bad[i].name, bad[i].val, f->err, sizeof(f->err)), bad[i].err);
		/* every message names the option and says what was wrong */
		assert_non_null(strstr(f->err, bad[i].name));
		assert_non_null(strstr(f->err, bad[i].msg));
	}
	/* nothing changed */
	assert_int_equal(conf_int(&f->c, "sip-udp-port"), 5060);
	assert_false(conf_bool(&f->c, "sip-tcp"));
	assert_string_equal(conf_str(&f->c, "log-level"), "info");
	/* the ends of a range and each choice are accepted */
	assert_int_equal(conf_set(&f->c, "sip-udp-port", "65535", f->err, sizeof(f->err)), 0);
	assert_int_equal(conf_set(&f->c, "sip-udp-port", "1", f->err, sizeof(f->err)), 0);
	const char *levels[] = { "debug", "info", "warn", "error" };
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(conf_set(&f->c, "log-level", levels[i], f->err, sizeof(f->err)), 0);
		assert_string_equal(conf_str(&f->c, "log-level"), levels[i]);
	}

	/* and through the command line, the message still names the option */
	bool help;
	assert_int_equal(parse(f, &help, 2, "--sip-udp-port=abc"), EINVAL);
	assert_non_null(strstr(f->err, "sip-udp-port"));
	/* a value-taking option given bare */
	assert_int_equal(parse(f, &help, 2, "--log-level"), EINVAL);
	assert_non_null(strstr(f->err, "log-level"));
	assert_non_null(strstr(f->err, "needs a value"));
}

static void test_unknown(void **state)
{
	struct fx *f = *state;
	bool help;
	assert_int_equal(conf_set(&f->c, "sip-udp", "1", f->err, sizeof(f->err)), ENOENT);
	assert_non_null(strstr(f->err, "unknown option 'sip-udp'"));
	assert_int_equal(parse(f, &help, 2, "--sip-udp-portx=1"), ENOENT);
	assert_non_null(strstr(f->err, "unknown option"));
	assert_non_null(strstr(f->err, "sip-udp-portx"));
	/* a bare unknown flag is reported as unknown, not as missing a value */
	assert_int_equal(parse(f, &help, 2, "--verbose"), ENOENT);
	assert_non_null(strstr(f->err, "unknown option"));
	assert_non_null(strstr(f->err, "verbose"));
	/* positional arguments and single dashes are rejected */
	assert_int_equal(parse(f, &help, 2, "sip-udp-port=1"), EINVAL);
	assert_non_null(strstr(f->err, "sip-udp-port=1"));
	assert_int_equal(parse(f, &help, 2, "-sip-tcp"), EINVAL);
	/* an option name is matched whole, not by prefix */
	assert_int_equal(parse(f, &help, 2, "--sip-tc"), ENOENT);
	assert_non_null(strstr(f->err, "'sip-tc'"));
	assert_int_equal(conf_int(&f->c, "sip-udp-port"), 5060);
}

static void test_help(void **state)
{
	struct fx *f = *state;
	char *text = NULL;
	size_t len = 0;
	FILE *mf = open_memstream(&text, &len);
	assert_non_null(mf);
	conf_print_help(&f->c, mf);
	assert_int_equal(fclose(mf), 0);
	assert_non_null(text);
	size_t lines = 0;
	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, NOPTS);
	for (size_t i = 0; i < NOPTS; i++) {
		char flag[64];
		snprintf(flag, sizeof(flag), "--%s=", opts[i].name);
		const char *at = strstr(text, flag);
		assert_non_null(at);
		const char *eol = strchr(at, '\n');
		const char *h = strstr(at, opts[i].help);
		assert_non_null(h);
		assert_true(h < eol);
		if (opts[i].def && *opts[i].def) {
			char def[64];
			snprintf(def, sizeof(def), "(default %s)", opts[i].def);
			const char *d = strstr(at, def);
			assert_non_null(d);
			assert_true(d < eol);
		}
	}
	assert_non_null(strstr(text, "--log-level=debug|info|warn|error"));
	assert_non_null(strstr(text, "--sip-udp-port=N"));
	assert_non_null(strstr(text, "--sip-tcp=on|off"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_overrides_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
