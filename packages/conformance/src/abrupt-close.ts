import { formatAddress, type Address, type FrameConn, type FrameHandlers, type Transport } from '@skein/core';
import { frameOf, ownAddress, OWN_SPEC } from './own-framing.js';
import { ownListenerClosed } from './own-listener-closed.js';
import { within } from './within.js';

/** Which side of the connection calls `close()`; the other must report its close. */
type Closer = 'client' | 'server';

/** One side's handlers, and what they were told: a first frame, a close. */
function side(): { handlers: FrameHandlers; framed: Promise<void>; closed: Promise<void> } {
  let framed = (): void => {};
  let closed = (): void => {};
  return {
    // No `end` handler: at the peer's end the transport's own default ends this side too.
    handlers: { frame: () => framed(), drain: () => {}, close: () => closed() },
    framed: new Promise<void>((resolve) => (framed = resolve)),
    closed: new Promise<void>((resolve) => (closed = resolve)),
  };
}

/**
 * What the transport did wrong with an abrupt close, in words; [] when nothing. On a listener of
 * its own (next to `at`), a connection is dialled and a frame written, so both sides are up; then
 * one side calls `close()` (abrupt: what the stream layer calls on `stream.destroy()`, a protocol
 * violation, a keepalive that got no answer), and the other side's connection must report its
 * close within `boundMs`. Once from the client's side, once from the server's. A `close()` that
 * only tells its own handlers leaves the peer's connection open, its calls unanswered until a
 * keepalive gives up: no scenario shows it, since each side closes its own connections.
 */
export async function abruptCloseProblems(transport: Transport, at: Address, boundMs: number): Promise<string[]> {
  const problems: string[] = [];
  for (const closer of ['client', 'server'] as const) {
    const problem = await peerProblem(transport, at, closer, boundMs);
    if (problem !== undefined) problems.push(problem);
  }
  return problems;
}

async function peerProblem(transport: Transport, at: Address, closer: Closer, boundMs: number): Promise<string | undefined> {
  const served = side();
  const accepted: FrameConn[] = [];
  const listener = await transport.listen(ownAddress(at), OWN_SPEC, (conn) => {
    accepted.push(conn);
    conn.bind(served.handlers);
  });
  const where = formatAddress(listener.address);
  const dialled = side();
  let client: FrameConn | undefined;
  const closedByCheck = new Set<FrameConn>();
  const close = (conn: FrameConn | undefined): void => {
    if (conn === undefined || closedByCheck.has(conn)) return;
    closedByCheck.add(conn);
    conn.close();
  };
  try {
    client = await transport.connect(listener.address, OWN_SPEC, { timeoutMs: boundMs });
    client.bind(dialled.handlers);
    client.write(frameOf(OWN_SPEC.headerLength + 1, 1));
    // Both sides are up (the server's connection accepted, bound and reading) once it arrived.
    if ((await within(served.framed, boundMs)) === 'timeout') return `a connection to ${where} did not deliver a 5-byte frame within ${boundMs} ms`;
    const [closing, peer] = closer === 'client' ? [client, served] : [accepted[0]!, dialled];
    close(closing);
    if ((await within(peer.closed, boundMs)) !== 'timeout') return undefined;
    const other: Closer = closer === 'client' ? 'server' : 'client';
    return (
      `the ${closer}'s side of a connection to ${where} called close() (an abrupt close), and the ${other}'s side reported no close within ${boundMs} ms: ` +
      "close() must reach the peer: close the socket or stream beneath (TCP: destroy the socket; a WebSocket: terminate it), not only report the close to this side's handlers, " +
      "so that the peer's connection reports close() too (docs/transports.md, \"The connection lifecycle\", abrupt close)"
    );
  } finally {
    close(client);
    // A listener's close need not close what it accepted (the suite checks every close is reported).
    for (const conn of accepted) close(conn);
    await ownListenerClosed(listener, where, boundMs);
  }
}
