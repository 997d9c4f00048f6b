/* One sandboxed LuaJIT state: a memory-capped allocator, a restricted standard library,
 * strict globals, `require` over the script roots, and chunks loaded with the JIT off so the
 * CPU-budget hook (sched.c) always fires. */
#ifndef DT_VM_H
#define DT_VM_H

#include <stddef.h>
#include <lua.h>

typedef struct dt_vm {
  lua_State *L;
  size_t used;          /* bytes currently allocated by this state */
  size_t limit;         /* allocation beyond this fails */
  int limit_hit;        /* set when an allocation was refused; cleared by the scheduler */
  char root[1024];      /* directory holding lua/, providers/, scripts/ */
} dt_vm;

/* Creates the state with the sandboxed library. Returns NULL if out of memory. */
dt_vm *dt_vm_new(const char *root, size_t memory_limit);
void dt_vm_free(dt_vm *vm);
dt_vm *dt_vm_from(lua_State *L);

/* Loads a Lua source file (text only) as a function with the JIT off; pushes it and returns
 * 0, or pushes "file:line: message" and returns nonzero. */
int dt_vm_loadfile(lua_State *L, const char *path);
/* Turns strict globals on: from then on, reading or writing an unknown global raises. */
void dt_vm_seal_globals(lua_State *L);
#endif
