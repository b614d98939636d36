/* Configuration from one table of options: the same table serves the INI file, the
 * `--key=value` command line and `--help`, so an option cannot exist in one and
 * not the others. Precedence: default < config file < command line. */
#ifndef CORE_CONF_H
#define CORE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum conf_type { CONF_STR, CONF_INT, CONF_BOOL, CONF_CHOICE };

struct conf_opt {
	const char *name;    /* e.g. "sip-udp-port"; in a file also [sip] udp-port */
	enum conf_type type;
	const char *def;     /* default as text; NULL means unset */
	long long min, max;  /* CONF_INT range */
	const char *choices; /* CONF_CHOICE: "a|b|c" */
	const char *help;
};

struct conf {
	const struct conf_opt *opts;
	size_t n;
	char **vals;
};

int conf_init(struct conf *c, const struct conf_opt *opts, size_t n);
void conf_close(struct conf *c);
/* Validates and stores one value; on failure writes a message to err. */
int conf_set(struct conf *c, const char *name, const char *value, char *err, size_t errsz);
int conf_load_file(struct conf *c, const char *path, char *err, size_t errsz);
/* Reads --config=FILE first (file values), then every --key=value over it.
 * Arguments not starting with "--" are errors. "--help" sets *help. */
int conf_parse_args(struct conf *c, int argc, char **argv, bool *help, char *err, size_t errsz);
const char *conf_str(const struct conf *c, const char *name);
long long conf_int(const struct conf *c, const char *name);
bool conf_bool(const struct conf *c, const char *name);
void conf_print_help(const struct conf *c, FILE *f);

/* A secret option (a password) kept off the command line, where every local user
 * reads it in /proc/PID/cmdline. Its value may be "-": one line is read from
 * standard input. Or file_opt (another string option) names a file whose first
 * line is the value. Either way the line's newline (and a CR before it) is
 * dropped, and the value is stored in c. A value given as --name=VALUE on the
 * command line all the same has its bytes overwritten in argv (so that the
 * process's command line no longer shows it), and *on_cmdline says so, for the
 * caller to warn. Call it right after conf_parse_args. Returns 0; or EINVAL
 * (both the option and file_opt given, an empty or missing line, a line too
 * long) or the errno of the file, with a message in err. */
int conf_secret_resolve(struct conf *c, const char *name, const char *file_opt, int argc, char **argv,
			bool *on_cmdline, char *err, size_t errsz);

#endif
