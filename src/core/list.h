/* Intrusive doubly linked list: an element lives inside the object it links, so
 * putting an object on a list never allocates and removal is O(1). */
#ifndef CORE_LIST_H
#define CORE_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct le {
	struct le *prev, *next;
	struct list *list;
	void *data;
};

struct list {
	struct le *head, *tail;
	size_t n;
};

#define LIST_INIT { NULL, NULL, 0 }

static inline void list_append(struct list *l, struct le *le, void *data)
{
	le->data = data;
	le->list = l;
	le->next = NULL;
	le->prev = l->tail;
	if (l->tail)
		l->tail->next = le;
	else
		l->head = le;
	l->tail = le;
	l->n++;
}

/* Links le with data just before at, which is on a list. */
static inline void list_insert_before(struct le *at, struct le *le, void *data)
{
	struct list *l = at->list;
	le->data = data;
	le->list = l;
	le->next = at;
	le->prev = at->prev;
	if (at->prev)
		at->prev->next = le;
	else
		l->head = le;
	at->prev = le;
	l->n++;
}

static inline void list_unlink(struct le *le)
{
	struct list *l = le->list;
	if (!l)
		return;
	if (le->prev)
		le->prev->next = le->next;
	else
		l->head = le->next;
	if (le->next)
		le->next->prev = le->prev;
	else
		l->tail = le->prev;
	l->n--;
	le->prev = le->next = NULL;
	le->list = NULL;
}

static inline bool le_linked(const struct le *le) { return le->list != NULL; }

#define LIST_FOREACH(l, le) for (struct le *le = (l)->head; le; le = le->next)

#endif
