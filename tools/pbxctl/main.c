/* pbxctl: manage a running pbxd from the command line through its REST API.
 * This file reads the global options (flags first, then PBXCTL_* environment
 * variables), picks the command and turns its result into the exit code that
 * --help promises: 0 done, 1 the API said no or could not be reached, 2 the
 * command line was wrong and nothing was sent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl.h"

#define PBXCTL_VERSION PBXD_VERSION /* one version for the project, from meson.build */
#define PBXCTL_DEFAULT_URL "https://127.0.0.1:8887"

static const char usage_text[] =
	"Usage: pbxctl [OPTIONS] COMMAND [ARGS...]\n"
	"\n"
	"Manages a running pbxd through its REST API, the same one the web portal uses.\n"
	"\n"
	"Options (before the command; each also from the environment variable shown):\n"
	"  --url=URL           pbxd's API address (PBXCTL_URL, default " PBXCTL_DEFAULT_URL ")\n"
	"  --username=U        account to sign in with (PBXCTL_USERNAME)\n"
	"  --password=P        its password (PBXCTL_PASSWORD; - reads it from standard input;\n"
	"                      asked for without echo on a terminal when not given)\n"
	"  --domain=D          the tenant's SIP domain, for tenant users; leave it out for\n"
	"                      system admins (PBXCTL_DOMAIN)\n"
	"  --tenant=ID|DOMAIN  system admins: act as the admin of this tenant, e.g. for the\n"
	"                      user commands (PBXCTL_TENANT)\n"
	"  --json              print the API's JSON instead of tables (also after COMMAND)\n"
	"  --insecure          do not verify pbxd's TLS certificate, e.g. the self-signed one\n"
	"                      pbxd makes at first start (PBXCTL_INSECURE=1; also after COMMAND;\n"
	"                      a warning says so)\n"
	"  --cacert=FILE       verify pbxd's certificate against FILE (PBXCTL_CACERT)\n"
	"  --help, --version\n"
	"\n"
	"Commands:\n"
	"  info [--domain=D]                 server (or a tenant's public) information, no sign-in\n"
	"  me                                the signed-in account\n"
	"  password [NEWPW|-]                change your own password\n"
	"  tenant list                       (system admin)\n"
	"  tenant show ID\n"
	"  tenant add --name=N --domain=D --admin-username=U --admin-password=P\n"
	"                                    creates the tenant and its first tenant admin\n"
	"  tenant update ID --FIELD=VALUE... e.g. --enabled=false\n"
	"  tenant delete ID\n"
	"  user list                         users of your tenant (tenant admin, or --tenant=)\n"
	"  user show ID\n"
	"  user add --username=U --password=P [--email=E] [--display-name=N]\n"
	"           [--role=admin|user] [--extension-number=N] [--extension-password=P]\n"
	"  user update ID --FIELD=VALUE...   e.g. --display-name='Ann Lee' --enabled=false\n"
	"  user delete ID\n"
	"  user password ID [NEWPW|-]        set another user's password (tenant admin)\n"
	"  user devices ID                   the user's registered devices (device id, address,\n"
	"                                    transport, user agent, time until they expire)\n"
	"  user unregister ID DEVICE_ID      unregister one; the device may register again\n"
	"  extension list                    extension numbers and their users\n"
	"  settings [show] [--user=ID]       extension settings: your own, or a user's with --user\n"
	"                                    (tenant admin): DND, status, call waiting, forwarding\n"
	"  settings set [--user=ID] [--dnd=on|off] [--status=available|away|lunch|business_trip]\n"
	"               [--call-waiting=on|off] [--max-calls=N] [--anonymous=on|off]\n"
	"               [--deliver-caller-id=on|off] [--ring-time=SECONDS] [--FIELD=VALUE...]\n"
	"                                    a user may change DND, status, call waiting and\n"
	"                                    forwarding (--ring-time: seconds before the no-answer\n"
	"                                    forward); the rest is the tenant admin's\n"
	"  settings forward [--user=ID] always|busy|no-answer|not-reachable DESTINATION\n"
	"                   [--status=away|lunch|business_trip|outside_office_hours]\n"
	"                   [--ring-time=SECONDS]\n"
	"                                    DESTINATION: an extension or number,\n"
	"                                    voicemail[:MAILBOX], hangup or ring; with --status\n"
	"                                    the rule of that status, where default removes it\n"
	"                                    (the available status's rule applies again)\n"
	"  settings forward [--user=ID] off  unconditional forwarding off\n"
	"  registrations                     registered devices of every user of the tenant\n"
	"  calls [list]                      active calls: the tenant's (admins), or your own\n"
	"  calls hangup SESSION_ID           hang an active call up (tenant admin)\n"
	"  cdrs [--from=TIME] [--to=TIME] [--caller=NUMBER] [--callee=NUMBER]\n"
	"       [--direction=ext|in|out|in2out]\n"
	"                                    call detail records, newest first: the tenant's\n"
	"                                    (admins), or your own call log; TIME is Unix seconds\n"
	"                                    or ISO 8601 UTC (2026-11-23T19:18:45Z, 2026-11-23);\n"
	"                                    --from is inclusive, --to is not\n"
	"  ban list                          SIP sources banned after failed authentications\n"
	"                                    (system admin)\n"
	"  ban lift ADDRESS                  lift a ban (IPv6: any address of the banned /64)\n"
	"  office-hours [show] [--user=ID]   the tenant's office hours (a user's own with --user)\n"
	"  office-hours set [--user=ID [--mode=global|specific]] [--mon=HH:MM-HH:MM[,...]|closed]\n"
	"                   [--tue=...] ... [--sun=...]\n"
	"                                    change the days given (tenant admin); outside office\n"
	"                                    hours calls follow outside_office_hours forwarding\n"
	"  holiday list [--user=ID]          the tenant's holidays (a user's own with --user)\n"
	"  holiday show ID [--user=ID]\n"
	"  holiday add --name=N --start-date=YYYY-MM-DD [--end-date=YYYY-MM-DD]\n"
	"              [--start-time=HH:MM] [--end-time=HH:MM] [--every-year] [--user=ID]\n"
	"  holiday update ID [--user=ID] --FIELD=VALUE...\n"
	"  holiday delete ID [--user=ID]\n"
	"  feature-codes [list]              the codes users dial (*78 DND on...) and their defaults\n"
	"  feature-codes set --FEATURE=CODE...  e.g. --dnd-on=*11 (tenant admin)\n"
	"  feature-codes reset FEATURE...    back to the default code, e.g. dnd_on\n"
	"  provider list                     SIP trunk providers: a system admin's are the\n"
	"                                    system's (assigned to tenants); a tenant admin's are\n"
	"                                    its own and the system's assigned to it (read-only)\n"
	"  provider show ID\n"
	"  provider add --name=N --hostname=H [--port=P] [--transport=udp|tcp]\n"
	"               [--authentication=register|ip] [--username=U] [--password[=P|-]]\n"
	"               [--ip=ADDR[,ADDR...]] [--country-code=CC] [--expires=SECONDS]\n"
	"               [--max-calls=N] [--outbound-proxy=HOST[:PORT]] [--disabled]\n"
	"                                    --authentication defaults to register with --username\n"
	"                                    or --password, else ip; --ip may be repeated\n"
	"  provider set ID --FIELD=VALUE...  the options of add, e.g. --port=5070 --enabled\n"
	"  provider remove ID\n"
	"  provider status ID                registration state, last answer, calls in progress\n"
	"  provider export [--output=FILE]   CSV (every list's export works the same)\n"
	"  provider assign ID --tenant=ID|DOMAIN   a system provider for a tenant's rules\n"
	"  provider unassign ID --tenant=ID|DOMAIN\n"
	"  provider assignees ID             the tenants a system provider is assigned to\n"
	"  inbound list|show ID|remove ID|export   the tenant's inbound rules (tenant admin)\n"
	"  inbound add --name=N --provider=ID --did=DID --to=EXT|hangup\n"
	"              [--outside-hours-to=EXT|hangup]\n"
	"                                    DID: a number, a range FROM-TO or a pattern (X, Z, N,\n"
	"                                    [1-5], . and !); one rule per DID across tenants\n"
	"  inbound set ID --FIELD=VALUE...   the options of add (--outside-hours-to= clears it)\n"
	"  outbound list|show ID|remove ID|export  the tenant's outbound rules\n"
	"  outbound add --name=N --pattern=P --providers=ID[,ID...] [--strip=N]\n"
	"               [--prepend=DIGITS] [--priority=N]\n"
	"                                    dialled numbers matching P go out over the providers\n"
	"                                    in order; lowest priority first (default 100)\n"
	"  outbound set ID --FIELD=VALUE...\n"
	"  country-code list|add CODE [--name=NOTE]|remove ID|export\n"
	"                                    countries international calls may go to (besides\n"
	"                                    the provider's own; none listed: no others)\n"
	"  disallowed list|add CODE [--name=NOTE]|remove ID|export\n"
	"                                    prefixes no outbound call may start with\n"
	"  blacklist list|add NUMBER [--name=NOTE]|remove ID|export\n"
	"                                    caller numbers refused on inbound calls\n"
	"  outbound-limits [show]            the tenant's caps on outbound calls\n"
	"  outbound-limits set [--max-concurrent=N] [--max-per-hour=N] [--ext-max-concurrent=N]\n"
	"                      [--ext-max-per-hour=N]\n"
	"                                    the tenant's, and each extension's (0: no limit)\n"
	"  init --data-dir=DIR [--admin-password=PW]\n"
	"                                    prepare an empty data dir; runs nothing itself\n"
	"\n"
	"Passwords: anything on the command line is visible to every local user (ps,\n"
	"/proc/PID/cmdline), so each password above (--password, NEWPW, --admin-password,\n"
	"user add's --password and --extension-password, provider's --password) also takes\n"
	"- to read it from standard input: one line, without its newline; on a terminal it\n"
	"is asked for without echo (new passwords twice, and they must match). A NEWPW left\n"
	"out, or a provider's bare --password, is read the same way. Only one value per run\n"
	"can come from standard input, e.g.\n"
	"  pbxctl --username=admin --password=- me <~/.pbxd-admin-password\n"
	"  printf '%s\\n' \"$NEW\" | PBXCTL_PASSWORD=\"$OLD\" pbxctl --username=ann password -\n"
	"  pbxctl --username=admin password     (asks for both on the terminal)\n"
	"pbxctl warns when it sends the password over plain http:// to a host other than\n"
	"this one, or over https:// with --insecure.\n"
	"\n"
	"Options after a command belong to it. --FIELD=VALUE sends the API field FIELD\n"
	"(dashes become underscores) typed like its current value; --FIELD:=JSON sends\n"
	"raw JSON. List commands also take --search=, --filter=, --orderby= (cdrs: the\n"
	"options above instead), and --skip=/--top= for one page (otherwise every page is\n"
	"fetched). Use -- before a positional that starts with \"--\".\n"
	"\n"
	"First start: pbxd creates the system admin \"admin\" itself the first time it\n"
	"starts on an empty data dir, with the password from its --admin-password=PW\n"
	"(or a random one it prints once). `pbxctl init` creates the directory and prints\n"
	"that pbxd command; then sign in as admin with pbxctl.\n"
	"\n"
	"Exit status: 0 done, 1 the API refused (its message is printed) or pbxd could\n"
	"not be reached, 2 usage error (nothing was sent).\n";

