import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { cleanups, deferred, portOf, waitFor, within } from '@skein/test-utils';
import { ClientStream, FailoverPool, RpcServer, type RpcServerOptions } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { clientStream, createClient, createServiceDispatch, implement, service, type CallContext, type Client } from '../src/index.js';
import { transport } from './harness.js';

/*
 * A client stream (an upload) relayed through a hop: the front's handler opens the same upload
 * on a back through a FailoverPool with `{ ctx }` and hands it the client's items. A back that
 * stops reading holds the client's producer back through the front (each hop's credit, README
 * "Streams"); an item over the front's limits ends that client's connection alone, with a typed
 * error, cancels its relayed upload on the back, and leaves the front's pooled connection to
 * the back, and the uploads of others over it, going; an upload that never ends is cut at the
 * front's stream bound, on the back too; and a client that holds as many uploads open as the
 * front takes on its connection fills no more than one of the pool's connections to the back
 * (before, every other client's relayed upload was refused Overloaded: the pool never opened a
 * second connection for streams).
 */

const cleanup = cleanups();
const codec = msgpackCodec;
const Files = service('Files', { upload: clientStream<Uint8Array, number>() });

/** Each item's payload: 4 KiB, so a 1 MiB window holds about 250 of them. */
const ITEM = 4096;
/** An item's credit cost: its msgpack bytes (bin 16: 3 bytes of header) and 32 for its frame. */
const COST = ITEM + 3 + 32;
/** Every stream window on the way (the servers' receive window; a client's `streamWindowBytes` default). */
const WINDOW = 1024 * 1024;

type BackUpload = (chunks: AsyncIterable<Uint8Array>, ctx: CallContext) => Promise<number>;

type ServerOptions = Omit<RpcServerOptions, 'dispatch'>;

async function listen(upload: BackUpload, opts: ServerOptions = {}, streamTimeoutMs?: number): Promise<string> {
  const dispatch = createServiceDispatch({ codec, logger: silentLogger, streamTimeoutMs, services: [implement(Files, { upload })] });
  const server = new RpcServer({ dispatch, closeWaitMs: 0, logger: silentLogger, ...opts });
  cleanup.push(() => server.close());
  return `127.0.0.1:${portOf(await server.listen(transport, '127.0.0.1:0'))}`;
}

interface RelayOptions {
  /** The front's server options. */
  front?: ServerOptions;
  /** The back's. */
  back?: ServerOptions;
  /** The front dispatch's bound on streams. */
  streamTimeoutMs?: number;
}

/** The back, behind a front that relays each upload to it through one FailoverPool; `front` gives a typed client of the front. */
async function relayTo(back: BackUpload, o: RelayOptions = {}): Promise<{ front(): Promise<Client<typeof Files>> }> {
  const pool = new FailoverPool({ transport, servers: [await listen(back, o.back)], logger: silentLogger });
  cleanup.push(() => pool.close());
  const down = createClient(Files, pool, { codec });
  const address = await listen((chunks, ctx) => down.upload(chunks, { ctx }), o.front, o.streamTimeoutMs);
  return {
    async front() {
      const stream = await ClientStream.connect({ transport, address, logger: silentLogger });
      cleanup.push(() => stream.destroy());
      return createClient(Files, stream, { codec });
    },
  };
}

/** Reads every item; answers how many. */
const countAll: BackUpload = async (chunks) => {
  let n = 0;
  for await (const _ of chunks) n++;
  return n;
};

/** Resolves when `ctx.signal` fires, with its reason's code name. */
function whenSignalled(ctx: CallContext): Promise<string> {
  return new Promise((resolve) => {
    const told = () => resolve((ctx.signal.reason as RpcError).codeName);
    if (ctx.signal.aborted) told();
    else ctx.signal.addEventListener('abort', told, { once: true });
  });
}

