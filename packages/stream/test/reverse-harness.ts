import { deferred, waitFor } from '@skein/test-utils';
import net from 'node:net';
import type { CallOptions, Caller, RpcServer } from '../src/index.js';
import { HelloRole, encodeHello, receiveLimitsEntry, type HelloEntry } from '../src/wire/hello.js';
import { REQUEST_HEADER_LENGTH, readRequestHeader } from '../src/wire/protocol.js';
import { REVERSE_ANSWER_ACTION, reverseAnswerEntry } from '../src/wire/reverse-calls.js';
import type { ReverseCaller } from '../src/server/reverse-caller.js';
import { requestFrames, responseFrame } from './harness.js';

/*
 * What the tests of calls both ways share: a server's caller and a call through it as a promise,
 * a raw server that agrees them and then sends only what the test writes, and the answers it read.
 */

const MiB = 1024 * 1024;

/** A reverse call through `c`, as a promise of its reply's msg. */
export const sendBy = (c: Caller, action: string, msg: Uint8Array, opts: CallOptions = {}) =>
  new Promise<Uint8Array>((resolve, reject) => c.send(action, msg, opts, (err, reply) => (err ? reject(err) : resolve(reply!.msg))));

/** A server's caller on its one connection that agreed calls both ways. */
export async function callerOf(server: RpcServer): Promise<ReverseCaller> {
  const conn = await waitFor(() => server.openConnections().find((c) => c.caller !== undefined), { what: 'calls both ways agreed' });
  return conn.caller as ReverseCaller;
}

/**
 * A raw server that answers the hello with calls both ways and `entries` besides, then does only
 * what the test writes: frames no Skein server would send, or none. `deaf`: it reads nothing after
 * the hello (the client's answers back up in its send buffer until the test resumes the socket).
 * Resolves its socket; `received` is what it read.
 */
export async function scriptedReverseServer(cleanup: (() => unknown)[], entries: readonly HelloEntry[], deaf = false) {
  const chunks: Buffer[] = [];
  let receivedBytes = 0;
  const socket = deferred<net.Socket>();
  const server = net.createServer((s) => {
    cleanup.push(() => s.destroy());
    s.on('error', () => {});
    let greeted = false;
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      receivedBytes += c.length;
      if (greeted) return;
      const all = Buffer.concat(chunks);
      if (all.length < REQUEST_HEADER_LENGTH || all.length < REQUEST_HEADER_LENGTH + readRequestHeader(all.subarray(0, REQUEST_HEADER_LENGTH)).msgLength) return;
      greeted = true;
      s.write(responseFrame(0, 0, encodeHello(HelloRole.Answer, [receiveLimitsEntry(16 * MiB, 64 * MiB), reverseAnswerEntry(16 * MiB, 64 * MiB), ...entries])));
      if (deaf) s.pause();
      socket.resolve(s);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as net.AddressInfo;
  return { address: `127.0.0.1:${port}`, socket: socket.promise, received: () => Buffer.concat(chunks), receivedBytes: () => receivedBytes };
}

/** The reverse answers a raw server read: seq, flag, and the error string of flag 2. */
export const answersIn = (bytes: Buffer) =>
  requestFrames(bytes)
    .filter((r) => r.action === REVERSE_ANSWER_ACTION)
    .map((r) => ({ seq: r.seq, flag: r.flag, text: r.flag === 2 ? Buffer.from(r.msg.subarray(1)).toString() : undefined }));
