import { readFileSync } from 'node:fs';

/** The largest value of a Linux sysctl of one or more numbers (`tcp_rmem`: min, default, max), or undefined off Linux. */
function sysctlMax(name: string): number | undefined {
  try {
    return Math.max(...readFileSync(`/proc/sys/net/${name}`, 'utf8').trim().split(/\s+/).map(Number));
  } catch {
    return undefined;
  }
}

/**
 * The most the kernels of one TCP connection can hold between a sender and a reader that stopped
 * reading: the reader's receive buffer and the sender's send buffer, each at the largest this
 * host lets it grow to (autotuning: tcp_rmem's and tcp_wmem's maximum; set by the program:
 * twice rmem_max or wmem_max). A write larger than this is sure to leave bytes waiting in the
 * sender's process once the reader stops, whatever the buffers had grown to. `fallback` where
 * the host does not say (not Linux).
 */
export function tcpBufferCeiling(fallback = 48 * 1024 * 1024): number {
  const [rAuto, rSet, wAuto, wSet] = ['ipv4/tcp_rmem', 'core/rmem_max', 'ipv4/tcp_wmem', 'core/wmem_max'].map(sysctlMax);
  if (rAuto === undefined || wAuto === undefined) return fallback;
  return Math.max(rAuto, 2 * (rSet ?? 0)) + Math.max(wAuto, 2 * (wSet ?? 0));
}
