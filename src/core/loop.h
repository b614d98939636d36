/* The event loop every pbxd thread that does I/O runs: epoll for file descriptors
 * and a timer heap for deadlines, in the manner of Redis's ae. One loop per thread;
 * nothing here is thread-safe, by design (threads talk through mqueue). */
#ifndef CORE_LOOP_H
#define CORE_LOOP_H

#include <stdint.h>

#include "core/timer.h"

enum { LOOP_READ = 1, LOOP_WRITE = 2 };

struct loop;
typedef void (loop_fd_h)(int fd, int events, void *arg);

/* Not reference counted: free with loop_free(). */
int loop_alloc(struct loop **lp);
/* Registers or changes the interest of fd. */
int loop_fd_listen(struct loop *l, int fd, int events, loop_fd_h *h, void *arg);
void loop_fd_close(struct loop *l, int fd); /* stops watching fd (does not close it) */
struct tmr_heap *loop_timers(struct loop *l);
uint64_t loop_now(struct loop *l); /* monotonic ms, as of the last wake-up */
uint64_t loop_clock_ms(void);
/* Runs until loop_stop(); returns 0, or an errno from epoll. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);
void loop_free(struct loop *l);

#endif
