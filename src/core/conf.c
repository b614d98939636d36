/* Table-driven configuration (see conf.h). */
#include "core/conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static long find_opt(const struct conf *c, const char *name, size_t len)
{
	for (size_t i = 0; i < c->n; i++) {
		if (strlen(c->opts[i].name) == len && strncmp(c->opts[i].name, name, len) == 0)
			return (long)i;
	}
	return -1;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return EINVAL;
}

static bool choice_ok(const char *choices, const char *v)
{
	size_t vl = strlen(v);
	for (const char *p = choices; *p;) {
		const char *bar = strchr(p, '|');
		size_t l = bar ? (size_t)(bar - p) : strlen(p);
		if (l == vl && strncmp(p, v, l) == 0)
			return true;
		if (!bar)
			break;
		p = bar + 1;
	}
	return false;
}

static int validate(const struct conf_opt *o, const char *v, char *err, size_t errsz)
{
	switch (o->type) {
	case CONF_STR:
		return 0;
	case CONF_BOOL: {
		bool b;
		if (parse_bool(v, &b)) {
			snprintf(err, errsz, "%s: '%s' is not on or off", o->name, v);
			return EINVAL;
		}
		return 0;
	}
	case CONF_CHOICE:
		if (!choice_ok(o->choices, v)) {
			snprintf(err, errsz, "%s: '%s' is not one of %s", o->name, v, o->choices);
			return EINVAL;
		}
		return 0;
	case CONF_INT: {
		char *end;
		errno = 0;
		long long x = strtoll(v, &end, 10);
		if (errno || end == v || *end) {
			snprintf(err, errsz, "%s: '%s' is not a number", o->name, v);
			return EINVAL;
		}
		if (x < o->min || x > o->max) {
			snprintf(err, errsz, "%s: %lld is outside %lld..%lld", o->name, x, o->min, o->max);
			return ERANGE;
		}
		return 0;
	}
	}
	return EINVAL;
}

int conf_init(struct conf *c, const struct conf_opt *opts, size_t n)
{
	c->opts = opts;
	c->n = n;
	c->vals = calloc(n, sizeof(*c->vals));
	if (!c->vals)
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (opts[i].def && !(c->vals[i] = strdup(opts[i].def)))
			return ENOMEM;
	}
	return 0;
}

void conf_close(struct conf *c)
{
	for (size_t i = 0; c->vals && i < c->n; i++)
		free(c->vals[i]);
	free(c->vals);
	c->vals = NULL;
}

int conf_set(struct conf *c, const char *name, const char *value, char *err, size_t errsz)
{
	long i = find_opt(c, name, strlen(name));
	if (i < 0) {
		snprintf(err, errsz, "unknown option '%s'", name);
		return ENOENT;
	}
	int e = validate(&c->opts[i], value, err, errsz);
	if (e)
		return e;
	char *dup = strdup(value);
	if (!dup)
		return ENOMEM;
	free(c->vals[i]);
	c->vals[i] = dup;
	return 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

int conf_load_file(struct conf *c, const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return errno;
	}
	char line[1024], section[64] = "", key[192];
	int lineno = 0, e = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (!end || (size_t)(end - s - 1) >= sizeof(section)) {
				snprintf(err, errsz, "%s:%d: bad section", path, lineno);
				e = EINVAL;
				break;
			}
			*end = '\0';
			snprintf(section, sizeof(section), "%s", trim(s + 1));
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errsz, "%s:%d: expected key = value", path, lineno);
			e = EINVAL;
			break;
		}
		*eq = '\0';
		char *k = trim(s), *v = trim(eq + 1);
		size_t vl = strlen(v);
		if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
			v[vl - 1] = '\0';
			v++;
		}
		if (*section)
			snprintf(key, sizeof(key), "%s-%s", section, k);
		else
			snprintf(key, sizeof(key), "%s", k);
		char sub[512];
		e = conf_set(c, key, v, sub, sizeof(sub));
		if (e) {
			snprintf(err, errsz, "%s:%d: %s", path, lineno, sub);
			break;
		}
	}
	fclose(f);
	return e;
}

