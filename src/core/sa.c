/* Socket address helpers (see sa.h). */
#include "core/sa.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int sa_set(struct sa *sa, const char *addr, uint16_t port)
{
	struct pl pl = pl_cstr(addr);
	return sa_set_pl(sa, &pl, port);
}

int sa_set_pl(struct sa *sa, const struct pl *addr, uint16_t port)
{
	char buf[64];
	struct pl a = *addr;
	if (a.l >= 2 && a.p[0] == '[' && a.p[a.l - 1] == ']') {
		a.p++;
		a.l -= 2;
	}
	if (a.l == 0 || a.l >= sizeof(buf))
		return EINVAL;
	pl_strcpy(&a, buf, sizeof(buf));
	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, buf, &sa->u.in.sin_addr) == 1) {
		sa->u.in.sin_family = AF_INET;
		sa->u.in.sin_port = htons(port);
		sa->len = sizeof(sa->u.in);
		return 0;
	}
	if (inet_pton(AF_INET6, buf, &sa->u.in6.sin6_addr) == 1) {
		sa->u.in6.sin6_family = AF_INET6;
		sa->u.in6.sin6_port = htons(port);
		sa->len = sizeof(sa->u.in6);
		return 0;
	}
	return EINVAL;
}

int sa_af(const struct sa *sa) { return sa->u.sa.sa_family; }

uint16_t sa_port(const struct sa *sa)
{
	switch (sa->u.sa.sa_family) {
	case AF_INET: return ntohs(sa->u.in.sin_port);
	case AF_INET6: return ntohs(sa->u.in6.sin6_port);
	default: return 0;
	}
}

void sa_set_port(struct sa *sa, uint16_t port)
{
	if (sa->u.sa.sa_family == AF_INET)
		sa->u.in.sin_port = htons(port);
	else if (sa->u.sa.sa_family == AF_INET6)
		sa->u.in6.sin6_port = htons(port);
}

char *sa_ntop(const struct sa *sa, char *buf, size_t size)
{
	const void *a = sa->u.sa.sa_family == AF_INET6 ? (const void *)&sa->u.in6.sin6_addr
						       : (const void *)&sa->u.in.sin_addr;
	if (!inet_ntop(sa->u.sa.sa_family, a, buf, (socklen_t)size))
		snprintf(buf, size, "?");
	return buf;
}

char *sa_str(const struct sa *sa, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];
	sa_ntop(sa, a, sizeof(a));
	if (sa->u.sa.sa_family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", a, sa_port(sa));
	else
		snprintf(buf, size, "%s:%u", a, sa_port(sa));
	return buf;
}

bool sa_eq_addr(const struct sa *a, const struct sa *b)
{
	if (a->u.sa.sa_family != b->u.sa.sa_family)
		return false;
	if (a->u.sa.sa_family == AF_INET)
		return a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
	if (a->u.sa.sa_family == AF_INET6)
		return memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
	return false;
}

bool sa_eq(const struct sa *a, const struct sa *b)
{
	return sa_eq_addr(a, b) && sa_port(a) == sa_port(b);
}

bool sa_is_any(const struct sa *sa)
{
	if (sa->u.sa.sa_family == AF_INET)
		return sa->u.in.sin_addr.s_addr == htonl(INADDR_ANY);
	if (sa->u.sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&sa->u.in6.sin6_addr);
	return true;
}

static bool v4_private(uint32_t a)
{
	return (a >> 24) == 10 || (a >> 20) == 0xac1 || (a >> 16) == 0xc0a8 || (a >> 22) == (100u << 2 | 1u) ||
	       (a >> 16) == 0xa9fe || (a >> 24) == 127;
}

bool sa_is_private(const struct sa *sa)
{
	if (sa->u.sa.sa_family == AF_INET)
		return v4_private(ntohl(sa->u.in.sin_addr.s_addr));
	if (sa->u.sa.sa_family != AF_INET6)
		return false;
	const struct in6_addr *a = &sa->u.in6.sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a)) {
		uint32_t v4;
		memcpy(&v4, &a->s6_addr[12], 4);
		return v4_private(ntohl(v4));
	}
	return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a) || (a->s6_addr[0] & 0xfe) == 0xfc;
}

uint32_t sa_hash_addr(const struct sa *sa)
{
	struct pl pl;
	if (sa->u.sa.sa_family == AF_INET6)
		pl = pl_from((const char *)&sa->u.in6.sin6_addr, 16);
	else
		pl = pl_from((const char *)&sa->u.in.sin_addr, 4);
	return pl_hash(&pl, 0);
}

uint8_t sa_source_key(const struct sa *sa, uint64_t *key)
{
	const uint8_t *b;
	if (sa_af(sa) == AF_INET) {
		b = (const uint8_t *)&sa->u.in.sin_addr;
	} else if (sa_af(sa) == AF_INET6) {
		const struct in6_addr *a6 = &sa->u.in6.sin6_addr;
		if (!IN6_IS_ADDR_V4MAPPED(a6)) {
			uint64_t k = 0;
			for (int i = 0; i < 8; i++)
				k = k << 8 | a6->s6_addr[i];
			*key = k;
			return 6;
		}
		b = a6->s6_addr + 12;
	} else {
		return 0;
	}
	*key = (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3];
	return 4;
}
