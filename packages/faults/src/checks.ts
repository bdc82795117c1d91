/**
 * One property a scenario promises, and whether the run kept it. The CLI prints every check;
 * the short tests assert that none failed, skipping those about time (a test never asserts
 * time: slow machines would fail it).
 */
export interface Check {
  readonly what: string;
  readonly ok: boolean;
  /** What the run saw, in figures. */
  readonly saw: string;
  /** The check compares a duration: the CLI reports it, tests do not assert it. */
  readonly timing?: boolean;
}

export const check = (what: string, ok: boolean, saw: string, timing = false): Check => ({ what, ok, saw, timing });

/** `what` must be zero. */
export const none = (what: string, n: number, detail = ''): Check => check(what, n === 0, `${n}${detail ? ` ${detail}` : ''}`);

/** What a scenario hands back: its figures (printed) and its checks. */
export interface ScenarioReport {
  readonly scenario: string;
  /** Figures in the order they print: a label and a value. */
  readonly figures: readonly (readonly [string, string | number])[];
  readonly checks: readonly Check[];
}

/** The checks that failed, timing ones only when asked: `[]` when the run kept its promises. */
export function failures(report: ScenarioReport, { timing = true } = {}): Check[] {
  return report.checks.filter((c) => !c.ok && (timing || !c.timing));
}
