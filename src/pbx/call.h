/* The call engine: INVITE and the dialogs it creates. */
#ifndef PBX_CALL_H
#define PBX_CALL_H

#include "sip/stack.h"

struct call_engine;

/* Not reference counted: free with call_engine_free(). */
int call_engine_alloc(struct call_engine **cp, struct sip_stack *sip);
void call_engine_free(struct call_engine *c);

#endif
