/**
 * Refills a window a microtask after an abort or a give-up freed a slot in it, once however many
 * slots that turn freed. Not at once: one signal (one source, one sweep) often ends a waiting
 * call too, later in the same turn, and that call must not be sent on its way out. A field of
 * its owner, made with it: made inside a listener, its closure kept that listener's scope (the
 * first aborted call, its abort source) for as long as the connection lived.
 */
export class PumpSoon {
  private queued = false;

  /** `pump` sends what the window has room for; it checks itself whether its owner is still open. */
  constructor(private readonly pump: () => void) {}

  request(): void {
    if (this.queued) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      this.pump();
    });
  }
}