describe('a client stream relayed through a hop with { ctx }', () => {
  it("a back that stops reading holds the client's producer: what it makes stays within what the back read and the two windows", async () => {
    /** Items the back reads before it stops. */
    const READ = 8;
    /** Far past the bound: a producer not held back would get this far (and stop, so that a mutant does not fill memory). */
    const LIMIT = 5_000;
    const stopped = deferred<void>();
    const backEnded = deferred<string>();
    let uploads = 0;
    const relay = await relayTo(async (chunks, ctx) => {
      // The first upload is the held one; the others are read whole.
      if (uploads++ !== 0) return countAll(chunks, ctx);
      let n = 0;
      for await (const _ of chunks) if (++n === READ) break;
      stopped.resolve();
      // Reads no more: the client's items wait in this hop's window, then in the front's.
      backEnded.resolve(await whenSignalled(ctx));
      return n;
    });
    let produced = 0;
    async function* items() {
      while (produced < LIMIT) {
        produced++;
        yield new Uint8Array(ITEM);
      }
    }
    const files = await relay.front();
    const ac = new AbortController();
    const held = files.upload(items(), { signal: ac.signal }).catch((e: unknown) => e);
    await within(stopped.promise, 10_000, 'the back to stop reading');
    // Both windows fill: the back's (from the front) and the front's (from the client), less up to
    // a quarter the front read and has not given back yet (credit goes back a quarter at a time):
    // 447 items here, of at most 520.
    await waitFor(() => produced >= Math.floor((1.5 * WINDOW) / COST), { what: 'the client to fill both windows', timeoutMs: 15_000 });

    // Meanwhile, over the same connections (the client's to the front, the front's pool's to the
    // back), another upload of more than both windows goes through whole.
    expect(await files.upload(Array.from({ length: 600 }, () => new Uint8Array(ITEM)))).toBe(600);

    // Held: no more than the back read, a window on each hop, an item past each hop's credit and one in each relay's hands.
    const bound = READ + Math.ceil((2 * WINDOW) / COST) + 4;
    expect(produced).toBeLessThanOrEqual(bound);

    ac.abort();
    expect(await within(backEnded.promise, 10_000, "the back's handler to be cancelled")).toBe('Cancelled');
    expect(((await held) as RpcError).code).toBe(ErrorCode.Cancelled);
  });

  it("an item over the front's limits fails that upload FrameTooLarge and cancels it on the back; another's upload over the same pool finishes whole", async () => {
    const started = deferred<void>();
    const cut = deferred<string>();
    const honestReading = deferred<void>();
    let uploads = 0;
    const relay = await relayTo(
      async (chunks, ctx) => {
        // The first upload is the hostile one: its handler reports how it ended.
        if (uploads++ === 0) {
          void whenSignalled(ctx).then(cut.resolve);
          started.resolve();
          return countAll(chunks, ctx);
        }
        let n = 0;
        for await (const _ of chunks) if (++n === 10) honestReading.resolve();
        return n;
      },
      { front: { limits: { maxMessage: 1024 } } },
    );
    const hostile = await relay.front();
    const honest = await relay.front();
    const oversized = deferred<void>();
    async function* overlong() {
      yield new Uint8Array(10);
      await oversized.promise;
      yield new Uint8Array(4 * 1024); // past the front's 1 KiB
      await new Promise(() => {}); // and never ends: only the front can end it
    }
    const failed = hostile.upload(overlong()).catch((e: unknown) => e);
    await within(started.promise, 10_000, "the hostile upload's relay to reach the back");
    // The honest upload is open on the back, through the same front and pool, when the hostile one is cut.
    const gate = deferred<void>();
    async function* honestItems() {
      for (let i = 0; i < 10; i++) yield new Uint8Array(10);
      await gate.promise;
      for (let i = 0; i < 10; i++) yield new Uint8Array(10);
    }
    const whole = honest.upload(honestItems()).catch((e: unknown) => e);
    await within(honestReading.promise, 10_000, "the honest upload's first items to reach the back");
    oversized.resolve();

    const err = await within(failed, 10_000, 'the hostile upload to fail');
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(ErrorCode.FrameTooLarge);
    expect(await within(cut.promise, 10_000, "the relayed upload's handler on the back to be cancelled")).toBe('Cancelled');
    gate.resolve();
    expect(await within(whole, 10_000, 'the honest upload to finish')).toBe(20);
  });

  it("an upload that never ends is bounded by the front's streamTimeoutMs: Timeout to its client, and cancelled on a back that stopped reading", async () => {
    const stopped = deferred<void>();
    const backEnded = deferred<string>();
    let uploads = 0;
    const relay = await relayTo(
      async (chunks, ctx) => {
        // The first upload is the endless one; the others are read whole.
        if (uploads++ !== 0) return countAll(chunks, ctx);
        for await (const _ of chunks) break;
        stopped.resolve();
        // Reads no more: the front's relay soon waits for this hop's credit, which never comes.
        backEnded.resolve(await whenSignalled(ctx));
        return 0;
      },
      { streamTimeoutMs: 200 },
    );
    async function* endless() {
      for (;;) yield new Uint8Array(ITEM);
    }
    const files = await relay.front();
    const err = await within(
      files.upload(endless()).catch((e: unknown) => e),
      10_000,
      'the endless upload to end',
    );
    await stopped.promise;
    expect((err as RpcError).code).toBe(ErrorCode.Timeout);
    expect(await within(backEnded.promise, 10_000, "the back's handler to be cancelled")).toBe('Cancelled');
    // The client's connection goes on: another upload through the front finishes.
    expect(await files.upload([new Uint8Array(ITEM)])).toBe(1);
  });

  it('a client holding as many uploads open as the front takes on its connection keeps no other client from the back', async () => {
    // Front and back take as many streams per connection (as with their defaults, 1024): the
    // front's pool to the back must open another connection for the next relayed upload.
    const CAP = 8;
    const caps = { maxInFlightPerConn: CAP };
    let open = 0;
    const allOpen = deferred<void>();
    const relay = await relayTo(
      async (chunks) => {
        if (++open === CAP) allOpen.resolve();
        let n = 0;
        for await (const _ of chunks) n++;
        return n;
      },
      { front: caps, back: caps },
    );
    const holder = await relay.front();
    const stop = deferred<void>();
    async function* held() {
      yield new Uint8Array(1);
      await stop.promise;
    }
    const holding = Array.from({ length: CAP }, () => holder.upload(held()).catch((e: unknown) => e));
    await within(allOpen.promise, 10_000, "the holder's uploads to be open on the back");

    const other = await relay.front();
    expect(await within(other.upload([new Uint8Array(1), new Uint8Array(1)]), 10_000, "the other client's upload")).toBe(2);
    stop.resolve();
    expect(await Promise.all(holding)).toEqual(Array.from({ length: CAP }, () => 1));
  });
});