typedef int (ctl_cmd_h)(struct ctl *c, int argc, char **argv);

static const struct {
	const char *name;
	ctl_cmd_h *run;
} commands[] = {
	{ "info", ctl_cmd_info },
	{ "me", ctl_cmd_me },
	{ "password", ctl_cmd_password },
	{ "tenant", ctl_cmd_tenant },
	{ "tenants", ctl_cmd_tenant },
	{ "user", ctl_cmd_user },
	{ "users", ctl_cmd_user },
	{ "extension", ctl_cmd_extension },
	{ "extensions", ctl_cmd_extension },
	{ "settings", ctl_cmd_settings },
	{ "registrations", ctl_cmd_registrations },
	{ "calls", ctl_cmd_calls },
	{ "cdrs", ctl_cmd_cdrs },
	{ "ban", ctl_cmd_ban },
	{ "bans", ctl_cmd_ban },
	{ "office-hours", ctl_cmd_office_hours },
	{ "holiday", ctl_cmd_holiday },
	{ "holidays", ctl_cmd_holiday },
	{ "feature-codes", ctl_cmd_feature_codes },
	{ "provider", ctl_cmd_provider },
	{ "providers", ctl_cmd_provider },
	{ "inbound", ctl_cmd_inbound },
	{ "outbound", ctl_cmd_outbound },
	{ "country-code", ctl_cmd_country_code },
	{ "country-codes", ctl_cmd_country_code },
	{ "disallowed", ctl_cmd_disallowed },
	{ "blacklist", ctl_cmd_blacklist },
	{ "outbound-limits", ctl_cmd_outbound_limits },
	{ "init", ctl_cmd_init },
};

