import type { ReverseCaller } from './reverse-caller.js';

/**
 * What a ServerConn holds only in moments most connections never see: a request held past the
 * cap, a send buffer that stays full, a drain, reverse calls agreed. Made at the first of them
 * and kept: one field on a connection that sees none, not five (8 bytes each, at 10,000 idle
 * connections: docs/benchmarks.md, "Memory"). Reading a field costs one load more, and nothing
 * read for every frame lives here.
 */
export class ConnSeldom {
  /**
   * A request that came past the cap (ServerConn.overCap): handled once a slot frees. Its head, if
   * it had one, waits in ConnExtensions as it would for any request: nothing is read meanwhile.
   */
  heldRequest: Uint8Array | undefined = undefined;
  /** When `heldRequest` was read, by the server's clock: its deadline counts from then, not from when it runs. */
  heldAt: number | undefined = undefined;
  /**
   * Write-stall check (write-stall.ts), while congested: the most the kernel had taken of the
   * connection's bytes (FrameConn.sentBytes), and when, in the tick's TickedTime; made when it
   * congests, dropped when it drains.
   */
  writeWatch: { sent: number; since: number } | undefined = undefined;
  /** While draining: `framesRead` at the server's last tick, but for pings (ServerConn.drainTick). */
  framesAtDrainTick = 0;
  /** The server's calls to the other side, once its hello offered to serve them. */
  reverse: ReverseCaller | undefined = undefined;
}
