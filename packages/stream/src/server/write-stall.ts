import type { ServerConn } from './connection.js';

/**
 * The server's write-stall check for one connection (docs/protocol.md, "Server pings"), on the
 * server's tick beside the keepalive: true when the connection has bytes waiting for its client
 * (`congested`: its writer waits for a drain) and the kernel has taken none of them for
 * keepaliveMs + keepaliveTimeoutMs. The caller ends it, as a lost one.
 *
 * The keepalive cannot find such a client: the server stopped reading it (a full buffer is no
 * sign of a frozen client: a slow reader keeps it full too, so it counts as heard), its ping
 * waits behind the buffer, and TCP never times out a peer whose window is shut, as its kernel
 * answers the probes for a process that is stopped. What the kernel takes tells them apart: a
 * slow reader's window opens, however little; a frozen one's never does. So any byte taken is
 * life, and the bound is the keepalive's (such a client could not have answered a ping in it
 * either). It needs nothing from the client: a razor v1 one is held to it too.
 *
 * Off with the keepalive (keepaliveMs 0), and where the transport cannot tell what its kernel
 * took (FrameConn.sentBytes undefined). Nothing per frame or per write: one read of the count per
 * tick, for a congested connection only, and its watch (`writeWatch`) made when it congests.
 */
export function writeStalled(c: ServerConn, now: number): boolean {
  const { keepaliveMs, keepaliveTimeoutMs } = c.role!.limits;
  if (keepaliveMs <= 0 || !c.conn.congested) {
    // Read before written: a tick looks at every connection, nearly all of them never congested.
    if (c.writeWatch !== undefined) c.writeWatch = undefined;
    return false;
  }
  const sent = c.conn.sentBytes;
  if (sent === undefined) return false;
  const watch = c.writeWatch;
  // Congested since the last look, or bytes were taken since: its time starts now. A rise, not
  // any change: a count that dips (a transport's own control frames) is no sign of a reader.
  if (watch === undefined || sent > watch.sent) {
    c.writeWatch = { sent, since: now };
    return false;
  }
  return now - watch.since >= keepaliveMs + keepaliveTimeoutMs;
}
