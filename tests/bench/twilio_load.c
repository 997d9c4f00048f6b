/* Load tool: N concurrent WebSockets speaking the carrier side of Twilio Media Streams
 * (connected, start, then one 160-byte mu-law media frame every 20 ms per call, phase-shifted
 * across calls, then stop) against a dialtone echo workflow. Each echoed media frame is matched
 * in order to the frame it answers, giving its round-trip latency.
 *
 * usage: twilio_load HOST PORT PATH CALLS SECONDS
 * It prints one line of figures: frames sent/received/lost, p50/p99/max latency.
 *
 * To keep the tool from being the bottleneck, every frame is encoded and masked once at start
 * and reused; per frame it does one write() and a scan of what comes back. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"

#define FRAME_MS 20
#define MAX_INFLIGHT 256 /* send timestamps remembered per call */

typedef struct {
  int fd;
  int open;           /* handshake done */
  uint64_t next_send; /* ns */
  uint64_t sent, received;
  uint64_t send_ns[MAX_INFLIGHT];
  char in[65536];
  size_t in_len;
} call;

static uint64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A masked client text frame for payload (mask key fixed: the server does not care). */
static size_t ws_frame(const char *payload, size_t len, unsigned char *out)
{
  static const unsigned char key[4] = { 0x12, 0x34, 0x56, 0x78 };
  size_t n = 0;
  out[n++] = 0x81;
  if (len < 126) {
    out[n++] = (unsigned char)(0x80 | len);
  } else {
    out[n++] = 0x80 | 126;
    out[n++] = (unsigned char)(len >> 8);
    out[n++] = (unsigned char)len;
  }
  memcpy(out + n, key, 4);
  n += 4;
  for (size_t i = 0; i < len; i++) out[n + i] = (unsigned char)payload[i] ^ key[i & 3];
  return n + len;
}

typedef struct {
  unsigned char connected[256], start[1024], media[1024], stop[512];
  size_t connected_len, start_len, media_len, stop_len;
} frames;

static void build_frames(frames *f)
{
  unsigned char ulaw[160];
  for (int i = 0; i < 160; i++) ulaw[i] = (unsigned char)(0x80 + (i % 16)); /* a quiet varying signal */
  char b64[256];
  size_t b64_len;
  dt_base64_encode(ulaw, sizeof ulaw, b64, sizeof b64, DT_BASE64_STD, &b64_len);
  char text[1024];
  int n = snprintf(text, sizeof text, "{\"event\":\"connected\",\"protocol\":\"Call\",\"version\":\"1.0.0\"}");
  f->connected_len = ws_frame(text, (size_t)n, f->connected);
  n = snprintf(text, sizeof text,
               "{\"event\":\"start\",\"sequenceNumber\":\"1\",\"start\":{\"accountSid\":\"AC00\",\"streamSid\":\"MZ00\","
               "\"callSid\":\"CA00\",\"tracks\":[\"inbound\"],\"customParameters\":{},\"mediaFormat\":"
               "{\"encoding\":\"audio/x-mulaw\",\"sampleRate\":8000,\"channels\":1}},\"streamSid\":\"MZ00\"}");
  f->start_len = ws_frame(text, (size_t)n, f->start);
  n = snprintf(text, sizeof text,
               "{\"event\":\"media\",\"sequenceNumber\":\"2\",\"media\":{\"track\":\"inbound\",\"chunk\":\"1\","
               "\"timestamp\":\"0\",\"payload\":\"%.*s\"},\"streamSid\":\"MZ00\"}", (int)b64_len, b64);
  f->media_len = ws_frame(text, (size_t)n, f->media);
  n = snprintf(text, sizeof text, "{\"event\":\"stop\",\"sequenceNumber\":\"3\",\"stop\":{\"accountSid\":\"AC00\","
               "\"callSid\":\"CA00\"},\"streamSid\":\"MZ00\"}");
  f->stop_len = ws_frame(text, (size_t)n, f->stop);
}

static int connect_call(const char *host, int port, const char *path, call *c)
{
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (c->fd < 0) return -1;
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  inet_pton(AF_INET, host, &a.sin_addr);
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char req[1024];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   path, host, port);
  if (write(c->fd, req, (size_t)n) != n) return -1;
  fcntl(c->fd, F_SETFL, O_NONBLOCK);
  return 0;
}

