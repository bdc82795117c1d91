import type { TemplatedApp } from 'uWebSockets.js';

/** `app.close()`: in the native uWS since v20.30, though its typings do not name it yet. */
type ClosableApp = TemplatedApp & { close?: () => void };

/**
 * Drops the sockets a uWS app accepted and has not upgraded (a client that connected and sent
 * nothing yet, or half its upgrade request), once its listener is closed and no upgraded
 * connection of it is left. uWS shows a connection only at its upgrade, so nobody else can close
 * those: each held the process until uWS's own HTTP idle timeout, some 10 s after the server's
 * close. Not while upgraded connections are open: `app.close()` closes every socket of the app,
 * theirs too, and they drain first (a server's close lets them finish).
 */
export class UwsAppCloser {
  private open = 0;
  private listening = true;

  constructor(private readonly app: TemplatedApp) {}

  /** An upgraded connection opened. */
  opened(): void {
    this.open++;
  }

  /** An upgraded connection closed. */
  ended(): void {
    this.open--;
    this.dropIfDone();
  }

  /** The listen socket is closed. */
  listenerClosed(): void {
    this.listening = false;
    this.dropIfDone();
  }

  private dropIfDone(): void {
    if (this.listening || this.open > 0) return;
    // Not from within uWS's own callback (a connection's close): the app closes from the loop.
    setImmediate(() => {
      // Upgraded meanwhile (a request finished after the listener closed): dropped when it ends.
      if (this.open === 0) (this.app as ClosableApp).close?.();
    });
  }
}
