import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * Counts the process's live handles by kind (TCPSocketWrap, Timeout, ...), to check that a
 * close left nothing behind. Compare against a snapshot taken before the thing under test.
 */
export function handleCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

/** Kinds whose count grew since `before`, e.g. `{ TCPSocketWrap: 2 }`; empty when nothing leaked. */
export function leakedHandles(before: Map<string, number>, ignore: string[] = ['TTYWrap', 'PipeWrap']): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, n] of handleCounts()) {
    if (ignore.includes(k)) continue;
    const d = n - (before.get(k) ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

/**
 * A full collection now, in this process, without starting it with `--expose-gc`: whether
 * something is still held is a fact of the heap, which only a full collection tells.
 */
export function fullGc(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

/**
 * The process's ArrayBuffer memory once what earlier cases left is collected and freed (a
 * collection frees backing stores a little later, so it is read again until it stops falling): a
 * baseline that frees while a case is watched do not fall under, hiding what the case holds.
 * (@skein/conformance carries its own, being published: this package is private.)
 */
export async function arrayBuffersSettled(): Promise<number> {
  let last = Infinity;
  for (let i = 0; i < 20; i++) {
    fullGc();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const now = process.memoryUsage().arrayBuffers;
    if (now >= last) return now;
    last = now;
  }
  return last;
}

/** Bytes of heap in use after a full collection: compare two, taken around the code under test, against a wide bound. */
export function heapAfterGc(): number {
  fullGc();
  fullGc();
  return process.memoryUsage().heapUsed;
}
