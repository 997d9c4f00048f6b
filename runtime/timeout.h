/* One-shot timeouts for bindings that wait: a uv timer that frees itself once it has fired
 * or been cancelled, so a waiting binding only keeps a pointer. */
#ifndef DT_TIMEOUT_H
#define DT_TIMEOUT_H

#include <stdint.h>

typedef struct dt_timeout dt_timeout;

/* Calls fn(arg) once after ms. Returns NULL if out of memory. After fn has run the timeout
 * is gone: drop the pointer in fn. */
dt_timeout *dt_timeout_start(uint64_t ms, void (*fn)(void *arg), void *arg);
/* Cancels a pending timeout: fn will not run. */
void dt_timeout_cancel(dt_timeout *t);
#endif