static bool env_true(const char *name)
{
	const char *v = getenv(name);
	return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0
		     || strcasecmp(v, "on") == 0);
}

/* The global options that take a value, and where each is stored. */
struct gopt {
	const char *name;
	const char **dst;
};

/* Parses the global options in front of the command; returns the index of the
 * command, or -1 after printing a usage error. */
static int parse_globals(struct ctl *c, int argc, char **argv, bool *help, bool *version)
{
	const struct gopt gopts[] = {
		{ "url", &c->url },
		{ "username", &c->username },
		{ "password", &c->password },
		{ "domain", &c->domain },
		{ "tenant", &c->tenant },
		{ "cacert", &c->cacert },
	};
	int i;

	for (i = 1; i < argc && strncmp(argv[i], "-", 1) == 0; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			*help = true;
			continue;
		}
		if (strcmp(a, "--version") == 0) {
			*version = true;
			continue;
		}
		if (strcmp(a, "--json") == 0) {
			c->json = true;
			continue;
		}
		if (strcmp(a, "--insecure") == 0 || strcmp(a, "-k") == 0) {
			c->insecure = true;
			continue;
		}
		size_t k, n = sizeof(gopts) / sizeof(gopts[0]);
		for (k = 0; k < n; k++) {
			size_t l = strlen(gopts[k].name);
			if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, gopts[k].name, l) != 0)
				continue;
			if (a[2 + l] == '=') {
				*gopts[k].dst = a + 3 + l;
				break;
			}
			if (a[2 + l] == '\0') {
				if (i + 1 >= argc) {
					ctl_usage_error("--%s needs a value", gopts[k].name);
					return -1;
				}
				*gopts[k].dst = argv[++i];
				break;
			}
		}
		if (k == n) {
			ctl_usage_error("unknown option %s", a);
			return -1;
		}
	}
	return i;
}

