import os from 'node:os';
import type { ScenarioReport } from './checks.js';

/** Where and how the suite ran: the first lines of its output, as docs/faults.md quotes them. */
export function machineLine(command: string): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 16)}Z: ${command}`;
}

/** A scenario's figures, then its checks, one a line. */
export function printReport(r: ScenarioReport, seconds: number): void {
  console.log(`\n## ${r.scenario} (${seconds.toFixed(0)} s)`);
  const width = Math.max(...r.figures.map(([label]) => label.length), ...r.checks.map((c) => c.what.length));
  for (const [label, value] of r.figures) console.log(`  ${label.padEnd(width)}  ${value}`);
  for (const c of r.checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.what.padEnd(width)}  ${c.saw}`);
}
