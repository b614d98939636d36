/* Secrets (passwords) from standard input instead of the command line, where any
 * local user can read them in /proc/PID/cmdline. A secret given as `-` (or a
 * positional new password left out) is read from stdin: a prompt without echo when
 * stdin is a terminal (twice for a new password, which must match), otherwise one
 * line with its newline stripped. stdin holds one value, so at most one value per
 * run may ask for it; commands claim theirs before anything is read or sent, so a
 * second claim is a usage error (exit 2) with nothing consumed. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "ctl.h"

/* Longer than any password anyone types; a longer line is refused rather than
 * silently cut. */
#define CTL_SECRET_MAX 1024

bool ctl_secret_from_stdin(const char *value)
{
	return !value || strcmp(value, "-") == 0;
}

int ctl_secret_claim(struct ctl *c, const char *name, const char *value)
{
	if (!ctl_secret_from_stdin(value))
		return 0;
	if (c->stdin_by) {
		ctl_usage_error("only one value can come from standard input, but both %s and %s "
				"ask for it (give one of them another way)", c->stdin_by, name);
		return EINVAL;
	}
	c->stdin_by = name;
	return 0;
}

/* A signal while echo is off would leave the user's terminal without echo; the
 * handler puts it back. Static because a signal handler can reach nothing else. */
static struct termios saved_tio;
static volatile sig_atomic_t tio_saved;

static const int quit_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define NQUIT (sizeof(quit_signals) / sizeof(quit_signals[0]))

static void on_quit_signal(int sig)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads one line from stdin into buf (newline stripped). Returns 0, ENODATA at
 * end of input, EMSGSIZE for a line too long, or EIO. */
static int read_line(char *buf, size_t size)
{
	if (!fgets(buf, (int)size, stdin))
		return ferror(stdin) ? EIO : ENODATA;
	size_t n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (!feof(stdin))
		return EMSGSIZE;
	if (n > 0 && buf[n - 1] == '\r') /* a file written on Windows */
		buf[--n] = '\0';
	return 0;
}

/* Asks on the terminal with echo off. The prompt goes to /dev/tty so it shows
 * even when stdout and stderr are redirected. */
static int prompt_line(const char *prompt, char *buf, size_t size)
{
	FILE *tty = fopen("/dev/tty", "w");
	FILE *out = tty ? tty : stderr;
	struct sigaction sa = { 0 }, old[NQUIT];
	struct termios quiet;
	int err;

	/* Echo goes off before the prompt shows: TCSAFLUSH drops typed-ahead input,
	 * which must not include an answer typed right after the prompt appeared. */
	if (tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
		sa.sa_handler = on_quit_signal;
		sigemptyset(&sa.sa_mask);
		for (size_t i = 0; i < NQUIT; i++)
			sigaction(quit_signals[i], &sa, &old[i]);
		tio_saved = 1;
		quiet = saved_tio;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	fprintf(out, "%s: ", prompt);
	fflush(out);
	err = read_line(buf, size);
	if (tio_saved) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
		tio_saved = 0;
		for (size_t i = 0; i < NQUIT; i++)
			sigaction(quit_signals[i], &old[i], NULL);
	} else {
		fputc('\n', out);
	}
	if (tty)
		fclose(tty);
	return err;
}

/* Keeps s until the run ends (ctl_secrets_free wipes it). */
static int keep(struct ctl *c, const char *s, const char **out)
{
	if (c->nsecrets == CTL_SECRETS_MAX)
		return ENOMEM;
	char *copy = strdup(s);
	if (!copy)
		return ENOMEM;
	c->secrets[c->nsecrets++] = copy;
	*out = copy;
	return 0;
}

int ctl_secret_read(struct ctl *c, const char *name, const char *prompt, bool is_new, const char **out)
{
	char buf[CTL_SECRET_MAX], again[CTL_SECRET_MAX];
	bool tty = isatty(STDIN_FILENO);
	int err;

	err = tty ? prompt_line(prompt, buf, sizeof(buf)) : read_line(buf, sizeof(buf));
	if (!err && tty && is_new) {
		char rp[256];
		snprintf(rp, sizeof(rp), "%s (again)", prompt);
		err = prompt_line(rp, again, sizeof(again));
		if (!err && strcmp(buf, again) != 0) {
			ctl_usage_error("%s: the two entries do not match", name);
			err = EINVAL;
		}
		explicit_bzero(again, sizeof(again));
	}
	if (err == ENODATA) {
		ctl_usage_error("%s: nothing on standard input (give it there as one line)", name);
		err = EINVAL;
	} else if (err == EMSGSIZE) {
		ctl_usage_error("%s: the line on standard input is too long", name);
		err = EINVAL;
	} else if (err == EIO) {
		fprintf(stderr, "pbxctl: %s: cannot read standard input: %s\n", name, strerror(errno));
	} else if (!err && !buf[0]) {
		ctl_usage_error("%s: empty", name);
		err = EINVAL;
	}
	if (!err)
		err = keep(c, buf, out);
	explicit_bzero(buf, sizeof(buf));
	return err;
}

int ctl_secret_get(struct ctl *c, const char *name, const char *prompt, const char *value,
		   const char **out)
{
	if (!ctl_secret_from_stdin(value)) {
		*out = value;
		return 0;
	}
	return ctl_secret_read(c, name, prompt, true, out);
}

int ctl_password_resolve(struct ctl *c)
{
	if (c->password && strcmp(c->password, "-") == 0)
		return ctl_secret_read(c, "--password", "Password", false, &c->password);
	if (!c->password && isatty(STDIN_FILENO))
		return ctl_secret_read(c, "--password", "Password", false, &c->password);
	if (!c->password) {
		ctl_usage_error("no password: give --password=P (- reads it from standard input) "
				"or set PBXCTL_PASSWORD");
		return EINVAL;
	}
	return 0;
}

void ctl_secrets_free(struct ctl *c)
{
	for (size_t i = 0; i < c->nsecrets; i++) {
		explicit_bzero(c->secrets[i], strlen(c->secrets[i]));
		free(c->secrets[i]);
		c->secrets[i] = NULL;
	}
	c->nsecrets = 0;
}
