import { readdirSync, readFileSync } from 'node:fs';

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

/**
 * CPU time (µs) of each thread of another process, by thread id, from /proc/<pid>/task: where a
 * server's CPU goes (its main thread is the one whose id is the process's; worker threads and
 * V8's platform threads are the others, unnamed in Node 20).
 */
export function threadUsage(pid) {
  const out = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended between the listing and the read
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(Number(tid), (Number(fields[11]) + Number(fields[12])) * TICK_US);
  }
  return out;
}

/**
 * What each kind of thread spent between two `threadUsage` readings: the main thread, the
 * `workers` busiest other threads (a WorkerPool's threads, when it has work), and the rest (V8's
 * garbage-collection and compiler threads), in µs. A heuristic: it holds while each worker
 * thread is busier than every platform thread, as under any load worth measuring.
 */
export function threadSplit(pid, before, after, workers) {
  let main = 0;
  const others = [];
  for (const [tid, us] of after) {
    const d = us - (before.get(tid) ?? 0);
    if (tid === pid) main = d;
    else others.push(d);
  }
  others.sort((a, b) => b - a);
  const busiest = others.slice(0, workers).reduce((a, b) => a + b, 0);
  const rest = others.slice(workers).reduce((a, b) => a + b, 0);
  return { main, workers: busiest, rest };
}
