import type { AbortSource } from '../src/index.js';

/** An AbortSource a caller controls: aborted by `abort()`, counting the listeners hooked to it now and ever. */
export class CountingSource implements AbortSource {
  private readonly listeners = new Set<() => void>();
  private _aborted = false;
  /** Listeners ever hooked (each hook counted, the same function twice too). */
  hooked = 0;

  /** `reason`: what its listeners are told; a Timeout when the call it stands for passed its deadline. */
  constructor(readonly reason: unknown = new Error('the caller gave up')) {}

  get aborted(): boolean {
    return this._aborted;
  }

  /** Listeners hooked now: 0 once every call given it settled. */
  get listening(): number {
    return this.listeners.size;
  }

  onAbort(listener: (reason: unknown) => void): () => void {
    if (this._aborted) {
      listener(this.reason);
      return () => {};
    }
    this.hooked++;
    // One entry per hook, so a call hooked twice shows twice.
    const entry = (): void => listener(this.reason);
    this.listeners.add(entry);
    return () => void this.listeners.delete(entry);
  }

  abort(): void {
    if (this._aborted) return;
    this._aborted = true;
    const told = [...this.listeners];
    this.listeners.clear();
    for (const l of told) l();
  }
}
