/* The signalling thread's copy of what it reads per request: tenants by SIP domain
 * (with their zone, office hours, holidays and feature codes) and their
 * extensions with SIP credentials, settings and holidays. It never waits on the
 * disk: the copy is loaded at start, and kept current by the pbx module, which
 * re-reads a row through the storage worker whenever the API says it wrote it
 * (pbx.h). JSON the API stored is parsed here, once per change, not per call.
 *
 * Owned by the signalling thread; not thread-safe. Free with mem_deref(). */
#ifndef PBX_DIRECTORY_H
#define PBX_DIRECTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/list.h"
#include "core/pl.h"

struct json_t;
#include "pbx/feature_codes.h"
#include "pbx/schedule.h"
#include "store/store.h"

struct dir_tenant {
	uint64_t id;
	char domain[STORE_DOMAIN_SZ]; /* lower case */
	char name[STORE_NAME_SZ];
	char tz[STORE_TZ_SZ];         /* time zone (tz database name); "" for UTC */
	bool enabled;
	int64_t max_calls;
	/* Office hours (has_hours false: none set, open at all times), the
	 * tenant's own holidays (NULL: none) and its feature access codes. */
	bool has_hours;
	struct sched_shifts hours;
	struct sched_holidays *holidays;
	struct feature_codes codes;
	struct list exts; /* struct dir_ext */
	struct le le_id, le_domain, le_all;
	struct directory *dir;
};

/* A short-lived SIP credential for the browser phone (api: POST
 * /api/user/phone_credentials): the page registers as "<number>~<id>" with it,
 * so the extension's own password never reaches a browser. */
enum { DIR_WEBCRED_MAX = 4, DIR_WEBCRED_ID_SZ = 13, DIR_WEBCRED_SECRET_SZ = 33 };
struct dir_webcred {
	char id[DIR_WEBCRED_ID_SZ];
	char secret[DIR_WEBCRED_SECRET_SZ];
	int64_t expires_ms; /* 0: unused */
};

struct dir_ext {
	uint64_t user_id;
	struct dir_tenant *tenant;
	char number[STORE_EXT_SZ];
	char password[STORE_SECRET_SZ]; /* the SIP password (digest needs it in clear) */
	char display_name[STORE_NAME_SZ];
	bool enabled;                   /* the user's account */
	/* From the extension's settings (the API validated them). */
	uint32_t max_calls;             /* max_simultaneous_calls: calls at once, 0 no limit */
	bool call_waiting;              /* another call may ring while one is up */
	bool dnd;                       /* do not disturb */
	/* The settings as the API stored them (jansson; the call engine reads the
	 * status, office hours and forwarding rules per call), and their
	 * "forwarding" object (borrowed from settings); either may be NULL. */
	struct json_t *settings;
	struct json_t *forwarding;
	struct sched_holidays *holidays; /* the user's own (NULL: none) */
	/* Browser phone credentials; all forgotten when the extension's password,
	 * number or owner changes or the account is disabled. */
	struct dir_webcred webcred[DIR_WEBCRED_MAX];
	struct le le_tenant, le_num, le_id;
};

/* What the directory says when it drops an extension (deleted, disabled, its
 * tenant gone or disabled): whoever holds state for it (the location service's
 * bindings) lets go. */
typedef void (dir_drop_h)(const struct dir_ext *x, void *arg);

struct directory;

int directory_alloc(struct directory **dp, dir_drop_h *drop, void *arg);
/* Loads every tenant and user, with their office hours, feature codes and
 * holidays, from st (at start, before the loop runs). */
int directory_load(struct directory *d, struct store *st);

struct dir_tenant *directory_tenant_by_domain(const struct directory *d, const struct pl *domain);
struct dir_tenant *directory_tenant(const struct directory *d, uint64_t id);
struct dir_ext *directory_ext(const struct dir_tenant *t, const struct pl *number);
struct dir_ext *directory_ext_by_user(const struct directory *d, uint64_t user_id);
/* A tenant that may use the PBX, and an extension that may (both enabled). */
bool directory_usable(const struct dir_ext *x);

/* Applies the stored state of a row: put (insert or replace) or remove. Removing
 * a tenant removes its extensions; an extension or tenant that stops being usable
 * is dropped (dir_drop_h) first. */
int directory_tenant_put(struct directory *d, const struct store_tenant *t);
void directory_tenant_remove(struct directory *d, uint64_t id);
int directory_ext_put(struct directory *d, const struct store_user *u);
void directory_ext_remove(struct directory *d, uint64_t user_id);
/* A tenant's office hours and feature codes as stored. A text that does not
 * parse (the API never stores one) counts as none: logged, and open at all
 * times or the default codes. ENOENT for an unknown tenant. */
int directory_tenant_settings_put(struct directory *d, const struct store_tenant_settings *s);
/* Replaces the holidays of a tenant (user_id 0) or of an extension with hs's
 * rows (NULL: none); a row whose JSON does not parse is skipped (logged).
 * ENOENT for an unknown tenant or extension. */
int directory_holidays_put(struct directory *d, uint64_t tenant_id, uint64_t user_id,
			   const struct store_holidays *hs);
/* Adds one holiday to its owner's (the load at start). */
int directory_holiday_add(struct directory *d, const struct store_holiday *h);

size_t directory_tenant_count(const struct directory *d);
size_t directory_ext_count(const struct directory *d);

#endif
