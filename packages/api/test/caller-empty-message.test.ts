import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, invalidArgument, silentLogger } from '@skein/core';
import type { Caller } from '@skein/stream';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createClient, implement, method, service } from '../src/index.js';
import { serve } from './harness.js';

/*
 * A stub names the method in front of a built-in error's message (`Svc.op: ...`). An application's
 * Caller may fail a call with an RpcError whose message is empty (it withholds a server's words):
 * the stub's copy read `Svc.op: `, and under a user's stack formatter (Error.prepareStackTrace
 * writing `RpcError: ` for an empty message, where V8 writes `RpcError`) its stack's first line
 * read `RpcError: Svc.op: : `. An empty message reads as the code's wire string, as an error
 * that came over the wire with no words does. Real server, real connection.
 */

const Svc = service('Svc', { op: method<number, number>() });
const impl = implement(Svc, {
  op: () => {
    throw invalidArgument('words the carrier withholds');
  },
});

const cleanup = cleanups();

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as RpcError);

/** An application's carrier over a real connection: a server's refusal reaches its caller without words. */
async function wordlessCaller(): Promise<Caller> {
  const s = await serve({ codec: msgpackCodec, services: [impl], logger: silentLogger });
  cleanup.push(() => s.close());
  return {
    send(action, msg, opts, notify) {
      s.stream.send(action, msg, opts, (err, reply) => notify(err instanceof RpcError ? new RpcError(err.code, '', { cause: err }) : err, reply));
    },
  };
}

/** Runs `f` with a stack formatter as a user may install one (source-map handlers write the header so). */
async function underFormatter<T>(f: () => Promise<T>): Promise<T> {
  const saved = Error.prepareStackTrace;
  Error.prepareStackTrace = (err, frames) => `${err.name}: ${err.message}${frames.map((frame) => `\n    at ${frame}`).join('')}`;
  try {
    return await f();
  } finally {
    Error.prepareStackTrace = saved;
  }
}

describe('an RpcError with an empty message, named by the stub', () => {
  it('reads as its wire string after the method, no dangling colon', async () => {
    const client = createClient(Svc, await wordlessCaller(), { codec: msgpackCodec, logger: silentLogger });
    const err = (await failure(client.op(1)))!;
    expect(err.code).toBe(ErrorCode.InvalidArgument);
    expect(err.message).toBe('Svc.op: rpc_invalid_argument');
    expect(err.stack!.split('\n')[0]).toBe('RpcError: Svc.op: rpc_invalid_argument');
  });

  it("under a user's stack formatter: the same first line, and the Caller's frames under it", async () => {
    const client = createClient(Svc, await wordlessCaller(), { codec: msgpackCodec, logger: silentLogger });
    const err = (await underFormatter(() => failure(client.op(1))))!;
    const [head, ...frames] = err.stack!.split('\n');
    expect(head).toBe('RpcError: Svc.op: rpc_invalid_argument');
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.join('\n')).toContain('caller-empty-message.test.ts');
  });

  it("thrown from a Caller's send(), under a user's stack formatter", async () => {
    const throwing: Caller = {
      send() {
        throw new RpcError(ErrorCode.PermissionDenied, '');
      },
    };
    const client = createClient(Svc, throwing, { codec: msgpackCodec, logger: silentLogger });
    const err = (await underFormatter(() => failure(client.op(1))))!;
    expect(err.message).toBe('Svc.op: rpc_permission_denied');
    expect(err.stack!.split('\n')[0]).toBe('RpcError: Svc.op: rpc_permission_denied');
  });
});
