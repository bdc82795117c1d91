import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * A full collection now, in this process, without its having been started with `--expose-gc`
 * (a user's vitest is not). The same as @skein/test-utils' `fullGc`, which this published
 * package cannot depend on (test-utils is private). False where the engine gives no `gc` (not
 * Node's V8): the baseline is then what the process holds, garbage and all.
 */
function fullGc(): boolean {
  try {
    v8.setFlagsFromString('--expose-gc');
    (vm.runInNewContext('gc') as () => void)();
    return true;
  } catch {
    return false;
  }
}

/**
 * The process's ArrayBuffer memory (`process.memoryUsage().arrayBuffers`) once what earlier tests
 * left is collected and freed (a collection frees backing stores a little later, so it is taken
 * again until it stops falling): a baseline that neither garbage made before it nor frees while a
 * check watches can move, so growth over it is what the check's own connections hold.
 */
export async function arrayBuffersSettled(): Promise<number> {
  let last = Infinity;
  for (let i = 0; i < 20; i++) {
    const collected = fullGc();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const now = process.memoryUsage().arrayBuffers;
    if (!collected || now >= last) return now;
    last = now;
  }
  return last;
}
