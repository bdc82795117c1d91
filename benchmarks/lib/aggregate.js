/**
 * One record from the runs of one scenario: every figure is the median of the runs (each
 * figure on its own), and `runs` keeps each run's calls/s, so the spread stays visible.
 */
export function aggregate(scenario, runs) {
  const med = (key) => median(runs.map((r) => r[key]));
  return {
    suite: scenario.suite,
    system: scenario.system,
    layer: scenario.layer,
    transport: scenario.transport,
    runtime: scenario.runtime,
    codec: scenario.codec,
    payload_bytes: runs[0].payload_bytes,
    in_flight: scenario.inFlight,
    calls_per_s: round(med('calls_per_s'), 0),
    mb_per_s: round(med('mb_per_s'), 3),
    p50_us: round(med('p50_us'), 1),
    p99_us: round(med('p99_us'), 1),
    runs: runs.map((r) => round(r.calls_per_s, 0)),
    server_rss_mb: round(med('server_rss_mb'), 1),
    server_cpu_s: round(med('server_cpu_s'), 3),
    client_cpu_s: round(med('client_cpu_s'), 3),
  };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const round = (n, digits) => Number(n.toFixed(digits));
