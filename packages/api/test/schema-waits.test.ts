import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, silentLogger, type RpcError } from '@skein/core';
import { deferred, portOf, within, cleanups } from '@skein/test-utils';
import { ClientStream, RpcServer, type Caller } from '@skein/stream';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, serverStream, service } from '../src/index.js';
import { transport } from './harness.js';

// An asynchronous schema (a zod `refine` that asks a database) must not hold a call past its
// bounds, as an awaiting filter does not: on the client its signal, the ctx it is made for and
// its timeout end it, never sent; on the server `handlerTimeoutMs` answers it, handler unrun.

const cleanup = cleanups();

/** A Standard Schema that passes its value once `gate` opens (never, unless the test opens it). */
function gatedSchema() {
  const gate = deferred<void>();
  const entered = deferred<void>();
  const schema: StandardSchemaV1<number, number> = {
    '~standard': { version: 1, vendor: 'test', validate: (v) => (entered.resolve(), gate.promise.then(() => ({ value: v as number }))) },
  };
  return { schema, gate, entered: entered.promise };
}

// The server's definitions check nothing; the client's are given a gated schema per test.
const Plain = service('Svc', { run: method<number, number>(), watch: serverStream<number, number>() });

/** A server of `Svc` (its own definition: `def`) and a connected, hello-answered stream to it. */
async function start(def: typeof Plain = Plain, handlerTimeoutMs?: number) {
  let runs = 0;
  const server = new RpcServer({
    dispatch: createServiceDispatch({
      codec: msgpackCodec,
      logger: silentLogger,
      handlerTimeoutMs,
      services: [
        implement(def, {
          run: (n) => (runs++, n),
          watch: async function* (n) {
            runs++;
            yield n;
          },
        }),
      ],
    }),
  });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  // No default timeout of its own that would end a hung call for the server.
  const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}`, timeoutMs: 600_000 });
  cleanup.push(() => stream.destroy());
  await stream.ping(); // the hello is answered: calls carry their cancel
  return { stream, runs: () => runs };
}

function clientDef(schema: StandardSchemaV1<number, number>) {
  return service('Svc', { run: method({ input: schema }) as unknown as typeof Plain.methods.run, watch: serverStream<number, number>({ input: schema }) });
}

describe('a client input schema that awaits', () => {
  it('is cut short by the call signal: Cancelled at once, never sent, even once the schema resolves', async () => {
    const { stream, runs } = await start();
    const g = gatedSchema();
    let sent = 0;
    const counting: Caller = { send: (action, msg, o, notify) => (sent++, stream.send(action, msg, o, notify)) };
    const svc = createClient(clientDef(g.schema), counting, { codec: msgpackCodec });
    const ac = new AbortController();
    const call = svc.run(1, { signal: ac.signal }).catch((e: RpcError) => e);
    await g.entered;
    ac.abort();
    expect(await within(call, 5000, 'the cancelled call')).toMatchObject({ code: ErrorCode.Cancelled });
    g.gate.resolve();
    // One more call on the same connection, after the gate: a call sent late would have run first.
    expect(await createClient(Plain, stream, { codec: msgpackCodec }).run(2)).toBe(2);
    expect(runs()).toBe(1);
    expect(sent).toBe(0);
  });

  it('is bounded by the call timeout: Timeout, retry-safe, never sent', async () => {
    const { stream, runs } = await start();
    const g = gatedSchema();
    const svc = createClient(clientDef(g.schema), stream, { codec: msgpackCodec, timeoutMs: 200 });
    const err = await within(svc.run(1).catch((e: RpcError) => e), 5000, 'the call');
    expect(err).toMatchObject({ code: ErrorCode.Timeout, retry: 'safe' });
    g.gate.resolve();
    expect(await createClient(Plain, stream, { codec: msgpackCodec }).run(2)).toBe(2);
    expect(runs()).toBe(1);
  });

  it("is cut short when the handler it calls for is cancelled: the cancel reaches through the hop", async () => {
    const down = await start();
    const g = gatedSchema();
    const downstream = createClient(clientDef(g.schema), down.stream, { codec: msgpackCodec });
    const inner = deferred<string>();
    const Front = service('Front', { relay: method<number, string>() });
    const front = new RpcServer({
      dispatch: createServiceDispatch({
        codec: msgpackCodec,
        logger: silentLogger,
        services: [implement(Front, { relay: (n, ctx) => downstream.run(n, { ctx }).then(() => 'ok', (e: RpcError) => (inner.resolve(e.codeName), 'failed')) })],
      }),
    });
    const a = await front.listen(transport, '127.0.0.1:0');
    cleanup.push(() => front.close());
    const s = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}` });
    cleanup.push(() => s.destroy());
    await s.ping();
    const ac = new AbortController();
    const outer = createClient(Front, s, { codec: msgpackCodec }).relay(1, { signal: ac.signal }).catch((e: RpcError) => e.codeName);
    await g.entered;
    ac.abort();
    expect(await outer).toBe('Cancelled');
    expect(await within(inner.promise, 5000, "the handler's downstream call")).toBe('Cancelled');
    g.gate.resolve();
    expect(await createClient(Plain, down.stream, { codec: msgpackCodec }).run(2)).toBe(2);
    expect(down.runs()).toBe(1);
  });

  it("of a server stream's argument is cut short by the signal too: the stream is never opened", async () => {
    const { stream, runs } = await start();
    const g = gatedSchema();
    const svc = createClient(clientDef(g.schema), stream, { codec: msgpackCodec });
    const ac = new AbortController();
    const opened = svc.watch(1, { signal: ac.signal }).catch((e: RpcError) => e);
    await g.entered;
    ac.abort();
    expect(await within(opened, 5000, 'the cancelled stream')).toMatchObject({ code: ErrorCode.Cancelled });
    g.gate.resolve();
    expect(await createClient(Plain, stream, { codec: msgpackCodec }).run(2)).toBe(2);
    expect(runs()).toBe(1);
  });
});

