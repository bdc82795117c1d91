import { closedLoop } from './closed-loop.js';
import { streamLoop } from './stream-loop.js';

/**
 * The shared shell of every benchmark client: `setup(params)` connects and returns
 * `{ call, payloadBytes, close }`, or `{ open, payloadBytes, close }` for a streaming one
 * (lib/stream-loop.js: one item counts as one call); this runs the closed loop, printing
 * `MARK start` and `MARK end` at the measuring window's edges, then one `RESULT <json>` line.
 */
export async function runBenchmarkClient(setup) {
  const params = JSON.parse(process.argv[2] ?? '{}');
  const { call, open, payloadBytes, close } = await setup(params);
  let cpuAtStart = 0;
  let cpuS = 0;
  const mark = (edge) => {
    const cpu = cpuMicros();
    if (edge === 'start') cpuAtStart = cpu;
    else cpuS = (cpu - cpuAtStart) / 1e6;
    console.log(`MARK ${edge}`);
  };
  const loop = open ? streamLoop({ ...params.load, inFlight: params.inFlight, open, mark }) : closedLoop({ ...params.load, inFlight: params.inFlight, call, mark });
  const { calls, seconds, histogram } = await loop;
  await close();
  const callsPerS = calls / seconds;
  console.log(
    `RESULT ${JSON.stringify({
      calls,
      seconds,
      calls_per_s: callsPerS,
      mb_per_s: (callsPerS * payloadBytes) / 1e6,
      payload_bytes: payloadBytes,
      p50_us: histogram.quantileNs(0.5) / 1000,
      p99_us: histogram.quantileNs(0.99) / 1000,
      client_cpu_s: cpuS,
    })}`,
  );
  // Peers' libraries may keep timers or sockets alive; the result is out, so the run is over.
  process.exit(0);
}

function cpuMicros() {
  const r = process.resourceUsage();
  return r.userCPUTime + r.systemCPUTime;
}
