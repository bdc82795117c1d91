/*
 * What the C echo's client and server share with the Node benchmark scripts: the one JSON
 * argument they are started with (read for a few integer fields), and this process's CPU time
 * and RSS, reported as the Node scripts report theirs.
 */
#ifndef BENCH_PROCESS_H
#define BENCH_PROCESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* The integer after `"key":` in the JSON argument; every key read here is unique in it. */
static inline long json_int(const char *json, const char *key, long fallback) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":", key);
  const char *at = strstr(json, pattern);
  return at ? strtol(at + strlen(pattern), NULL, 10) : fallback;
}

static inline long cpu_micros(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static inline long rss_bytes(void) {
  long size = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
    fclose(f);
  }
  return resident * sysconf(_SC_PAGESIZE);
}

/* Writes all of `len` bytes (the sockets are blocking); exits on an error. */
static inline void write_all(int fd, const unsigned char *bytes, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, bytes, len);
    if (n < 0) {
      perror("write");
      exit(1);
    }
    bytes += n;
    len -= (size_t)n;
  }
}

#endif
