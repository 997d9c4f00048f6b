/* The C API of the HTTP client: option checks, a transport error through the loop, and a
 * shutdown that aborts a request in flight and lets the loop end. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "http_client.h"
#include "testlib.h"

typedef struct {
  int calls;
  char error[128];
  dt_http_client_req *req;
} outcome;

static void on_done(dt_http_client_req *req, void *ud)
{
  outcome *o = ud;
  const dt_http_client_response *res = dt_http_client_result(req);
  o->calls++;
  snprintf(o->error, sizeof o->error, "%s", res->error ? res->error : "");
  dt_http_client_free(req);
}

/* A loopback listener that never accepts: connections complete, no answer ever comes. */
static int silent_listener(int *port)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 8) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0)
    return -1;
  *port = ntohs(a.sin_port);
  return fd;
}

static dt_http_client_opts opts(const char *method, const char *url)
{
  dt_http_client_opts o = { 0 };
  o.method = method;
  o.url = url;
  o.timeout_ms = 5000;
  o.max_response = 1024;
  return o;
}

static void test_invalid_options(void)
{
  char err[128];
  dt_http_client_req *req = NULL;
  outcome out = { 0 };
  dt_http_client_opts o = opts("GET", "ftp://127.0.0.1/");
  CHECK_EQ_INT(dt_http_client_start(&o, on_done, &out, &req, err, sizeof err), -EINVAL);
  CHECK_EQ_STR(err, "url must start with http:// or https://");
  o = opts("GE T", "http://127.0.0.1/");
  CHECK_EQ_INT(dt_http_client_start(&o, on_done, &out, &req, err, sizeof err), -EINVAL);
  dt_http_client_header h = { "x-a", "1\r\nx-b: 2" };
  o = opts("GET", "http://127.0.0.1/");
  o.headers = &h;
  o.nheaders = 1;
  CHECK_EQ_INT(dt_http_client_start(&o, on_done, &out, &req, err, sizeof err), -EINVAL);
  o = opts("GET", "http://127.0.0.1/");
  o.timeout_ms = 0;
  CHECK_EQ_INT(dt_http_client_start(&o, on_done, &out, &req, err, sizeof err), -EINVAL);
  CHECK_EQ_INT(out.calls, 0);
}

static void test_connection_refused(void)
{
  int port, fd = silent_listener(&port);
  CHECK(fd >= 0);
  close(fd); /* nothing listens there any more */
  char url[64], err[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
  dt_http_client_opts o = opts("GET", url);
  outcome out = { 0 };
  CHECK_EQ_INT(dt_http_client_start(&o, on_done, &out, &out.req, err, sizeof err), 0);
  CHECK_EQ_INT(out.calls, 0); /* never from inside start */
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  CHECK_EQ_INT(out.calls, 1);
  CHECK_EQ_STR(out.error, "connection refused");
}

static void on_shutdown_timer(uv_timer_t *t)
{
  uv_close((uv_handle_t *)t, NULL);
  dt_http_client_shutdown();
}

static void test_shutdown_aborts_in_flight(void)
{
  int port, fd = silent_listener(&port);
  CHECK(fd >= 0);
  char url[64], err[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
  dt_http_client_opts o = opts("POST", url);
  o.body = "x";
  o.body_len = 1;
  outcome out = { 0 };
  CHECK_EQ_INT(dt_http_client_start(&o, on_done, &out, &out.req, err, sizeof err), 0);
  uv_timer_t t;
  uv_timer_init(uv_default_loop(), &t);
  uv_timer_start(&t, on_shutdown_timer, 100, 0);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  CHECK_EQ_INT(out.calls, 1);
  CHECK_EQ_STR(out.error, "shutting down");
  o = opts("GET", url);
  CHECK(dt_http_client_start(&o, on_done, &out, &out.req, err, sizeof err) < 0);
  CHECK_EQ_STR(err, "shutting down");
  CHECK_EQ_INT(uv_loop_close(uv_default_loop()), 0);
  close(fd);
}

TEST_MAIN(TEST(test_invalid_options), TEST(test_connection_refused), TEST(test_shutdown_aborts_in_flight))
