import type { ServerConn } from './connection.js';

/**
 * The server's keepalive for one connection (docs/protocol.md, "Server pings"), on the server's
 * tick: no timer per connection, and nothing per frame beyond the count the reader keeps already
 * (`framesRead`). Pings a client that answers pings once nothing was heard from it for
 * `keepaliveMs`; true when that ping has gone unanswered for `keepaliveTimeoutMs`: the caller
 * ends the connection, as a lost one. `now` is the tick's TickedTime (a stalled server delays the
 * verdict), and so are the connection's `keepaliveAt`s.
 */
export function pingUnanswered(c: ServerConn, now: number): boolean {
  const { keepaliveMs, keepaliveTimeoutMs, readTimeoutMs } = c.role!.limits;
  if (keepaliveMs <= 0 || !c.answersPings) return false;
  if (heard(c, readTimeoutMs)) {
    c.heardFrom(now);
    return false;
  }
  if (c.pingOut) return now - c.keepaliveAt >= keepaliveTimeoutMs;
  if (now - c.keepaliveAt >= keepaliveMs) c.sendServerPing(now);
  return false;
}

/** Something came since the last look, or its answer could not have been read: it counts as heard. */
function heard(c: ServerConn, readTimeoutMs: number): boolean {
  // Any frame answers a ping: a pong, a client's own ping, a call, an item.
  if (c.framesRead !== c.framesAtHeard) return true;
  // Not read, by the server's own choice: a request held at the cap (overCap), or a full send
  // buffer. Either way the answer would wait unread, and the ping behind what fills the buffer.
  // A full buffer is no sign of a frozen client: one reading a large reply slowly but steadily
  // (a phone's link) keeps it full for as long as the reply takes, and closing it would fail its
  // call with IO. One that froze behind a full buffer is found by what its kernel takes instead
  // (write-stall.ts): nothing, for as long as a ping would have gone unanswered.
  if (c.paused) return true;
  // In the middle of a frame (of a WebSocket message), the answer is behind it, however slowly
  // it comes: a large upload on a slow link is no frozen client (the read timeout, where on,
  // ends one that stalls). `receiving`, not `midFrame`: ws's midFrame means "stalled since the
  // last look" and changes as it is read. Without `receiving` (uWebSockets.js cannot tell),
  // `midFrame` as before: only where the read timeout bounds it.
  return c.conn.receiving ?? (readTimeoutMs > 0 && c.conn.midFrame === true);
}
