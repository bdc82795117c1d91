import { cborCodec } from '@skein/codec-cbor';
import { msgpackCodec } from '@skein/codec-msgpack';
import { silentLogger, type Logger } from '@skein/core';
import { fullGc, portOf, waitFor, cleanups } from '@skein/test-utils';
import { ClientStream, RpcServer, type Caller } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, service, type Filter } from '../src/index.js';
import { serve, transport } from './harness.js';

/**
 * A client made again over the same caller with the same definition and options is the one made
 * before (a handler that calls its client back makes one per call): what must hold is that it is
 * only ever handed out where a new one would behave the same.
 */

const cleanup = cleanups();

const Calc = service('Calc', { add: method<{ a: number; b: number }, number>(), neg: method<number, number>() });
const Other = service('Other', { add: method<{ a: number; b: number }, number>() });
const codec = msgpackCodec;
const caller: Caller = { send: () => {} };

describe('createClient made again', () => {
  it('is the same client for the same caller, definition, codec, timeout and logger', () => {
    const logger: Logger = { ...silentLogger };
    expect(createClient(Calc, caller, { codec })).toBe(createClient(Calc, caller, { codec }));
    expect(createClient(Calc, caller, { codec, timeoutMs: 50, logger })).toBe(createClient(Calc, caller, { codec, timeoutMs: 50, logger }));
    expect(createClient(Calc, caller, { codec, filters: [] })).toBe(createClient(Calc, caller, { codec }));
  });

  it('is a client of its own when anything it is made with differs', () => {
    const base = createClient(Calc, caller, { codec });
    const differ = [
      createClient(Calc, { send: () => {} }, { codec }),
      createClient(Other, caller, { codec }),
      createClient(Calc, caller, { codec: cborCodec }),
      createClient(Calc, caller, { codec, timeoutMs: 50 }),
      createClient(Calc, caller, { codec, logger: { ...silentLogger } }),
    ];
    expect(new Set([base, ...differ]).size).toBe(1 + differ.length);
  });

  it('is made anew with filters, which may keep state of their own', () => {
    const filters: Filter[] = [{ before: () => undefined }];
    expect(createClient(Calc, caller, { codec, filters })).not.toBe(createClient(Calc, caller, { codec, filters }));
    expect(createClient(Calc, caller, { codec, filters })).not.toBe(createClient(Calc, caller, { codec }));
  });

  it('over one caller with many definitions, each client is still its own definition', async () => {
    const server = new RpcServer({
      logger: silentLogger,
      dispatch: createServiceDispatch({
        codec,
        logger: silentLogger,
        services: Array.from({ length: 12 }, (_, i) => implement(service(`S${i}`, { who: method<void, string>() }), { who: () => `S${i}` })),
      }),
    });
    cleanup.push(() => server.close());
    const a = await server.listen(transport, '127.0.0.1:0');
    const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}`, logger: silentLogger });
    cleanup.push(() => stream.destroy());
    const defs = Array.from({ length: 12 }, (_, i) => service(`S${i}`, { who: method<void, string>() }));
    // Twice round more definitions than one caller keeps: the clients replaced are made again, right.
    for (let round = 0; round < 2; round++) {
      const who = await Promise.all(defs.map((d) => createClient(d, stream, { codec }).who()));
      expect(who).toEqual(defs.map((_, i) => `S${i}`));
    }
  });

  it('does not keep its caller alive', async () => {
    let collected = false;
    const registry = new FinalizationRegistry(() => (collected = true));
    (() => {
      const gone: Caller = { send: () => {} };
      registry.register(gone, 'caller');
      createClient(Calc, gone, { codec });
    })();
    await waitFor(() => {
      fullGc();
      return collected;
    });
  });
});

describe('createClient made again, over a real connection', () => {
  const calc = implement(Calc, { add: ({ a, b }) => a + b, neg: (n) => -n });

  it("hands out no method another's code can change: a stub patched on one client is not the next one's", async () => {
    const s = await serve({ codec, services: [calc], logger: silentLogger });
    cleanup.push(() => s.close());
    const first = createClient(Calc, s.stream, { codec });
    const patched = async (): Promise<never> => {
      throw new Error('patched by the code that made the first client');
    };
    // A test's spy, a library's wrapper: set on the method the first client handed out (refused once frozen).
    try {
      Object.assign(first.add, { result: patched });
    } catch {
      // refused: nothing was changed
    }
    try {
      Object.assign(first.neg, { extra: true });
    } catch {
      // refused
    }
    const next = createClient(Calc, s.stream, { codec });
    expect(await next.add.result({ a: 1, b: 2 })).toEqual({ ok: true, value: 3 });
    expect('extra' in next.neg).toBe(false);
    expect(await next.neg(4)).toBe(-4);
  });

  it('takes filters: null as no filters, as it did before clients were kept (a JS caller, a config read from JSON)', async () => {
    const s = await serve({ codec, services: [calc], logger: silentLogger });
    cleanup.push(() => s.close());
    const client = createClient(Calc, s.stream, { codec, filters: null as unknown as Filter[] });
    expect(await client.add({ a: 2, b: 5 })).toBe(7);
    expect(createClient(Calc, s.stream, { codec, filters: null as unknown as Filter[] })).toBe(client);
  });
});
