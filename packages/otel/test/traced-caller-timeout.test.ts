import { createClient, implement, method, service, type Filter } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, type Caller } from '@skein/stream';
import { cleanups, within } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { describe, expect, it } from 'vitest';
import { tracedCaller } from '../src/index.js';
import { telemetry } from './otel-harness.js';
import { startTraced, stopTraced } from './traced-server.js';

// A traced carrier says the default timeout of the one it wraps (`Caller.timeoutMs`): @skein/api
// bounds a client filter's wait for a call given no timeout by it. Hidden behind the wrapper, a
// `before` that never settles held such a call for ever.

const transport = tcpTransport(nodeRuntime);
const Svc = service('Svc', { run: method<number, number>() });
const cleanup = cleanups();
const NEVER: Filter = { before: () => new Promise<void>(() => {}) };

describe('tracedCaller and the default timeout of what it wraps', () => {
  it('passes it on, a stream carrier and a plain one, read when asked', async () => {
    const t = telemetry();
    const s = await startTraced([implement(Svc, { run: (n) => n })], t.otel);
    cleanup.push(() => stopTraced(s));
    const stream = await ClientStream.connect({ transport, address: s.peer.remote, timeoutMs: 200 });
    cleanup.push(() => stream.destroy());
    expect(tracedCaller(stream, t.otel).timeoutMs).toBe(200);
    let ms = 300;
    const plain: Caller = { send: (...a) => stream.send(...a), get timeoutMs() { return ms; } };
    const traced = tracedCaller(plain, t.otel);
    ms = 400;
    expect(traced.timeoutMs).toBe(400);
    // A client filter that never lets the call through: ended at the stream's timeout, never sent, so no span.
    const svc = createClient(Svc, tracedCaller(stream, t.otel), { codec: msgpackCodec, filters: [NEVER] });
    await expect(within(svc.run(1), 10_000)).rejects.toMatchObject({ code: ErrorCode.Timeout, retry: 'safe', message: 'Svc.run: timed out after 200 ms while a client filter awaited; never sent' });
    expect(t.spans.getFinishedSpans()).toEqual([]);
  });
});
