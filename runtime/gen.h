/* Script generations: one sandboxed Lua state with every script loaded. A generation is held
 * by whatever runs on it (requests, later calls and WebSockets) and closed, its memory
 * returned, when the last holder lets go. */
#ifndef DT_GEN_H
#define DT_GEN_H

#include <stddef.h>
#include <stdint.h>
#include <lua.h>

#include "vm.h"

typedef struct dt_gen {
  unsigned id;
  dt_vm *vm;
  int holds;
  int dispatch_ref;     /* the router's dispatch(req) function */
  uint64_t cpu_budget_ms;
  struct dt_gen *prev, *next; /* the list of live generations */
} dt_gen;

/* Registry key of a state's dt_gen (light userdata), for bindings that hold the generation. */
#define DT_GEN_KEY "dialtone.gen"

typedef struct {
  const char *root;        /* holds lua/, providers/, scripts/ */
  size_t memory_limit;
  uint64_t cpu_budget_ms;
} dt_gen_options;

/* Builds and validates a generation: compiles every .lua file under lua/ and scripts/, loads
 * the providers (a broken provider is only left out of dialtone.telephony, see
 * lua/dialtone/providers.lua), then runs each top-level .lua file of scripts/ (in name order)
 * to register routes. Returns the generation held once, or NULL with "file:line: message". */
dt_gen *dt_gen_build(const dt_gen_options *opts, unsigned id, char *err, size_t errlen);

/* A state with the bindings but no scripts loaded, for `dialtone run`. */
dt_gen *dt_gen_bare(const dt_gen_options *opts, unsigned id, char *err, size_t errlen);

void dt_gen_hold(dt_gen *gen);
void dt_gen_release(dt_gen *gen);
/* Generations not yet closed, and the bytes their Lua states hold. */
unsigned dt_gen_live_count(void);
size_t dt_gen_live_bytes(void);
#endif
