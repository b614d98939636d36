/* The process's file descriptor budget. RLIMIT_NOFILE is one number for the
 * whole process, yet SIP connections, the REST API's connections, the databases,
 * files and (to come) RTP sockets all draw on it; when one of them takes the last
 * descriptor the others fail in ways that are hard to see (issue 17: at the limit
 * accept failed in a busy loop). So pbxd raises its soft limit to the hard limit
 * at start, and every part that holds descriptors by the thousand asks here for
 * its cap instead of trusting its own option.
 *
 * The arithmetic is in one place and does not depend on who asks first: a fixed
 * reserve covers what pbxd opens a few of (stdio, event loops, eventfds, SQLite
 * files of every connection, listening sockets, certificates, the spare
 * descriptor of the SIP listener); of the rest, SIP TCP connections may take
 * 4/8, the REST API 1/8 (it wants at most 1024), media sockets 3/8. */
#ifndef CORE_FDLIMIT_H
#define CORE_FDLIMIT_H

enum fdlimit_user { FDLIMIT_SIP_TCP, FDLIMIT_HTTP, FDLIMIT_MEDIA, FDLIMIT_USER_COUNT };

enum { FDLIMIT_RESERVE = 64 };

/* Raises the soft RLIMIT_NOFILE to the hard limit and logs the result at info.
 * Returns 0 or an errno (the limit is then left as it was, and said so). */
int fdlimit_raise(void);
/* The soft RLIMIT_NOFILE now (UINT_MAX when unlimited). */
unsigned fdlimit_current(void);
/* How many descriptors user may hold under a soft limit of `limit`. */
unsigned fdlimit_share_of(unsigned limit, enum fdlimit_user user);
/* want, or user's share of the current limit when that is smaller. */
unsigned fdlimit_share(enum fdlimit_user user, unsigned want);

#endif
