#include "watch.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

typedef struct dt_watch_dir {
  uv_fs_event_t handle;
  struct dt_watch_dir *next;
  dt_watch *owner;
  char *path;
} dt_watch_dir;

struct dt_watch {
  uv_timer_t timer;
  uint64_t debounce_ms;
  void (*on_change)(void *ud);
  void *ud;
  dt_watch_dir *dirs;
  size_t ndirs;
  size_t open_handles; /* handles whose close callback has not run yet */
  int stopping;
  int warned_limit;
};

static int ends_with(const char *s, const char *suffix)
{
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* Editor droppings and hidden entries: reloading for them is wasted work. */
static int ignored_name(const char *name)
{
  return name[0] == '.' || ends_with(name, "~") || ends_with(name, ".swp") ||
         ends_with(name, ".swx");
}

static char *join_path(const char *dir, const char *name)
{
  size_t dlen = strlen(dir), nlen = strlen(name);
  int slash = dlen > 0 && dir[dlen - 1] != '/';
  if (dlen > SIZE_MAX / 2 || nlen > SIZE_MAX / 2) return NULL;
  char *p = malloc(dlen + (size_t)slash + nlen + 1);
  if (!p) return NULL;
  memcpy(p, dir, dlen);
  if (slash) p[dlen] = '/';
  memcpy(p + dlen + (size_t)slash, name, nlen + 1);
  return p;
}

/* Children are checked with lstat so symlink loops are never followed. */
static int is_dir(const char *path, int follow)
{
  struct stat st;
  int rc = follow ? stat(path, &st) : lstat(path, &st);
  return rc == 0 && S_ISDIR(st.st_mode);
}

static int in_tree(const char *path, const char *top)
{
  size_t n = strlen(top);
  return strncmp(path, top, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static void release_if_done(dt_watch *w)
{
  if (w->stopping && w->open_handles == 0) free(w);
}

static void on_timer_closed(uv_handle_t *h)
{
  dt_watch *w = h->data;
  w->open_handles--;
  release_if_done(w);
}

static void on_dir_closed(uv_handle_t *h)
{
  dt_watch_dir *d = h->data;
  dt_watch *w = d->owner;
  free(d->path);
  free(d);
  w->open_handles--;
  release_if_done(w);
}

static void close_dir(dt_watch_dir *d)
{
  uv_close((uv_handle_t *)&d->handle, on_dir_closed);
}

static dt_watch_dir *find_dir(const dt_watch *w, const char *path)
{
  for (dt_watch_dir *d = w->dirs; d; d = d->next) {
    if (strcmp(d->path, path) == 0) return d;
  }
  return NULL;
}

/* Stops watching path and every directory below it. */
static void unwatch_tree(dt_watch *w, const char *path)
{
  dt_watch_dir **link = &w->dirs;
  while (*link) {
    dt_watch_dir *d = *link;
    if (in_tree(d->path, path)) {
      *link = d->next;
      w->ndirs--;
      dt_log(DT_LOG_DEBUG, "watch removed", "path", d->path, NULL);
      close_dir(d);
    } else {
      link = &d->next;
    }
  }
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status);

/* Watches one directory. Returns 0 (also when already watched), -ENOMEM, or the libuv error
 * that made it unwatchable (logged). */
static int watch_dir(dt_watch *w, const char *path)
{
  if (find_dir(w, path)) return 0;
  if (w->ndirs >= DT_WATCH_MAX_DIRS) {
    if (!w->warned_limit) {
      char max[32];
      snprintf(max, sizeof max, "%d", DT_WATCH_MAX_DIRS);
      dt_log(DT_LOG_WARN, "too many directories to watch, skipping the rest",
             "max", max, "path", path, NULL);
      w->warned_limit = 1;
    }
    return -ENOSPC;
  }
  dt_watch_dir *d = calloc(1, sizeof *d);
  if (!d) return -ENOMEM;
  d->path = strdup(path);
  int rc = d->path ? uv_fs_event_init(w->timer.loop, &d->handle) : -ENOMEM;
  if (rc < 0) {
    free(d->path);
    free(d);
    return rc;
  }
  d->owner = w;
  d->handle.data = d;
  w->open_handles++;
  rc = uv_fs_event_start(&d->handle, on_fs_event, path, 0);
  if (rc < 0) {
    dt_log(DT_LOG_WARN, "cannot watch directory", "path", path, "error", uv_strerror(rc), NULL);
    close_dir(d);
    return rc;
  }
  d->next = w->dirs;
  w->dirs = d;
  w->ndirs++;
  return 0;
}

/* Watches path and its subdirectories. Only -ENOMEM is returned; other failures are logged
 * and the affected directories skipped. */
static int watch_tree(dt_watch *w, const char *path)
{
  int rc = watch_dir(w, path);
  if (rc < 0) return rc == -ENOMEM ? rc : 0;
  DIR *dir = opendir(path);
  if (!dir) {
    dt_log(DT_LOG_WARN, "cannot list directory", "path", path, "error", strerror(errno), NULL);
    return 0;
  }
  struct dirent *e;
  while (rc == 0 && (e = readdir(dir)) != NULL) {
    if (ignored_name(e->d_name)) continue; /* also skips "." and ".." */
    if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) continue;
    char *child = join_path(path, e->d_name);
    if (!child) {
      rc = -ENOMEM;
      break;
    }
    if (is_dir(child, 0)) rc = watch_tree(w, child);
    free(child);
  }
  closedir(dir);
  return rc;
}

/* A name appeared or vanished in dir: watch a new subtree, drop a gone one. */
static void update_tree(dt_watch *w, const char *dir, const char *name)
{
  char *child = join_path(dir, name);
  if (!child) {
    dt_log(DT_LOG_ERROR, "out of memory updating watch", "path", dir, NULL);
    return;
  }
  if (is_dir(child, 0)) {
    if (watch_tree(w, child) < 0) {
      dt_log(DT_LOG_ERROR, "out of memory updating watch", "path", child, NULL);
    }
  } else {
    unwatch_tree(w, child);
  }
  free(child);
  if (!is_dir(dir, 1)) unwatch_tree(w, dir);
}

static void on_timer(uv_timer_t *t)
{
  dt_watch *w = t->data;
  w->on_change(w->ud);
}

/* d stays valid for the whole callback even if unwatched: memory goes in the close callback. */
static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
  dt_watch_dir *d = h->data;
  dt_watch *w = d->owner;
  if (status < 0) {
    dt_log(DT_LOG_WARN, "watch failed", "path", d->path, "error", uv_strerror(status), NULL);
    unwatch_tree(w, d->path);
    return;
  }
  if (filename && ignored_name(filename)) return;
  if (filename && (events & UV_RENAME)) update_tree(w, d->path, filename);
  uv_timer_start(&w->timer, on_timer, w->debounce_ms, 0); /* restarts: debounce */
}

void dt_watch_stop(dt_watch *w)
{
  if (!w || w->stopping) return;
  w->stopping = 1;
  uv_close((uv_handle_t *)&w->timer, on_timer_closed);
  while (w->dirs) {
    dt_watch_dir *d = w->dirs;
    w->dirs = d->next;
    close_dir(d);
  }
  w->ndirs = 0;
}

dt_watch *dt_watch_start(uv_loop_t *loop, const char *const *roots, size_t nroots,
                         uint64_t debounce_ms, void (*on_change)(void *ud), void *ud)
{
  if (!loop || !on_change || (nroots > 0 && !roots)) {
    dt_log(DT_LOG_ERROR, "watch: invalid arguments", NULL);
    return NULL;
  }
  dt_watch *w = calloc(1, sizeof *w);
  if (!w) {
    dt_log(DT_LOG_ERROR, "watch: out of memory", NULL);
    return NULL;
  }
  int rc = uv_timer_init(loop, &w->timer);
  if (rc < 0) {
    dt_log(DT_LOG_ERROR, "watch: cannot create timer", "error", uv_strerror(rc), NULL);
    free(w);
    return NULL;
  }
  w->timer.data = w;
  w->open_handles = 1;
  w->debounce_ms = debounce_ms;
  w->on_change = on_change;
  w->ud = ud;
  for (size_t i = 0; i < nroots; i++) {
    if (!roots[i] || !is_dir(roots[i], 1)) {
      dt_log(DT_LOG_DEBUG, "watch root skipped: not a directory",
             "path", roots[i] ? roots[i] : "", NULL);
      continue;
    }
    if (watch_tree(w, roots[i]) < 0) {
      dt_log(DT_LOG_ERROR, "watch: out of memory", "path", roots[i], NULL);
      dt_watch_stop(w);
      return NULL;
    }
  }
  return w;
}
