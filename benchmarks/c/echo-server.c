/*
 * The wire's limit for the raw echo's framing (u32-LE length + payload), in C: one thread, poll,
 * blocking sockets with TCP_NODELAY. Each read is scanned for the frames it completes, and all of
 * them go back in one write straight from the read buffer; a frame cut across reads waits at the
 * buffer's front for the rest. Speaks the benchmark servers' protocol: prints
 * `READY {"host","port"}`, answers `usage` on stdin with `USAGE {"cpu_us","rss"}`, exits when
 * stdin closes.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include "bench-process.h"

#define MAX_CONNS 256
#define BUF_CAP (4u << 20)

typedef struct {
  unsigned char *buf;
  size_t have;
} conn_t;

static struct pollfd fds[2 + MAX_CONNS];
static conn_t conns[2 + MAX_CONNS];
static int nfds = 2;

static int listen_loopback(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
  socklen_t len = sizeof addr;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 1024) < 0 || getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
    perror("listen");
    exit(1);
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

static void accept_one(int listener) {
  int fd = accept(listener, NULL, NULL);
  if (fd < 0) return;
  if (nfds == 2 + MAX_CONNS) {
    close(fd);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fds[nfds] = (struct pollfd){.fd = fd, .events = POLLIN};
  conns[nfds] = (conn_t){.buf = malloc(BUF_CAP), .have = 0};
  nfds++;
}

static void drop(int i) {
  close(fds[i].fd);
  free(conns[i].buf);
  nfds--;
  fds[i] = fds[nfds];
  conns[i] = conns[nfds];
}

/* Reads what is there and writes back every frame it completes; false when the peer is gone. */
static int echo(int i) {
  conn_t *c = &conns[i];
  ssize_t n = read(fds[i].fd, c->buf + c->have, BUF_CAP - c->have);
  if (n <= 0) return 0;
  c->have += (size_t)n;
  size_t at = 0;
  while (c->have - at >= 4) {
    uint32_t len;
    memcpy(&len, c->buf + at, 4); /* little-endian host, as the framing */
    if (len > BUF_CAP - 4) return 0;
    if (c->have - at - 4 < len) break;
    at += 4 + len;
  }
  if (at == 0) return 1;
  write_all(fds[i].fd, c->buf, at);
  memmove(c->buf, c->buf + at, c->have - at);
  c->have -= at;
  return 1;
}

/* Answers each `usage` line; false when stdin is closed (the orchestrator is done). */
static int control(void) {
  static char line[256];
  static size_t have = 0;
  ssize_t n = read(0, line + have, sizeof line - 1 - have);
  if (n <= 0) return 0;
  have += (size_t)n;
  char *nl;
  while ((nl = memchr(line, '\n', have)) != NULL) {
    *nl = 0;
    if (strcmp(line, "usage") == 0) {
      printf("USAGE {\"cpu_us\":%ld,\"rss\":%ld}\n", cpu_micros(), rss_bytes());
      fflush(stdout);
    }
    have -= (size_t)(nl + 1 - line);
    memmove(line, nl + 1, have);
  }
  if (have == sizeof line - 1) have = 0;
  return 1;
}

int main(void) {
  int port;
  int listener = listen_loopback(&port);
  printf("READY {\"host\":\"127.0.0.1\",\"port\":%d}\n", port);
  fflush(stdout);
  fds[0] = (struct pollfd){.fd = 0, .events = POLLIN};
  fds[1] = (struct pollfd){.fd = listener, .events = POLLIN};
  for (;;) {
    if (poll(fds, (nfds_t)nfds, -1) < 0) {
      if (errno == EINTR) continue;
      perror("poll");
      return 1;
    }
    if (fds[0].revents && !control()) return 0;
    if (fds[1].revents & POLLIN) accept_one(listener);
    for (int i = nfds - 1; i >= 2; i--) {
      if (fds[i].revents && !echo(i)) drop(i);
    }
  }
}
