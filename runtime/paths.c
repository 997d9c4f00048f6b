#include "paths.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The directory of the running binary, or "" if unknown. */
static void exe_dir(char *out, size_t size)
{
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  out[0] = '\0';
  if (n <= 0) return;
  exe[n] = '\0';
  snprintf(out, size, "%s", dirname(exe));
}

/* From the build tree: the source tree's scripts. Installed: <prefix>/share/dialtone beside
 * <prefix>/bin, so an installation can be moved; else the configured install location. */
static void default_root(char *out, size_t size)
{
  char dir[PATH_MAX], build[PATH_MAX], installed[PATH_MAX + 32];
  exe_dir(dir, sizeof dir);
  if (*dir && realpath(DT_BUILD_DIR, build) && strcmp(dir, build) == 0) {
    snprintf(out, size, "%s", DT_SOURCE_DIR);
    return;
  }
  snprintf(installed, sizeof installed, "%s/../share/dialtone", dir);
  const char *root = *dir && access(installed, R_OK) == 0 ? installed : DT_INSTALL_DATADIR;
  if (snprintf(out, size, "%s", root) >= (int)size) out[0] = '\0';
}

static int has_runtime_library(const char *root)
{
  char probe[PATH_MAX + 32];
  struct stat st;
  if (snprintf(probe, sizeof probe, "%s/lua/dialtone/router.lua", root) >= (int)sizeof probe) return 0;
  return stat(probe, &st) == 0;
}

int dt_paths_script_root(const char *configured, char *out, size_t size, char *err, size_t errlen)
{
  char fallback[PATH_MAX];
  const char *root = configured;
  if (!root || !*root) {
    default_root(fallback, sizeof fallback);
    root = fallback;
  }
  char resolved[PATH_MAX];
  if (!realpath(root, resolved) || !has_runtime_library(resolved)) {
    snprintf(err, errlen, "no dialtone scripts in %s (expected lua/dialtone/router.lua there); "
             "set script_dir to the directory holding lua/, providers/ and scripts/", root);
    return -1;
  }
  if (snprintf(out, size, "%s", resolved) >= (int)size) {
    snprintf(err, errlen, "script directory path too long");
    return -1;
  }
  return 0;
}

int dt_paths_mkdirs(const char *path)
{
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}
