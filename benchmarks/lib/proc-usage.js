import { readFileSync } from 'node:fs';

/** Linux's clock tick (USER_HZ) and page size, as procfs counts them on every common kernel. */
const TICK_US = 10_000;
const PAGE = 4096;

/**
 * CPU time (user + system, µs) and RSS (bytes) of another process, from /proc: for helper
 * processes that are not Node (nats-server), whose usage the benchmark server reports with its own.
 * Tick resolution (10 ms) is fine over a measuring window of seconds.
 */
export function processUsage(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  const pages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
  return { cpu_us: ticks * TICK_US, rss: pages * PAGE };
}