describe('a server input schema that awaits', () => {
  it('is bounded by handlerTimeoutMs: the call is answered Timeout, and its handler never starts', async () => {
    const g = gatedSchema();
    const Checked = service('Svc', { run: method({ input: g.schema }) as unknown as typeof Plain.methods.run, watch: serverStream<number, number>() });
    const { stream, runs } = await start(Checked, 200);
    // A plain call (no timeout, no signal): nothing but the server's own bound can end it.
    const err = await within(createClient(Plain, stream, { codec: msgpackCodec }).run(1).catch((e: RpcError) => e), 10_000, 'the call');
    expect(err).toMatchObject({ code: ErrorCode.Timeout });
    g.gate.resolve();
    expect(await createClient(Plain, stream, { codec: msgpackCodec }).run(2)).toBe(2);
    expect(runs()).toBe(1);
  });

  it('on the result is bounded by handlerTimeoutMs too: the call is answered Timeout', async () => {
    const g = gatedSchema();
    const Checked = service('Svc', { run: method({ input: undefined as unknown as StandardSchemaV1<number, number>, output: g.schema }) as unknown as typeof Plain.methods.run, watch: serverStream<number, number>() });
    const { stream, runs } = await start(Checked, 200);
    const err = await within(createClient(Plain, stream, { codec: msgpackCodec }).run(1).catch((e: RpcError) => e), 10_000, 'the call');
    expect(err).toMatchObject({ code: ErrorCode.Timeout });
    expect(runs()).toBe(1);
  });

  it("of a server stream's argument is bounded by it too", async () => {
    const g = gatedSchema();
    const Checked = service('Svc', { run: method<number, number>(), watch: serverStream<number, number>({ input: g.schema }) });
    const { stream, runs } = await start(Checked, 200);
    const read = async (): Promise<void> => {
      for await (const _ of await createClient(Plain, stream, { codec: msgpackCodec }).watch(1)) void _;
    };
    const err = await within(read().catch((e: RpcError) => e), 10_000, 'the stream');
    expect(err).toMatchObject({ code: ErrorCode.Timeout });
    g.gate.resolve();
    expect(await createClient(Plain, stream, { codec: msgpackCodec }).run(2)).toBe(2);
    expect(runs()).toBe(1);
  });
});