/* Consumes complete server frames from c->in; every media text frame is one echo. */
static void scan_frames(call *c, uint64_t t, uint64_t *lat, size_t *nlat, size_t cap)
{
  size_t off = 0;
  if (!c->open) {
    char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end) return;
    if (strncmp(c->in, "HTTP/1.1 101", 12) != 0) {
      fprintf(stderr, "handshake refused: %.40s\n", c->in);
      exit(1);
    }
    c->open = 1;
    off = (size_t)(end - c->in) + 4;
  }
  for (;;) {
    size_t avail = c->in_len - off;
    if (avail < 2) break;
    const unsigned char *p = (const unsigned char *)c->in + off;
    size_t len = p[1] & 0x7f, hdr = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = (size_t)p[2] << 8 | p[3];
      hdr = 4;
    } else if (len == 127) {
      fprintf(stderr, "unexpected huge frame\n");
      exit(1);
    }
    if (avail < hdr + len) break;
    if ((p[0] & 0x0f) == 1 && memmem(p + hdr, len, "\"event\":\"media\"", 15)) {
      if (c->received < c->sent && *nlat < cap)
        lat[(*nlat)++] = t - c->send_ns[c->received % MAX_INFLIGHT];
      c->received++;
    }
    off += hdr + len;
  }
  memmove(c->in, c->in + off, c->in_len - off);
  c->in_len -= off;
}

static int cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void drain_input(call *calls, int efd, int timeout_ms, uint64_t *lat, size_t *nlat, size_t cap)
{
  struct epoll_event ev[256];
  int n = epoll_wait(efd, ev, 256, timeout_ms);
  uint64_t t = now_ns();
  for (int i = 0; i < n; i++) {
    call *c = &calls[ev[i].data.u32];
    for (;;) {
      ssize_t r = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
      if (r <= 0) break;
      c->in_len += (size_t)r;
      scan_frames(c, t, lat, nlat, cap);
    }
  }
}

int main(int argc, char **argv)
{
  if (argc != 6) {
    fprintf(stderr, "usage: %s HOST PORT PATH CALLS SECONDS\n", argv[0]);
    return 2;
  }
  const char *host = argv[1], *path = argv[3];
  int port = atoi(argv[2]), ncalls = atoi(argv[4]);
  double seconds = atof(argv[5]);
  frames f;
  build_frames(&f);
  call *calls = calloc((size_t)ncalls, sizeof *calls);
  size_t cap = (size_t)(ncalls * (seconds * 1000 / FRAME_MS + 10));
  uint64_t *lat = malloc(cap * sizeof *lat);
  size_t nlat = 0;
  int efd = epoll_create1(0);
  if (!calls || !lat || efd < 0) return 1;
  for (int i = 0; i < ncalls; i++) {
    if (connect_call(host, port, path, &calls[i]) != 0) {
      fprintf(stderr, "call %d: connect failed: %s\n", i, strerror(errno));
      return 1;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
    epoll_ctl(efd, EPOLL_CTL_ADD, calls[i].fd, &ev);
  }
  uint64_t deadline = now_ns() + 10000000000u;
  for (int open = 0; open < ncalls && now_ns() < deadline;) {
    drain_input(calls, efd, 10, lat, &nlat, cap);
    open = 0;
    for (int i = 0; i < ncalls; i++) open += calls[i].open;
  }
  uint64_t t0 = now_ns() + 50000000u, end = t0 + (uint64_t)(seconds * 1e9);
  for (int i = 0; i < ncalls; i++) {
    call *c = &calls[i];
    if (!c->open) {
      fprintf(stderr, "call %d: no handshake\n", i);
      return 1;
    }
    if (write(c->fd, f.connected, f.connected_len) < 0 || write(c->fd, f.start, f.start_len) < 0) return 1;
    c->next_send = t0 + (uint64_t)i * (FRAME_MS * 1000000u) / (uint64_t)ncalls;
  }
  nlat = 0;
  size_t write_errors = 0;
  for (uint64_t t = now_ns(); t < end; t = now_ns()) {
    for (int i = 0; i < ncalls; i++) {
      call *c = &calls[i];
      if (c->next_send > t) continue;
      c->send_ns[c->sent % MAX_INFLIGHT] = now_ns();
      if (write(c->fd, f.media, f.media_len) != (ssize_t)f.media_len) write_errors++;
      c->sent++;
      c->next_send += FRAME_MS * 1000000u;
    }
    drain_input(calls, efd, 1, lat, &nlat, cap);
  }
  uint64_t sent = 0, received = 0;
  for (uint64_t grace = now_ns() + 1000000000u; now_ns() < grace;) drain_input(calls, efd, 10, lat, &nlat, cap);
  for (int i = 0; i < ncalls; i++) {
    sent += calls[i].sent;
    received += calls[i].received;
    if (write(calls[i].fd, f.stop, f.stop_len) < 0) write_errors++;
    close(calls[i].fd);
  }
  qsort(lat, nlat, sizeof *lat, cmp_u64);
  double p50 = nlat ? lat[nlat / 2] / 1e6 : 0, p99 = nlat ? lat[nlat * 99 / 100] / 1e6 : 0;
  double max = nlat ? lat[nlat - 1] / 1e6 : 0;
  printf("calls=%d seconds=%.0f sent=%llu received=%llu lost=%llu write_errors=%zu p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
         ncalls, seconds, (unsigned long long)sent, (unsigned long long)received,
         (unsigned long long)(sent - received), write_errors, p50, p99, max);
  return 0;
}
