/**
 * Operations per second of `fn`, best of `samples` timed runs after a warm-up. Best, not mean:
 * on a shared machine noise only ever slows a run down, so the fastest is the closest to the
 * code's own speed.
 */
export function measure(fn, { warmupMs = 500, samples = 10, sampleMs = 100 } = {}) {
  runFor(fn, warmupMs);
  const batch = batchSize(fn, sampleMs);
  let best = 0;
  for (let s = 0; s < samples; s++) {
    const start = performance.now();
    for (let i = 0; i < batch; i++) consume(fn());
    best = Math.max(best, (batch * 1000) / (performance.now() - start));
  }
  return best;
}

// Every result is folded into this module-level value, so the engine cannot treat a call
// whose result is unused as dead code.
let sink = 0;
function consume(result) {
  sink = (sink + (typeof result === 'object' && result !== null ? 1 : 2)) | 0;
}

function runFor(fn, ms) {
  const end = performance.now() + ms;
  while (performance.now() < end) for (let i = 0; i < 100; i++) consume(fn());
}

/** How many calls take about `ms`: doubling until a batch takes 10 ms, then scaling. */
function batchSize(fn, ms) {
  for (let n = 1; ; n *= 2) {
    const start = performance.now();
    for (let i = 0; i < n; i++) consume(fn());
    const took = performance.now() - start;
    if (took >= 10) return Math.max(1, Math.round((n * ms) / took));
  }
}
