import { expect } from 'vitest';
import { failures, type ScenarioReport } from '../src/checks.js';

/**
 * Every check of the run held, timing ones aside (a test never asserts time). On failure the
 * message lists each broken promise with the figures the run saw.
 */
export function expectKept(report: ScenarioReport): void {
  const broken = failures(report, { timing: false }).map((c) => `${c.what}: ${c.saw}`);
  expect(broken, `${report.scenario}: figures ${JSON.stringify(report.figures)}`).toEqual([]);
}
