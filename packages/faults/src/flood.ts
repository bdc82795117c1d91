import { RpcError } from '@skein/core';

/**
 * Calls made in a closed loop by `workers` workers: each starts its next call as soon as the
 * last one settles, until `stop()`. `call(n)` makes call number n (from 0); a throw is a
 * failure, counted by what it was.
 */
export class Flood {
  ok = 0;
  failed = 0;
  readonly errors = new Map<string, number>();
  private next = 0;
  private stopping = false;
  private readonly workers: Promise<void>[];

  constructor(
    private readonly call: (n: number) => Promise<unknown>,
    workers: number,
  ) {
    this.workers = Array.from({ length: workers }, () => this.work());
  }

  /** Calls started so far. */
  get started(): number {
    return this.next;
  }

  /** Starts no more calls; resolves once every call started has settled. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.workers);
  }

  private async work(): Promise<void> {
    while (!this.stopping) {
      const n = this.next++;
      try {
        await this.call(n);
        this.ok++;
      } catch (err) {
        this.failed++;
        const kind = describeError(err);
        this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
        // A call that fails at once (its connection is gone) would fail again in a loop of
        // microtasks that never lets a timer run: the scenario's guards could never fire.
        await nextTurn();
      }
    }
  }
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** `Timeout/idempotent`, `IO/safe`, or an error's name: enough to tell failures apart in a report. */
export function describeError(err: unknown): string {
  if (err instanceof RpcError) return `${err.codeName}/${err.retry}`;
  return err instanceof Error ? `${err.name}: ${err.message.slice(0, 80)}` : String(err);
}

/** `IO/idempotent ×3, Timeout/idempotent ×1`, or `none`. */
export function errorSummary(errors: ReadonlyMap<string, number>): string {
  if (errors.size === 0) return 'none';
  return [...errors].map(([k, n]) => `${k} ×${n}`).join(', ');
}