int main(int argc, char **argv)
{
	struct ctl c = { 0 };
	bool help = false, version = false;
	char url[1024];
	int ci, err;

	c.url = getenv("PBXCTL_URL");
	c.username = getenv("PBXCTL_USERNAME");
	c.password = getenv("PBXCTL_PASSWORD");
	c.domain = getenv("PBXCTL_DOMAIN");
	c.tenant = getenv("PBXCTL_TENANT");
	c.cacert = getenv("PBXCTL_CACERT");
	c.insecure = env_true("PBXCTL_INSECURE");
	ci = parse_globals(&c, argc, argv, &help, &version);
	if (ci < 0 || (c.password && ctl_secret_claim(&c, "the sign-in --password", c.password)))
		return CTL_EXIT_USAGE;
	if (help) {
		fputs(usage_text, stdout);
		return CTL_EXIT_OK;
	}
	if (version) {
		puts("pbxctl " PBXCTL_VERSION);
		return CTL_EXIT_OK;
	}
	if (ci >= argc) {
		fputs(usage_text, stderr);
		return CTL_EXIT_USAGE;
	}
	for (int i = ci + 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage_text, stdout);
			return CTL_EXIT_OK;
		}
	}
	/* The API lives under /api; a URL given with it (or a trailing slash) is
	 * accepted as meaning the same server. */
	snprintf(url, sizeof(url), "%s", c.url && *c.url ? c.url : PBXCTL_DEFAULT_URL);
	size_t ul = strlen(url);
	while (ul > 0 && url[ul - 1] == '/')
		url[--ul] = '\0';
	if (ul >= 4 && strcmp(url + ul - 4, "/api") == 0)
		url[ul - 4] = '\0';
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		ctl_usage_error("--url must start with http:// or https:// (got %s)", url);
		return CTL_EXIT_USAGE;
	}
	c.url = url;

	size_t k, n = sizeof(commands) / sizeof(commands[0]);
	for (k = 0; k < n && strcmp(commands[k].name, argv[ci]) != 0; k++)
		;
	if (k == n) {
		ctl_usage_error("unknown command '%s'", argv[ci]);
		return CTL_EXIT_USAGE;
	}
	if ((err = ctl_http_open(&c))) {
		fprintf(stderr, "pbxctl: cannot start the HTTP client: %s\n", strerror(err));
		return CTL_EXIT_API;
	}
	err = commands[k].run(&c, argc - ci - 1, argv + ci + 1);
	ctl_sign_out(&c);
	ctl_http_close(&c);
	ctl_secrets_free(&c);
	fflush(stdout);
	if (err == EINVAL)
		return CTL_EXIT_USAGE;
	if (err == ENOMEM)
		fprintf(stderr, "pbxctl: out of memory\n");
	return err ? CTL_EXIT_API : CTL_EXIT_OK;
}
