/**
 * Runs `run` once after a GC and says what it cost: wall and CPU ms, the heap its result holds
 * (MB, while it is alive), and the result or the error it threw. The codec benchmarks' measure of
 * one hostile message (node --expose-gc).
 */
export function decodeCost(run) {
  globalThis.gc();
  const heap = process.memoryUsage().heapUsed;
  const cpu = process.cpuUsage();
  const start = performance.now();
  let outcome;
  try {
    outcome = run();
  } catch (e) {
    outcome = e;
  }
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  const heldMb = (process.memoryUsage().heapUsed - heap) / 1e6;
  return { wallMs, cpuMs: (used.user + used.system) / 1000, heldMb, outcome };
}
