#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "host.h"
#include "metrics.h"

static dt_http_server *server;

void dt_admin_set_server(dt_http_server *srv) { server = srv; }

static void respond(dt_http_conn *conn, int status, const char *type, const char *body, size_t len)
{
  dt_http_header h[] = { { "content-type", type }, { "cache-control", "no-store" } };
  dt_http_respond(conn, status, h, 2, body, len);
}

static void respond_json(dt_http_conn *conn, int status, const char *body)
{
  respond(conn, status, "application/json", body, strlen(body));
}

static void refresh_gauges(void)
{
  dt_metrics_gauge_set("dialtone_http_open_connections", "Open HTTP connections", NULL, 0,
                       server ? (double)dt_http_server_open_connections(server) : 0);
  dt_metrics_gauge_set("dialtone_script_generations", "Script generations not yet closed", NULL, 0,
                       (double)dt_gen_live_count());
  dt_metrics_gauge_set("dialtone_lua_memory_bytes", "Bytes held by all Lua states", NULL, 0,
                       (double)dt_gen_live_bytes());
}

static void serve_metrics(dt_http_conn *conn)
{
  refresh_gauges();
  char *text;
  size_t len;
  if (dt_metrics_render(&text, &len) != 0) {
    respond_json(conn, 500, "{\"error\":{\"code\":\"internal_error\",\"message\":\"cannot render metrics\"}}");
    return;
  }
  respond(conn, 200, "text/plain; version=0.0.4", text, len);
  free(text);
}

static void serve_status(dt_http_conn *conn)
{
  char buf[16384];
  if (dt_host_status_json(buf, sizeof buf) < 0) {
    respond_json(conn, 500, "{\"error\":{\"code\":\"internal_error\",\"message\":\"status too large\"}}");
    return;
  }
  respond_json(conn, 200, buf);
}

static void serve_reload(dt_http_conn *conn)
{
  int ok = dt_host_reload("admin") == 0;
  char buf[16384];
  if (dt_host_status_json(buf, sizeof buf) < 0) snprintf(buf, sizeof buf, "{}");
  respond_json(conn, ok ? 200 : 422, buf);
}

typedef struct {
  const char *method, *path;
  int loopback_only;
  void (*serve)(dt_http_conn *conn);
} endpoint;

static const endpoint endpoints[] = {
  { "GET", "/metrics", 0, serve_metrics },
  { "GET", "/admin/status", 1, serve_status },
  { "POST", "/admin/reload", 1, serve_reload },
};

static void serve_health(dt_http_conn *conn) { respond_json(conn, 200, "{\"status\":\"ok\"}"); }

int dt_admin_handle(dt_http_conn *conn, const dt_http_request *req)
{
  if (strcmp(req->path, "/healthz") == 0 && (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD"))) {
    serve_health(conn);
    return 1;
  }
  for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++) {
    const endpoint *e = &endpoints[i];
    if (strcmp(req->path, e->path) != 0) continue;
    if (e->loopback_only && !req->peer_is_loopback) {
      respond_json(conn, 403, "{\"error\":{\"code\":\"forbidden\",\"message\":\"admin endpoints accept loopback clients only\"}}");
    } else if (strcmp(req->method, e->method) != 0 && !(strcmp(e->method, "GET") == 0 && strcmp(req->method, "HEAD") == 0)) {
      dt_http_header h[] = { { "content-type", "application/json" }, { "allow", e->method } };
      static const char body[] = "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"method not allowed\"}}";
      dt_http_respond(conn, 405, h, 2, body, sizeof body - 1);
    } else {
      e->serve(conn);
    }
    return 1;
  }
  return 0;
}
