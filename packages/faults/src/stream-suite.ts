/**
 * `pnpm soak streams`: every stream scenario in one report: each kind of stream meeting each
 * fault over one hop and two (streams.ts), slow and frozen readers (stream-slow-reader.ts), and
 * links cut across NetLab hosts (stream-partition.ts; skipped, saying why, without network
 * namespaces). The tests in test/ run the same scenarios, grouped.
 */
import type { ScenarioReport } from './checks.js';
import type { StreamKind } from './stream-order.js';
import { runStreamPartition } from './stream-partition.js';
import { runSlowReader } from './stream-slow-reader.js';
import { runStreamFaults, type StreamCase, type StreamFault } from './streams.js';

const KINDS: StreamKind[] = ['feed', 'sink', 'bidi'];
const cases = (faults: StreamFault[]): StreamCase[] => faults.flatMap((fault) => KINDS.map((kind) => ({ kind, fault })));

export async function runStreamSuite(): Promise<ScenarioReport> {
  const reports: ScenarioReport[] = [
    await runStreamFaults({ hops: 1, cases: cases(['cancel', 'deadline', 'stop-back', 'kill-back']) }),
    await runStreamFaults({ hops: 2, cases: cases(['cancel', 'deadline', 'stop-back', 'stop-front', 'kill-back', 'kill-front']) }),
  ];
  for (const hops of [1, 2] as const) for (const frozen of [false, true]) reports.push(await runSlowReader({ hops, frozen }));
  for (const cut of ['back', 'front'] as const) for (const kind of KINDS) reports.push(await runStreamPartition({ kind, cut }));
  return {
    scenario: 'streams',
    figures: reports.flatMap((r) => r.figures.map(([k, v]) => [`${r.scenario}: ${k}`, v] as const)),
    checks: reports.flatMap((r) => r.checks.map((c) => ({ ...c, what: `${r.scenario}: ${c.what}` }))),
  };
}
