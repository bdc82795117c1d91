/**
 * Who ran which call: read back from the execution logs (execution-log.ts) of every server,
 * the killed ones' too, and held against what each caller was told.
 */

/** What the caller saw of a call. */
export const Outcome = {
  Ok: 1,
  /** Failed with an error that says the call never ran (`retry: 'safe'`). */
  FailedUnrun: 2,
  /** Failed with an error that says it may have run, or says nothing of it. */
  Failed: 3,
} as const;

/** One server's log: its name, whether it was killed, and the log's text. */
export interface ServerLog {
  readonly name: string;
  readonly killed: boolean;
  readonly text: string;
}

/** Per call id: how many times the back servers and the front servers ran it, and whether a kill explains a second run. */
export class Executions {
  readonly back: Uint8Array;
  readonly front: Uint8Array;
  /** A killed server ran it, or a killed front passed it on: a second run is the retry of a lost answer. */
  readonly touchedKilled: Uint8Array;

  constructor(calls: number, backs: readonly ServerLog[], fronts: readonly ServerLog[] = []) {
    this.back = new Uint8Array(calls);
    this.front = new Uint8Array(calls);
    this.touchedKilled = new Uint8Array(calls);
    const killedFronts = new Set(fronts.filter((f) => f.killed).map((f) => f.name));
    for (const log of backs) {
      for (const [id, via] of lines(log.text)) {
        if (id >= calls) continue;
        this.back[id] = Math.min(255, this.back[id]! + 1);
        if (log.killed || (via !== undefined && killedFronts.has(via))) this.touchedKilled[id] = 1;
      }
    }
    for (const log of fronts) {
      for (const [id] of lines(log.text)) {
        if (id >= calls) continue;
        this.front[id] = Math.min(255, this.front[id]! + 1);
        if (log.killed) this.touchedKilled[id] = 1;
      }
    }
  }

  /** The most times any hop ran call `id`. */
  runs(id: number): number {
    return Math.max(this.back[id]!, this.front[id]!);
  }

  /** Times any hop ran it at all. */
  ran(id: number): boolean {
    return this.back[id]! > 0 || this.front[id]! > 0;
  }
}

/** `<id>` or `<id> <via>` per line. */
function* lines(text: string): Generator<[number, string | undefined]> {
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const space = line.indexOf(' ');
    yield space < 0 ? [Number(line), undefined] : [Number(line.slice(0, space)), line.slice(space + 1)];
  }
}
