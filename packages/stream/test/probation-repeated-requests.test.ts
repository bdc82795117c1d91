import { describe, expect, it } from 'vitest';
import { tcpTransport } from '@skein/transport-tcp';
import { nodeRuntime } from '@skein/runtime-node';
import { waitFor, within, cleanups } from '@skein/test-utils';
import { halfOpenConn, probationServer } from './probation-harness.js';
import { golden } from './golden.js';
import { ClientStream } from '../src/index.js';

/*
 * A connection sent away from probation is no longer ended at once: it drains, answering what
 * it sends meanwhile. A hostile peer may send its hello (or its credentials) again and again in
 * that time; each is refused, but the server says why it sends the connection away once, not
 * once per frame the peer chooses to send (a line per 30 bytes received would let one
 * connection fill the server's log).
 */

const cleanup = cleanups();

const t = tcpTransport(nodeRuntime);

async function start() {
  const judged: string[] = [];
  const authenticate = ({ text }: { text: string }) => (judged.push(text), { principal: text });
  // A tick far off: the drain ends when this test's peer ends its side, never between its frames.
  return { ...(await probationServer(cleanup, { authenticate, tickMs: 60_000 })), judged };
}

/** The golden hello, offering auth too (its answer then asks for credentials). */
function helloOfferingAuth(): Buffer {
  const b = Buffer.concat([golden.helloRequest, golden.authEntry]);
  b.writeUInt32LE(b.readUInt32LE(24) + golden.authEntry.length, 24);
  return b;
}

/** The golden credentials ("second"), with seq `seq`. */
function credentialsWithSeq(seq: number): Buffer {
  const b = Buffer.from(golden.credentials);
  b.writeBigUInt64LE(BigInt(seq), 8);
  return b;
}

/** The responses in `b`, by seq: their flag and body. */
function replies(b: Buffer): { seq: number; flag: number; body: string }[] {
  const out: { seq: number; flag: number; body: string }[] = [];
  for (let at = 0; at + 20 <= b.length; ) {
    const size = b.readUInt32LE(at + 4) + b.readUInt32LE(at + 16);
    if (at + 20 + size > b.length) break;
    out.push({ seq: Number(b.readBigUInt64LE(at + 8)), flag: b[at + 3]!, body: b.subarray(at + 20, at + 20 + size).toString('latin1') });
    at += 20 + size;
  }
  return out;
}

describe('a connection sent away from probation that keeps sending', () => {
  it('hellos sent again and again are each refused, and the server says why it ends the connection once', async () => {
    const s = await start();
    const { sock, closed, read } = halfOpenConn(s.port, cleanup);
    await waitFor(() => s.server.stats().connections === 2 || undefined, { what: 'the second connection let in on probation' });
    const hellos = 50;
    sock.write(Buffer.concat(Array.from({ length: hellos }, () => golden.helloRequest)));
    await waitFor(() => replies(read()).length >= hellos || undefined, { what: 'every hello answered' });
    sock.end();
    await within(closed, 10_000, 'the connection sent away ended');
    const answers = replies(read());
    // Each hello refused (never an agreement for a connection sent away)...
    expect(answers.every((a) => a.flag === 2 && a.body.startsWith('rpc_overloaded'))).toBe(true);
    expect(answers[0]!.body).toMatch(/^rpc_overloaded:clients at their cap/);
    // ...and the reason for ending it said once, whatever the peer sent.
    const endings = s.logger.lines.filter((l) => /clients at their cap/.test(l.msg ?? ''));
    expect(endings).toHaveLength(1);
    expect(s.kinds).toEqual(['client']);
  });

  it('credentials presented again after a refusal are refused without the hook, and the reason said once', async () => {
    const s = await start();
    const { sock, closed, read } = halfOpenConn(s.port, cleanup);
    await waitFor(() => s.server.stats().connections === 2 || undefined, { what: 'the second connection let in on probation' });
    sock.write(helloOfferingAuth());
    await waitFor(() => replies(read()).length >= 1 || undefined, { what: 'the hello answered' });
    const tries = 10;
    for (let i = 0; i < tries; i++) {
      sock.write(credentialsWithSeq(3 + i));
      await waitFor(() => replies(read()).some((a) => a.seq === 3 + i) || undefined, { what: `credentials ${i} answered` });
    }
    sock.end();
    await within(closed, 10_000, 'the connection sent away ended');
    const answers = replies(read()).filter((a) => a.seq >= 3);
    expect(answers).toHaveLength(tries);
    // The first is told why; none is granted.
    expect(answers[0]!.body).toMatch(/^rpc_overloaded:clients at their cap.*credentials/);
    expect(answers.every((a) => a.flag === 2 && a.body.startsWith('rpc_overloaded'))).toBe(true);
    expect(s.judged).toEqual(['second']);
    expect(s.logger.lines.filter((l) => /clients at their cap/.test(l.msg ?? ''))).toHaveLength(1);
  });
});
