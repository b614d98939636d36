/* The media worker's packet I/O through io_uring (internal to src/media): every
 * socket's receiving is one multishot recvmsg into a ring of provided buffers,
 * and what the worker sends while it handles a wake-up is queued and goes in
 * one io_uring_enter. Per packet that saves the recvmmsg and sendmmsg system
 * calls and the epoll wake-ups the socket-per-call design otherwise costs, and
 * a latched RTP socket's connected twin (uring.c) saves the route lookup per
 * packet sent; the kernel's UDP work stays. Without io_uring (an old
 * kernel, a sandbox that forbids it) the worker keeps epoll and recvmmsg. */
#ifndef MEDIA_URING_H
#define MEDIA_URING_H

#include <stdbool.h>
#include <stddef.h>

#include "core/loop.h"
#include "media/sockep.h"

struct media_uring;

/* A ring for the worker running loop, its packets handed to
 * media_sockep_input with batch's packet array. 0, or ENOSYS/EPERM/EINVAL/ENOMEM
 * when io_uring (with multishot receive and provided buffers) is not to be had. */
int media_uring_alloc(struct media_uring **up, struct loop *loop, struct media_batch *batch);
/* After the worker's loop has stopped for good (its thread joined). */
void media_uring_free(struct media_uring *u);
/* Starts (stops) receiving on k's socket. Stopping is done when it returns:
 * the kernel holds the socket no longer, and no packet of it is handed on. */
int media_uring_listen(struct media_uring *u, struct media_sock *k);
void media_uring_unlisten(struct media_uring *u, struct media_sock *k);
/* Queues a datagram (copied) from k's socket to dst; it leaves by the end of
 * the current wake-up at the latest. 0, or ENOBUFS (the caller counts it dropped). */
int media_uring_send(struct media_uring *u, const struct media_sock *k, const struct sa *dst, const void *buf,
		     size_t len);

#endif
