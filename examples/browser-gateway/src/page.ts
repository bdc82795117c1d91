// The browser side, bundled by esbuild --platform=browser: the page connects to the gateway
// over wss and exposes what a test drives through page.evaluate. It reports what it saw as
// plain data; the test judges.
import { createClient, type Client } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { RpcError } from '@skein/core';
import { ClientStream } from '@skein/stream';
import { wsTransport } from '@skein/transport-ws';
import { Gateway, OutOfStock } from './contract.js';

export interface SeenError {
  name: string;
  isRpcError: boolean;
  code?: number;
  codeName?: string;
  retry?: string;
  message: string;
}

function seen(err: unknown): SeenError {
  const e = err as Error;
  if (err instanceof RpcError) return { name: e.name, isRpcError: true, code: err.code, codeName: err.codeName, retry: err.retry, message: e.message };
  return { name: e?.name ?? typeof err, isRpcError: false, message: String(e?.message ?? err) };
}

async function outcome<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: SeenError }> {
  try {
    return { ok: true, value: await p };
  } catch (err) {
    return { ok: false, error: seen(err) };
  }
}

let stream: ClientStream | undefined;
let gateway: Client<typeof Gateway>;

const trial = {
  async connect(port: number): Promise<void> {
    stream = await ClientStream.connect({ transport: wsTransport(), address: `wss://127.0.0.1:${port}/skein` });
    gateway = createClient(Gateway, stream, { codec: msgpackCodec });
  },
  /** Connects and reports how it went, instead of throwing. */
  tryConnect: (port: number) => outcome(trial.connect(port)),
  async close(): Promise<void> {
    await stream?.close();
  },
  /** Reads `take` items of a long stream, then aborts it with an AbortController. */
  async itemsThenAbort(take: number) {
    const ac = new AbortController();
    const items: number[] = [];
    const end = await outcome(
      (async () => {
        for await (const { n } of await gateway.items({ count: 10_000, everyMs: 10 }, { signal: ac.signal })) {
          items.push(n);
          if (items.length === take) ac.abort();
        }
      })(),
    );
    return { items, end };
  },
  /** Reads a long stream under a deadline of `timeoutMs`. */
  async itemsWithin(timeoutMs: number) {
    const items: number[] = [];
    const end = await outcome(
      (async () => {
        for await (const { n } of await gateway.items({ count: 10_000, everyMs: 10 }, { timeoutMs })) items.push(n);
      })(),
    );
    return { items: items.length, end };
  },
  /** Starts reading a long stream and leaves it running (the test then closes the page). */
  itemsForever(): void {
    void (async () => {
      for await (const _ of await gateway.items({ count: 1_000_000, everyMs: 10 })) (window as unknown as { got?: number }).got = ((window as unknown as { got?: number }).got ?? 0) + 1;
    })().catch(() => {});
  },
  async itemsAll(count: number) {
    const items: number[] = [];
    for await (const { n } of await gateway.items({ count, everyMs: 0 })) items.push(n);
    return items;
  },
  check: (amount: number) => outcome(gateway.check({ amount })),
  crash: () => outcome(gateway.crash({})),
  slow: (ms: number, timeoutMs: number) => outcome(gateway.slow({ ms }, { timeoutMs })),
  /** A unary call aborted by its AbortSignal after `afterMs`. */
  slowAborted(afterMs: number) {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), afterMs);
    return outcome(gateway.slow({ ms: 30_000 }, { signal: ac.signal }));
  },
  async reserve(qty: number) {
    const r = await gateway.reserve.result({ qty });
    return r.ok ? { ok: true, value: r.value } : { ok: false, outOfStock: r.error instanceof OutOfStock, error: seen(r.error) };
  },
  charge: (orderId: string, holdMs: number) => outcome(gateway.charge({ orderId, holdMs })),
};

export type Trial = typeof trial;
(window as unknown as { trial: Trial }).trial = trial;