int conf_parse_args(struct conf *c, int argc, char **argv, bool *help, char *err, size_t errsz)
{
	*help = false;
	/* The file goes first so that the command line overrides it. */
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--config=", 9) == 0) {
			int e = conf_set(c, "config", argv[i] + 9, err, errsz);
			if (e)
				return e;
			if ((e = conf_load_file(c, argv[i] + 9, err, errsz)))
				return e;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			*help = true;
			continue;
		}
		if (strncmp(a, "--", 2) != 0) {
			snprintf(err, errsz, "unexpected argument '%s' (options are --key=value)", a);
			return EINVAL;
		}
		a += 2;
		const char *eq = strchr(a, '=');
		char name[128];
		const char *val;
		if (eq) {
			snprintf(name, sizeof(name), "%.*s", (int)(eq - a), a);
			val = eq + 1;
		} else {
			snprintf(name, sizeof(name), "%s", a);
			long k = find_opt(c, name, strlen(name));
			if (k < 0) {
				/* say it is unknown, not that it needs a value */
				snprintf(err, errsz, "unknown option '%s'", name);
				return ENOENT;
			}
			if (c->opts[k].type != CONF_BOOL) {
				snprintf(err, errsz, "option '--%s' needs a value (--%s=VALUE)", name, name);
				return EINVAL;
			}
			val = "on";
		}
		if (strcmp(name, "config") == 0)
			continue;
		int e = conf_set(c, name, val, err, errsz);
		if (e)
			return e;
	}
	return 0;
}

const char *conf_str(const struct conf *c, const char *name)
{
	long i = find_opt(c, name, strlen(name));
	return i < 0 ? NULL : c->vals[i];
}

long long conf_int(const struct conf *c, const char *name)
{
	const char *v = conf_str(c, name);
	return v ? strtoll(v, NULL, 10) : 0;
}

bool conf_bool(const struct conf *c, const char *name)
{
	const char *v = conf_str(c, name);
	bool b = false;
	if (v)
		parse_bool(v, &b);
	return b;
}

void conf_print_help(const struct conf *c, FILE *f)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct conf_opt *o = &c->opts[i];
		char lhs[96];
		const char *meta = o->type == CONF_INT ? "N" : o->type == CONF_BOOL ? "on|off"
				 : o->type == CONF_CHOICE ? o->choices : "VALUE";
		snprintf(lhs, sizeof(lhs), "--%s=%s", o->name, meta);
		fprintf(f, "  %-36s %s", lhs, o->help);
		if (o->def && *o->def)
			fprintf(f, " (default %s)", o->def);
		fputc('\n', f);
	}
}

/* Longer than any password anyone types; a longer line is refused rather than
 * silently cut. */
#define SECRET_MAX 1024

/* One line of f into buf without its line end. 0, ENODATA (nothing), EMSGSIZE. */
static int secret_line(FILE *f, char *buf, size_t size)
{
	if (!fgets(buf, (int)size, f))
		return ENODATA;
	size_t n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (!feof(f))
		return EMSGSIZE;
	if (n && buf[n - 1] == '\r') /* a file written on Windows */
		buf[--n] = '\0';
	return n ? 0 : ENODATA;
}

int conf_secret_resolve(struct conf *c, const char *name, const char *file_opt, int argc, char **argv,
			bool *on_cmdline, char *err, size_t errsz)
{
	char prefix[160];
	size_t pl = (size_t)snprintf(prefix, sizeof(prefix), "--%s=", name);
	*on_cmdline = false;
	/* First, before anything can fail: the value leaves the process's arguments
	 * (conf_parse_args keeps its own copy). Every occurrence, the last one won. */
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], prefix, pl) != 0 || strcmp(argv[i] + pl, "-") == 0)
			continue;
		char *v = argv[i] + pl;
		if (*v)
			*on_cmdline = true;
		memset(v, '*', strlen(v));
	}
	const char *val = conf_str(c, name), *path = file_opt ? conf_str(c, file_opt) : NULL;
	bool from_stdin = val && strcmp(val, "-") == 0, from_file = path && *path;
	if (from_file && val && *val) {
		snprintf(err, errsz, "give %s or %s, not both", name, file_opt);
		return EINVAL;
	}
	if (!from_stdin && !from_file)
		return 0;
	FILE *f = from_stdin ? stdin : fopen(path, "r");
	if (!f) {
		int e = errno;
		snprintf(err, errsz, "%s: %s: %s", file_opt, path, strerror(e));
		return e;
	}
	/* Unbuffered, so that no copy of the secret stays behind in a stdio buffer
	 * (and stdin gives up only the one line). */
	setvbuf(f, NULL, _IONBF, 0);
	char buf[SECRET_MAX];
	int e = secret_line(f, buf, sizeof(buf));
	if (!from_stdin)
		fclose(f);
	if (e) {
		snprintf(err, errsz, "%s: %s", from_stdin ? name : file_opt,
			 e == EMSGSIZE ? "the line is too long"
			 : from_stdin ? "expected the value as one line on standard input"
			 : "the file's first line is empty");
		e = EINVAL;
	} else {
		e = conf_set(c, name, buf, err, errsz);
	}
	explicit_bzero(buf, sizeof(buf));
	return e;
}
