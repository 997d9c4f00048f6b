/* `dialtone org create NAME`, `org list`, `key rotate ORG`, `workflow add ORG NAME FLOW`: the
 * organisations, API keys and workflows in <data_dir>/dialtone.db. Bad input is one line on
 * stderr and exit status 1 (2 for a malformed command line). */
#include "commands.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>

#include "clock.h"
#include "store.h"

static int usage_error(const char *what)
{
  fprintf(stderr, "dialtone: usage: %s\n", what);
  return 2;
}

/* Opens the data directory's database. Only `org create` may start a new one: for the other
 * commands a missing database means the wrong data directory, said as such, and none is made. */
static dt_store *open_store(const dt_config *cfg, const char *cmd, int may_create)
{
  char err[4096], path[PATH_MAX];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", cfg->data_dir, DT_STORE_FILE);
  if (!may_create && stat(path, &st) != 0) {
    fprintf(stderr, "dialtone %s: no database at %s (`dialtone org create` or `dialtone serve` makes one; "
                    "--data-dir chooses the directory)\n", cmd, path);
    return NULL;
  }
  dt_store *s = NULL;
  if (dt_store_open_data_dir(cfg->data_dir, &s, err, sizeof err) != 0) fprintf(stderr, "dialtone %s: %s\n", cmd, err);
  return s;
}

/* Prints a key that is shown this once, then wipes it. */
static void print_key(char key[DT_API_KEY_LEN + 1])
{
  printf("api_key %s\n", key);
  fflush(stdout);
  OPENSSL_cleanse(key, DT_API_KEY_LEN + 1);
}

static int org_create(dt_store *s, const char *name)
{
  dt_store_org org;
  char key[DT_API_KEY_LEN + 1];
  int rc = dt_store_org_create(s, name, strlen(name), dt_wall_clock(), &org, key);
  if (rc == DT_STORE_EXISTS) fprintf(stderr, "dialtone org create: an organisation called '%s' exists\n", name);
  else if (rc == DT_STORE_INVALID)
    fprintf(stderr, "dialtone org create: the name must be 1..%d characters, no control characters\n", DT_STORE_MAX_NAME);
  else if (rc != DT_STORE_OK) fprintf(stderr, "dialtone org create: %s\n", dt_store_error(s));
  if (rc != DT_STORE_OK) return 1;
  printf("organization %s %s\n", org.id, org.name);
  print_key(key);
  return 0;
}

static int print_org(void *ud, const dt_store_org *org)
{
  (void)ud;
  char when[32];
  time_t t = (time_t)org->created_at;
  struct tm tm;
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
  printf("%s\t%s\t%s\n", org->id, org->name, when);
  return 0;
}

static int org_list(dt_store *s)
{
  if (dt_store_orgs_list(s, print_org, NULL) == DT_STORE_OK) return 0;
  fprintf(stderr, "dialtone org list: %s\n", dt_store_error(s));
  return 1;
}

/* The organisation named by an id or a name; prints why not and returns nonzero. */
static int find_org(dt_store *s, const char *cmd, const char *which, dt_store_org *org)
{
  int rc = dt_store_org_find(s, which, strlen(which), org);
  if (rc == DT_STORE_NOT_FOUND) fprintf(stderr, "dialtone %s: no organisation '%s'\n", cmd, which);
  else if (rc != DT_STORE_OK) fprintf(stderr, "dialtone %s: %s\n", cmd, dt_store_error(s));
  return rc;
}

static int key_rotate(dt_store *s, const char *which)
{
  dt_store_org org;
  char key[DT_API_KEY_LEN + 1];
  if (find_org(s, "key rotate", which, &org) != DT_STORE_OK) return 1;
  if (dt_store_key_rotate(s, org.id, strlen(org.id), dt_wall_clock(), key) != DT_STORE_OK) {
    fprintf(stderr, "dialtone key rotate: %s\n", dt_store_error(s));
    return 1;
  }
  print_key(key);
  return 0;
}

/* 0 when scripts/workflows/<flow>.lua is a file under the script root. */
static int flow_exists(const char *script_root, const char *flow)
{
  char path[PATH_MAX];
  struct stat st;
  return snprintf(path, sizeof path, "%s/scripts/workflows/%s.lua", script_root, flow) < (int)sizeof path &&
         stat(path, &st) == 0 && S_ISREG(st.st_mode) ? 0 : -1;
}

static int workflow_add(dt_store *s, const char *script_root, char **pos)
{
  static const char cmd[] = "workflow add";
  dt_store_org org;
  const char *name = pos[1], *flow = pos[2];
  if (!dt_store_valid_flow(flow, strlen(flow))) {
    fprintf(stderr, "dialtone %s: FLOW must be 1..%d characters of [A-Za-z0-9_], not '%s'\n", cmd, DT_STORE_MAX_FLOW, flow);
    return 1;
  }
  if (flow_exists(script_root, flow) != 0) {
    fprintf(stderr, "dialtone %s: no flow '%s': %s/scripts/workflows/%s.lua does not exist\n", cmd, flow, script_root, flow);
    return 1;
  }
  if (find_org(s, cmd, pos[0], &org) != DT_STORE_OK) return 1;
  char id[DT_STORE_ID_SIZE];
  dt_store_str none = { NULL, 0 };
  int rc = dt_store_workflow_create(s, org.id, strlen(org.id), (dt_store_str){ name, strlen(name) },
                                    (dt_store_str){ flow, strlen(flow) }, none, dt_wall_clock(), id);
  if (rc == DT_STORE_EXISTS) fprintf(stderr, "dialtone %s: %s has a workflow called '%s'\n", cmd, org.name, name);
  else if (rc != DT_STORE_OK) fprintf(stderr, "dialtone %s: %s\n", cmd, dt_store_error(s));
  if (rc != DT_STORE_OK) return 1;
  printf("%s\n", id);
  return 0;
}

/* Checks the command line before the store is opened: 0, or the exit status. */
static int check_args(const char *cmd, char **pos, int npos)
{
  const char *sub = npos > 0 ? pos[0] : "";
  if (!strcmp(cmd, "org") && !strcmp(sub, "create")) return npos == 2 ? 0 : usage_error("dialtone org create NAME");
  if (!strcmp(cmd, "org") && !strcmp(sub, "list")) return npos == 1 ? 0 : usage_error("dialtone org list");
  if (!strcmp(cmd, "org")) return usage_error("dialtone org create NAME | dialtone org list");
  if (!strcmp(cmd, "key")) return !strcmp(sub, "rotate") && npos == 2 ? 0 : usage_error("dialtone key rotate ORG");
  return !strcmp(sub, "add") && npos == 4 ? 0 : usage_error("dialtone workflow add ORG NAME FLOW");
}

int dt_cmd_org(const dt_config *cfg, const char *script_root, const char *cmd, char **pos, int npos)
{
  int rc = check_args(cmd, pos, npos);
  if (rc != 0) return rc;
  char full[32];
  snprintf(full, sizeof full, "%s %s", cmd, pos[0]);
  dt_store *s = open_store(cfg, full, !strcmp(cmd, "org") && !strcmp(pos[0], "create"));
  if (!s) return 1;
  if (!strcmp(cmd, "org")) rc = !strcmp(pos[0], "create") ? org_create(s, pos[1]) : org_list(s);
  else if (!strcmp(cmd, "key")) rc = key_rotate(s, pos[1]);
  else rc = workflow_add(s, script_root, pos + 1);
  dt_store_close(s);
  return rc;
}
