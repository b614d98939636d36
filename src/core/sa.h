/* Socket addresses for IPv4 and IPv6 in one type, with the few operations SIP
 * routing needs (parse, print, compare, port). */
#ifndef CORE_SA_H
#define CORE_SA_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/pl.h"

/* IPv4 and IPv6 only: no sockaddr_storage (128 bytes) in a type that every
 * binding, transaction and message carries twice or more. */
struct sa {
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} u;
	socklen_t len;
};

/* Numeric address (IPv4, IPv6 with or without []) and port; returns 0 or EINVAL. */
int sa_set(struct sa *sa, const char *addr, uint16_t port);
int sa_set_pl(struct sa *sa, const struct pl *addr, uint16_t port);
int sa_af(const struct sa *sa);
uint16_t sa_port(const struct sa *sa);
void sa_set_port(struct sa *sa, uint16_t port);
/* Address only, without brackets; returns buf. */
char *sa_ntop(const struct sa *sa, char *buf, size_t size);
/* "1.2.3.4:5060" or "[::1]:5060". */
char *sa_str(const struct sa *sa, char *buf, size_t size);
bool sa_eq(const struct sa *a, const struct sa *b);      /* address and port */
bool sa_eq_addr(const struct sa *a, const struct sa *b); /* address only */
bool sa_is_any(const struct sa *sa);
/* An address that means something only inside one network, as a NAT hides it:
 * RFC 1918, shared (RFC 6598), link-local, loopback, unique-local (fc00::/7)
 * and their IPv4-mapped forms. */
bool sa_is_private(const struct sa *sa);
uint32_t sa_hash_addr(const struct sa *sa);
/* What counts as one source wherever pbxd limits or bans by address: an IPv4
 * address (IPv4-mapped IPv6 included), or an IPv6 /64, which one host controls.
 * Returns 4 or 6 with *key (the IPv4 address, or the top 64 bits), 0 for neither. */
uint8_t sa_source_key(const struct sa *sa, uint64_t *key);

#endif
