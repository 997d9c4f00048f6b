#include "ws_handshake.h"

#include <string.h>

#include "testlib.h"

static dt_ws_upgrade_request good_request(void)
{
  dt_ws_upgrade_request r = {
    .method = "GET", .http_major = 1, .http_minor = 1, .host = "example.com",
    .upgrade = "websocket", .connection = "Upgrade", .key = "dGhlIHNhbXBsZSBub25jZQ==",
    .version = "13",
  };
  return r;
}

static int status_of(const dt_ws_upgrade_request *r)
{
  dt_ws_upgrade_result res;
  int rc = dt_ws_server_handshake(r, NULL, 0, &res);
  CHECK((rc == 0) == (res.status == 101));
  CHECK((rc == 0) == (res.error == NULL));
  return res.status;
}

static void test_rfc_vector(void)
{
  char out[DT_WS_ACCEPT_LEN + 1];
  CHECK_EQ_INT(dt_ws_accept_value("dGhlIHNhbXBsZSBub25jZQ==", 24, out), 0);
  CHECK_EQ_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  dt_ws_upgrade_request r = good_request();
  dt_ws_upgrade_result res;
  CHECK_EQ_INT(dt_ws_server_handshake(&r, NULL, 0, &res), 0);
  CHECK_EQ_INT(res.status, 101);
  CHECK_EQ_STR(res.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK(res.protocol == NULL);
  char head[256];
  int n = dt_ws_server_response(&res, head, sizeof head);
  CHECK_EQ_STR(head, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
  CHECK_EQ_INT(n, strlen(head));
  CHECK_EQ_INT(dt_ws_server_response(&res, head, (size_t)n), -1);
}

static void test_version(void)
{
  const char *bad[] = { "8", "12", "14", "", "13, 8", "1 3", NULL };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    dt_ws_upgrade_request r = good_request();
    r.version = bad[i];
    dt_ws_upgrade_result res;
    CHECK_EQ_INT(dt_ws_server_handshake(&r, NULL, 0, &res), DT_WS_HS_EVERSION);
    CHECK_EQ_INT(res.status, 426);
  }
  dt_ws_upgrade_request r = good_request();
  r.version = " 13 ";
  CHECK_EQ_INT(status_of(&r), 101);
}

static void test_key(void)
{
  const char *bad[] = {
    NULL, "", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ===",
    "dGhlIHNhbXBsZSBub25jZQ==x", "dGhlIHNhbXBsZSBub25j", "dGhlIHNhbXBsZSBub25jZR==",
    "dGhlIHNhbXBsZSBub25j!Q==", "dGhlIHNhbXBsZSBub25jZQ$=", "dGhlIHNhbXBsZSBub25jZWU=",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    dt_ws_upgrade_request r = good_request();
    r.key = bad[i];
    dt_ws_upgrade_result res;
    CHECK_EQ_INT(dt_ws_server_handshake(&r, NULL, 0, &res), DT_WS_HS_EKEY);
    CHECK_EQ_INT(res.status, 400);
  }
}

static void test_request_line_and_headers(void)
{
  dt_ws_upgrade_request r = good_request();
  r.method = "POST";
  CHECK_EQ_INT(status_of(&r), 400);
  r = good_request();
  r.http_minor = 0;
  CHECK_EQ_INT(status_of(&r), 400);
  r = good_request();
  r.http_major = 0;
  r.http_minor = 0; /* unknown: not checked */
  CHECK_EQ_INT(status_of(&r), 101);
  r = good_request();
  r.host = NULL;
  CHECK_EQ_INT(status_of(&r), 400);
  const char *bad_upgrade[] = { NULL, "", "h2c", "websockets", "web socket" };
  for (size_t i = 0; i < sizeof bad_upgrade / sizeof *bad_upgrade; i++) {
    r = good_request();
    r.upgrade = bad_upgrade[i];
    CHECK_EQ_INT(status_of(&r), 400);
  }
  const char *bad_conn[] = { NULL, "", "keep-alive", "close", "upgrades", "keep-alive upgrade" };
  for (size_t i = 0; i < sizeof bad_conn / sizeof *bad_conn; i++) {
    r = good_request();
    r.connection = bad_conn[i];
    CHECK_EQ_INT(status_of(&r), 400);
  }
  const char *conn[] = { "keep-alive, Upgrade", "upgrade", "UPGRADE", "Upgrade,keep-alive",
                         " , keep-alive ,\tUpgrade\t, " };
  for (size_t i = 0; i < sizeof conn / sizeof *conn; i++) {
    r = good_request();
    r.connection = conn[i];
    CHECK_EQ_INT(status_of(&r), 101);
  }
  r = good_request();
  r.upgrade = "WebSocket";
  CHECK_EQ_INT(status_of(&r), 101);
  r.upgrade = "h2c, websocket";
  CHECK_EQ_INT(status_of(&r), 101);
}

static void test_subprotocol(void)
{
  const char *supported[] = { "audio.v2", "audio.v1" };
  CHECK(dt_ws_select_protocol(NULL, supported, 2) == NULL);
  CHECK(dt_ws_select_protocol("chat", supported, 2) == NULL);
  CHECK(dt_ws_select_protocol("Audio.v1", supported, 2) == NULL); /* exact match only */
  CHECK(dt_ws_select_protocol("audio.v1", supported, 2) == supported[1]);
  CHECK(dt_ws_select_protocol("chat, audio.v1 ,audio.v2", supported, 2) == supported[1]);
  CHECK(dt_ws_select_protocol("audio.v", supported, 2) == NULL);
  CHECK(dt_ws_select_protocol("audio.v1", NULL, 0) == NULL);

  dt_ws_upgrade_request r = good_request();
  r.protocol = "chat, audio.v2";
  dt_ws_upgrade_result res;
  CHECK_EQ_INT(dt_ws_server_handshake(&r, supported, 2, &res), 0);
  CHECK_EQ_STR(res.protocol, "audio.v2");
  char head[256];
  CHECK(dt_ws_server_response(&res, head, sizeof head) > 0);
  CHECK(strstr(head, "\r\nSec-WebSocket-Protocol: audio.v2\r\n\r\n") != NULL);
  r.protocol = "chat";
  CHECK_EQ_INT(dt_ws_server_handshake(&r, supported, 2, &res), 0);
  CHECK(res.protocol == NULL);
}

static dt_ws_upgrade_response good_response(void)
{
  dt_ws_upgrade_response r = { .status = 101, .upgrade = "websocket", .connection = "Upgrade",
                               .accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" };
  return r;
}

static int verify(const dt_ws_upgrade_response *r, const char *offered)
{
  const char *err = "unset";
  int rc = dt_ws_client_verify(r, "dGhlIHNhbXBsZSBub25jZQ==", offered, &err);
  CHECK((rc == 0) == (err == NULL));
  return rc;
}

static void test_client_verify(void)
{
  dt_ws_upgrade_response r = good_response();
  CHECK_EQ_INT(verify(&r, NULL), 0);
  r.accept = " s3pPLMBiTxaQ9kYGzzhZRbK+xOo= ";
  r.upgrade = "WebSocket";
  r.connection = "keep-alive, upgrade";
  r.extensions = "";
  CHECK_EQ_INT(verify(&r, NULL), 0);
  r = good_response();
  r.status = 200;
  CHECK_EQ_INT(verify(&r, NULL), DT_WS_HS_ESTATUS);
  r = good_response();
  r.upgrade = NULL;
  CHECK_EQ_INT(verify(&r, NULL), DT_WS_HS_EUPGRADE);
  r = good_response();
  r.connection = "close";
  CHECK_EQ_INT(verify(&r, NULL), DT_WS_HS_ECONNECTION);
  const char *bad_accept[] = { NULL, "", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo", "S3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                               "dGhlIHNhbXBsZSBub25jZQ==" };
  for (size_t i = 0; i < sizeof bad_accept / sizeof *bad_accept; i++) {
    r = good_response();
    r.accept = bad_accept[i];
    CHECK_EQ_INT(verify(&r, NULL), DT_WS_HS_EACCEPT);
  }
  r = good_response();
  r.protocol = "audio.v1";
  CHECK_EQ_INT(verify(&r, NULL), DT_WS_HS_EPROTOCOL);
  CHECK_EQ_INT(verify(&r, "chat"), DT_WS_HS_EPROTOCOL);
  CHECK_EQ_INT(verify(&r, "chat, audio.v1"), 0);
  r.protocol = "audio.v1 ";
  CHECK_EQ_INT(verify(&r, "chat, audio.v1"), 0);
  r.protocol = "chat, audio.v1";
  CHECK_EQ_INT(verify(&r, "chat, audio.v1"), DT_WS_HS_EPROTOCOL);
  r.protocol = "audio";
  CHECK_EQ_INT(verify(&r, "chat, audio.v1"), DT_WS_HS_EPROTOCOL);
  r = good_response();
  r.extensions = "permessage-deflate";
  CHECK_EQ_INT(verify(&r, NULL), DT_WS_HS_EEXTENSION);
}

/* A generated key passes the server's checks, and the server's answer passes the client's. */
static void test_client_key_roundtrip(void)
{
  char k1[DT_WS_KEY_LEN + 1], k2[DT_WS_KEY_LEN + 1];
  CHECK_EQ_INT(dt_ws_client_key(k1), 0);
  CHECK_EQ_INT(dt_ws_client_key(k2), 0);
  CHECK_EQ_INT(strlen(k1), DT_WS_KEY_LEN);
  CHECK(strcmp(k1, k2) != 0);
  dt_ws_upgrade_request r = good_request();
  r.key = k1;
  r.protocol = "a, b";
  const char *supported[] = { "b" };
  dt_ws_upgrade_result res;
  CHECK_EQ_INT(dt_ws_server_handshake(&r, supported, 1, &res), 0);
  dt_ws_upgrade_response resp = { .status = 101, .upgrade = "websocket", .connection = "Upgrade",
                                  .accept = res.accept, .protocol = res.protocol };
  const char *err;
  CHECK_EQ_INT(dt_ws_client_verify(&resp, k1, "a, b", &err), 0);
  CHECK_EQ_INT(dt_ws_client_verify(&resp, k2, "a, b", &err), DT_WS_HS_EACCEPT);
}

TEST_MAIN(TEST(test_rfc_vector), TEST(test_version), TEST(test_key),
          TEST(test_request_line_and_headers), TEST(test_subprotocol), TEST(test_client_verify),
          TEST(test_client_key_roundtrip))
