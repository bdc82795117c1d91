import { formatAddress, type Address, type FrameSpec, type Transport } from '@skein/core';
import { DEFAULT_LIMITS, protocol, responseFrameSpec } from '@skein/stream';
import { Action } from './contract.mjs';

const MESSAGE = new TextEncoder().encode('sent before end()');

/**
 * What the transport did wrong with a half-close, in words; [] when nothing. On a connection of
 * its own (the transport's `connect`, handlers without an `end`, as a ClientStream gives), one
 * echo call is written and `end()` called in the same run, before the answer: `end()` must flush
 * what was written, then half-close, and keep reading. The server answers the call after the
 * peer's end, then ends too, and this side must get the answer, then a clean `close()`, within
 * `boundMs`. The stream layer ends a connection only once nothing is in flight, which no
 * scenario can show: a transport whose `end()` drops what is queued, or closes the connection
 * outright, passes them all.
 */
export async function halfCloseProblems(transport: Transport, address: Address, boundMs: number): Promise<string[]> {
  const spec: FrameSpec = responseFrameSpec(DEFAULT_LIMITS);
  const conn = await transport.connect(address, spec, { timeoutMs: boundMs });
  const answers: Uint8Array[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const closed = new Promise<{ err?: Error } | undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), boundMs);
    conn.bind({ frame: (b, start, end) => void answers.push(b.slice(start, end)), drain: () => {}, close: (err) => resolve({ err }) });
  });
  const header = new Uint8Array(protocol.REQUEST_HEADER_LENGTH);
  protocol.writeRequestHeader(header, Action.echo, 0, 1, MESSAGE.length, 0);
  conn.write(header);
  conn.write(MESSAGE);
  conn.end();
  const close = await closed;
  clearTimeout(timer);
  conn.close();
  const what = `a call written, then end() in the same run, on a connection to ${formatAddress(address)}`;
  const fix = 'end() flushes what is queued, then half-closes: this side sends nothing more but keeps reading, and the close comes once both sides have ended (docs/transports.md, "Who ends, who closes")';
  const problems: string[] = [];
  if (!echoed(answers[0])) problems.push(`${what}: ${answers.length === 0 ? 'no answer came' : 'the answer was not the echo of the call'} (${close ? 'before the close' : `within ${boundMs} ms`}): ${fix}`);
  if (!close) problems.push(`${what}: the connection reported no close ${boundMs} ms later: once both sides have ended, the transport closes it and reports close()`);
  else if (close.err) problems.push(`${what}: the close was reported with ${String(close.err)}, after both sides ended: a clean close is close() with no argument`);
  return problems;
}

/** An ok answer to seq 1 whose message is MESSAGE. */
function echoed(answer: Uint8Array | undefined): boolean {
  if (answer === undefined) return false;
  const h = protocol.readResponseHeader(answer.subarray(0, protocol.RESPONSE_HEADER_LENGTH));
  const msg = answer.subarray(protocol.RESPONSE_HEADER_LENGTH, protocol.RESPONSE_HEADER_LENGTH + h.msgLength);
  return h.flag === 0 && h.seq === 1 && msg.length === MESSAGE.length && msg.every((b, i) => b === MESSAGE[i]);
}
