#include "ws_response.h"

#include <stdio.h>
#include <string.h>

#include "testlib.h"

/* Parses a copy of text (the parser writes into its buffer). */
static int parse(const char *text, char *buf, size_t cap, dt_ws_upgrade_response *res)
{
  size_t len = strlen(text);
  if (len >= cap) return -99;
  memcpy(buf, text, len + 1);
  return dt_ws_response_parse(buf, len, res);
}

static const char GOOD[] =
  "HTTP/1.1 101 Switching Protocols\r\n"
  "Upgrade: websocket\r\n"
  "connection:Upgrade  \r\n"
  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
  "Sec-WebSocket-Protocol: chat\r\n"
  "X-Other: ignored\r\n"
  "\r\n";

static void test_complete_response(void)
{
  char buf[1024];
  dt_ws_upgrade_response r;
  CHECK_EQ_INT(parse(GOOD, buf, sizeof buf, &r), (int)strlen(GOOD));
  CHECK_EQ_INT(r.status, 101);
  CHECK_EQ_STR(r.upgrade, "websocket");
  CHECK_EQ_STR(r.connection, "Upgrade");
  CHECK_EQ_STR(r.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK_EQ_STR(r.protocol, "chat");
  CHECK(r.extensions == NULL);
  const char *err = NULL;
  CHECK_EQ_INT(dt_ws_client_verify(&r, "dGhlIHNhbXBsZSBub25jZQ==", "chat, superchat", &err), 0);
}

static void test_frames_after_head_are_left(void)
{
  char text[1024], buf[1024];
  snprintf(text, sizeof text, "%s\x81\x05Hello", GOOD);
  dt_ws_upgrade_response r;
  CHECK_EQ_INT(parse(text, buf, sizeof buf, &r), (int)strlen(GOOD));
}

static void test_incomplete(void)
{
  char buf[1024];
  dt_ws_upgrade_response r;
  for (size_t n = 0; n < strlen(GOOD); n++) {
    memcpy(buf, GOOD, n);
    CHECK_EQ_INT(dt_ws_response_parse(buf, n, &r), 0);
  }
}

static void test_malformed(void)
{
  static const char *const bad[] = {
    "HTTP/2 101 Switching\r\n\r\n",
    "HTTP/1.1 1010 Switching\r\n\r\n",
    "HTTP/1.1 10 Switching\r\n\r\n",
    "HTTP/1.1 101x\r\n\r\n",
    "ICY 200 OK\r\n\r\n",
    "HTTP/1.1 101 OK\r\nNo colon here\r\n\r\n",
    "HTTP/1.1 101 OK\r\n: empty name\r\n\r\n",
    "HTTP/1.1 101 OK\r\nBad Name: x\r\n\r\n",
    "HTTP/1.1 101 OK\r\n folded: x\r\n\r\n",
    "HTTP/1.1 101 OK\r\nUpgrade: websocket\nConnection: Upgrade\r\n\r\n",
    "HTTP/1.1 101 OK\r\nUpgrade: a\x01b\r\n\r\n",
    "HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: a\r\nsec-websocket-accept: b\r\n\r\n",
    "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nUPGRADE: websocket\r\n\r\n",
  };
  char buf[256];
  dt_ws_upgrade_response r;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = parse(bad[i], buf, sizeof buf, &r);
    if (rc != -1) fprintf(stderr, "  accepted: %s\n", bad[i]);
    CHECK_EQ_INT(rc, -1);
  }
}

static void test_nul_byte(void)
{
  char buf[] = "HTTP/1.1 101 OK\r\nUpgrade: web\0socket\r\n\r\n";
  dt_ws_upgrade_response r;
  CHECK_EQ_INT(dt_ws_response_parse(buf, sizeof buf - 1, &r), -1);
}

static void test_other_status(void)
{
  char buf[256];
  dt_ws_upgrade_response r;
  CHECK(parse("HTTP/1.0 403\r\nContent-Length: 0\r\n\r\n", buf, sizeof buf, &r) > 0);
  CHECK_EQ_INT(r.status, 403);
  const char *err = NULL;
  CHECK_EQ_INT(dt_ws_client_verify(&r, "dGhlIHNhbXBsZSBub25jZQ==", NULL, &err), DT_WS_HS_ESTATUS);
}

TEST_MAIN(TEST(test_complete_response), TEST(test_frames_after_head_are_left), TEST(test_incomplete),
          TEST(test_malformed), TEST(test_nul_byte), TEST(test_other_status))
