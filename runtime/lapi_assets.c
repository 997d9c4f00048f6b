/* dialtone.assets: files shipped with the scripts (the OpenAPI document, the web UI).
 *
 *   read(path) -> text, or nil, err. path is relative to <script root>/scripts/: no leading
 *     "/", no ".." component, no NUL; a regular file of at most 4 MiB that stays inside
 *     scripts/ once symbolic links are resolved. err is "not found" when there is no such file.
 *   read_file(path) -> text, or nil, err: any regular file of at most 4 MiB, the path as given.
 *     Only in `dialtone run` (dt_lapi_assets_allow_files): its script is the user's own command. */
#include "lapi.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm.h"

#define MAX_ASSET ((size_t)4 << 20)
#define MAX_ASSET_PATH 1024

static int fail(lua_State *L, const char *msg)
{
  lua_pushnil(L);
  lua_pushstring(L, msg);
  return 2;
}

/* 1 when path is relative and has no empty, "." or ".." component. */
static int safe_path(const char *path, size_t len)
{
  if (len == 0 || len > MAX_ASSET_PATH || memchr(path, '\0', len) || path[0] == '/') return 0;
  for (const char *p = path, *end = path + len; p <= end;) {
    const char *slash = memchr(p, '/', (size_t)(end - p));
    size_t n = (size_t)((slash ? slash : end) - p);
    if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return 0;
    if (!slash) break;
    p = slash + 1;
  }
  return 1;
}

/* Resolves path under root/scripts into out; -1 (errno set) when it cannot be resolved or
 * lands outside. */
static int resolve(const char *root, const char *path, char out[PATH_MAX])
{
  char scripts[PATH_MAX], joined[PATH_MAX + MAX_ASSET_PATH + 16];
  snprintf(joined, sizeof joined, "%s/scripts", root);
  if (!realpath(joined, scripts)) return -1;
  snprintf(joined, sizeof joined, "%s/%s", scripts, path);
  if (!realpath(joined, out)) return -1;
  size_t n = strlen(scripts);
  if (strncmp(out, scripts, n) != 0 || out[n] != '/') {
    errno = EACCES;
    return -1;
  }
  return 0;
}

static int push_contents(lua_State *L, int fd)
{
  struct stat st;
  if (fstat(fd, &st) != 0) return fail(L, strerror(errno));
  if (!S_ISREG(st.st_mode)) return fail(L, "not a file");
  if ((size_t)st.st_size > MAX_ASSET) return fail(L, "larger than 4 MiB");
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  char chunk[8192];
  size_t total = 0;
  ssize_t n;
  while ((n = read(fd, chunk, sizeof chunk)) > 0 && (total += (size_t)n) <= MAX_ASSET) luaL_addlstring(&b, chunk, (size_t)n);
  luaL_pushresult(&b);
  if (n < 0) return fail(L, strerror(errno));
  if (total > MAX_ASSET) return fail(L, "larger than 4 MiB");
  return 1;
}

static int l_read(lua_State *L)
{
  size_t len;
  if (lua_type(L, 1) != LUA_TSTRING)
    return luaL_error(L, "dialtone.assets.read: path must be a string, not %s", luaL_typename(L, 1));
  const char *path = lua_tolstring(L, 1, &len);
  if (!safe_path(path, len)) return fail(L, "path must be relative to scripts/, without '..'");
  char full[PATH_MAX];
  if (resolve(dt_vm_from(L)->root, path, full) != 0)
    return fail(L, errno == ENOENT || errno == ENOTDIR ? "not found" : strerror(errno));
  int fd = open(full, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(L, errno == ENOENT ? "not found" : strerror(errno));
  int rc = push_contents(L, fd);
  close(fd);
  return rc;
}

static int l_read_file(lua_State *L)
{
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  if (len == 0 || memchr(path, '\0', len)) return fail(L, "not found");
  /* O_NONBLOCK: opening a FIFO must not hang; push_contents refuses anything but a file. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return fail(L, errno == ENOENT || errno == ENOTDIR ? "not found" : strerror(errno));
  int rc = push_contents(L, fd);
  close(fd);
  return rc;
}

void dt_lapi_assets_allow_files(lua_State *L)
{
  lua_getglobal(L, "dialtone");
  lua_getfield(L, -1, "assets");
  lua_pushcfunction(L, l_read_file);
  lua_setfield(L, -2, "read_file");
  lua_pop(L, 2);
}

int dt_lapi_assets_open(lua_State *L)
{
  static const luaL_Reg fns[] = { { "read", l_read }, { NULL, NULL } };
  lua_newtable(L);
  luaL_register(L, NULL, fns);
  return 1;
}
