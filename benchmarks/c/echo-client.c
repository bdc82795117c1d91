/*
 * The wire's limit, client side: the closed loop of benchmarks/lib/closed-loop.js in C, for the
 * raw echo's framing. N frames in flight; one read takes every reply that has come, and one
 * write of a prebuilt block sends as many new frames as replies completed (no allocation, no
 * copy per refill). Latency per call as the Node clients measure it (send to completion, in the
 * same log-linear histogram); prints `MARK start`/`MARK end` at the window's edges and one
 * `RESULT <json>` line, as the Node clients do.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include "bench-process.h"

/* The histogram of benchmarks/lib/histogram.js: 32 buckets per power of two, exact below 64 ns. */
#define SUB_BITS 5
#define SUB (1 << SUB_BITS)
#define LINEAR (SUB * 2)
#define BUCKETS (LINEAR + (32 - SUB_BITS - 1) * SUB)
static double counts[BUCKETS];
static double total = 0;
static uint32_t max_ns = 0;

static void record(uint64_t ns) {
  uint32_t v = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
  int bucket = v;
  if (v >= LINEAR) {
    int exp = 31 - __builtin_clz(v);
    int shift = exp - SUB_BITS;
    bucket = LINEAR + (exp - SUB_BITS - 1) * SUB + (int)((v >> shift) - SUB);
  }
  counts[bucket]++;
  total++;
  if (v > max_ns) max_ns = v;
}

static double quantile_ns(double q) {
  if (total == 0) return 0;
  double rank = fmax(1, ceil(q * total)), seen = 0;
  for (int i = 0; i < BUCKETS; i++) {
    seen += counts[i];
    if (seen < rank) continue;
    double mid = i < LINEAR ? i : ((i - LINEAR) % SUB + SUB + 0.5) * pow(2, (i - LINEAR) / SUB + 1);
    return fmin(mid, max_ns);
  }
  return max_ns;
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int connect_loopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(port)};
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    perror("connect");
    exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static void mark(const char *edge) {
  printf("MARK %s\n", edge);
  fflush(stdout);
}

int main(int argc, char **argv) {
  const char *params = argc > 1 ? argv[1] : "{}";
  long payload = json_int(params, "payloadBytes", 32), in_flight = json_int(params, "inFlight", 1);
  uint64_t warmup = (uint64_t)json_int(params, "warmupMs", 1000) * 1000000u;
  uint64_t measure = (uint64_t)json_int(params, "measureMs", 3000) * 1000000u;
  size_t frame = 4 + (size_t)payload;
  /* Everything in flight must fit in the socket buffers: both sides block on writes. */
  if (frame * (size_t)in_flight > (1u << 20)) {
    fprintf(stderr, "c echo: %ld frames of %zu bytes in flight is more than it is built for\n", in_flight, frame);
    return 1;
  }
  unsigned char *block = malloc(frame * (size_t)in_flight);
  for (long i = 0; i < in_flight; i++) {
    uint32_t len = (uint32_t)payload;
    memcpy(block + i * frame, &len, 4);
    memset(block + i * frame + 4, 0x5a, (size_t)payload);
  }
  size_t ring_size = 1;
  while (ring_size < (size_t)in_flight) ring_size *= 2;
  uint64_t *sent = malloc(ring_size * sizeof *sent);
  size_t head = 0, tail = 0, mask = ring_size - 1;

  int fd = connect_loopback((int)json_int(params, "port", 0));
  enum { WARMUP, MEASURE, DRAIN } phase = WARMUP;
  uint64_t window_start = 0, window_end = now_ns() + warmup;
  long completed = 0, active = in_flight, cpu_start = 0, cpu_end = 0;
  for (long i = 0; i < in_flight; i++) sent[tail++ & mask] = now_ns();
  write_all(fd, block, frame * (size_t)in_flight);

  static unsigned char rbuf[1 << 16];
  uint32_t header = 0, header_have = 0, body_left = 0;
  while (active > 0) {
    ssize_t n = read(fd, rbuf, sizeof rbuf);
    if (n <= 0) {
      fprintf(stderr, "c echo: the server closed the connection\n");
      return 1;
    }
    uint64_t t = now_ns();
    long refill = 0;
    for (ssize_t at = 0; at < n;) {
      if (header_have < 4) {
        header |= (uint32_t)rbuf[at++] << (8 * header_have++);
        if (header_have < 4) continue;
        body_left = header;
      } else {
        size_t take = (size_t)(n - at) < body_left ? (size_t)(n - at) : body_left;
        at += (ssize_t)take;
        body_left -= (uint32_t)take;
      }
      if (header_have < 4 || body_left > 0) continue;
      header = 0;
      header_have = 0;
      uint64_t t0 = sent[head++ & mask];
      if (phase == WARMUP && t >= window_end) {
        phase = MEASURE;
        window_start = t;
        window_end = t + measure;
        cpu_start = cpu_micros();
        mark("start");
      }
      if (phase == MEASURE) {
        if (t < window_end) {
          completed++;
          record(t - t0);
        } else {
          phase = DRAIN;
          cpu_end = cpu_micros();
          mark("end");
        }
      }
      if (phase != DRAIN) {
        sent[tail++ & mask] = t;
        refill++;
      } else {
        active--;
      }
    }
    if (refill > 0) write_all(fd, block, frame * (size_t)refill);
  }
  double seconds = (double)(window_end - window_start) / 1e9;
  double rate = completed / seconds;
  printf("RESULT {\"calls\":%ld,\"seconds\":%.6f,\"calls_per_s\":%.3f,\"mb_per_s\":%.6f,\"payload_bytes\":%ld,\"p50_us\":%.3f,\"p99_us\":%.3f,\"client_cpu_s\":%.6f}\n",
         completed, seconds, rate, rate * (double)payload / 1e6, payload, quantile_ns(0.5) / 1000, quantile_ns(0.99) / 1000,
         (double)(cpu_end - cpu_start) / 1e6);
  fflush(stdout);
  close(fd);
  return 0;
}
