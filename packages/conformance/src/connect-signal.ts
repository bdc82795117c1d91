import { ErrorCode, RpcError, formatAddress, type Address, type FrameConn, type Transport } from '@skein/core';
import { DEFAULT_LIMITS, responseFrameSpec } from '@skein/stream';

/** A connect's outcome, settled: the connection it made, or what it rejected with. */
type Outcome = { conn: FrameConn } | { error: unknown };

const PENDING = Symbol('pending');

/**
 * What `transport.connect` did wrong with its `signal` (TransportConnectOptions.signal), in
 * words; [] when it honoured it. Checked on the transport itself: a ClientStream closes a
 * connection that comes up after its signal aborted, which hides a transport that ignores the
 * signal until a connect hangs (a pool's close then waits out `connectTimeoutMs`).
 * - A signal aborted already: the connect rejects with Cancelled, before dialling.
 * - A signal aborted already with a timeout reason (a `TimeoutError`, as `AbortSignal.timeout(ms)`
 *   aborts with): it rejects with Timeout, as calls given up by such a signal do.
 * - An abort while the connect is under way (right after the call, before any I/O could
 *   finish): it rejects with Cancelled. A connect that was already up when the abort came (an
 *   in-process transport whose promise is settled as `connect` returns, or a few microtasks
 *   later) is not judged.
 * Every connection either makes is closed here.
 */
export async function connectSignalProblems(transport: Transport, address: Address, timeoutMs: number): Promise<string[]> {
  const spec = responseFrameSpec(DEFAULT_LIMITS);
  const where = formatAddress(address);
  const problems: string[] = [];

  const before = await outcome(transport.connect(address, spec, { timeoutMs, signal: AbortSignal.abort() }));
  problems.push(...judge(before, `connect(${where}) given a signal aborted already`, 'reject with RpcError(Cancelled) before dialling'));

  const timedOut = AbortSignal.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  const late = await outcome(transport.connect(address, spec, { timeoutMs, signal: timedOut }));
  problems.push(...judge(late, `connect(${where}) given a signal timed out already (a TimeoutError reason)`, 'reject with RpcError(Timeout) before dialling', ErrorCode.Timeout));

  const abort = new AbortController();
  const connecting = transport.connect(address, spec, { timeoutMs, signal: abort.signal });
  await settledAlready(connecting);
  abort.abort();
  // Asked after the abort: a connect that awaits a little (an in-process lookup) may have come up
  // in the microtasks before it, and could then not have given it up. A rejection is judged
  // either way: one made at the abort (in its listener) has settled by now too.
  const settled = await settledAlready(connecting);
  const during = await outcome(connecting);
  if (!(settled && 'conn' in during)) {
    problems.push(...judge(during, `connect(${where}) whose signal aborted while it was under way`, 'give the connect up at the abort: reject at once with RpcError(Cancelled) and close what it opened'));
  }
  return problems;
}

/** Closes a connection the connect made: the kit never uses these. */
async function outcome(connect: Promise<FrameConn>): Promise<Outcome> {
  try {
    const conn = await connect;
    conn.close();
    return { conn };
  } catch (error) {
    return { error };
  }
}

function judge(o: Outcome, what: string, should: string, code: ErrorCode = ErrorCode.Cancelled): string[] {
  const fix = `${should} (core's connectAborted(remote, signal.reason); whenAborted hooks the abort)`;
  if ('conn' in o) return [`${what} resolved with a connection: it must ${fix}`];
  const e = o.error;
  if (e instanceof RpcError && e.code === code) return [];
  const seen = e instanceof RpcError ? `RpcError(${e.codeName}): ${e.message}` : e instanceof Error ? `${e.name}: ${e.message} (not an RpcError)` : String(e);
  return [`${what} rejected with ${seen}: it must ${fix}`];
}

/** Whether `p` had settled before this call: a settled promise's reaction runs before the one queued after it. */
async function settledAlready(p: Promise<unknown>): Promise<boolean> {
  try {
    return (await Promise.race([p, Promise.resolve(PENDING)])) !== PENDING;
  } catch {
    return true;
  }
}
