// The backend: Store's handlers, recording what they saw so that a test can tell what reached
// the second hop (a cancel, a deadline, how many times a charge ran).
import { createServiceDispatch, implement } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { RpcServer } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { OutOfStock, Store } from './contract.js';

/** What the backend saw: the test's window into the second hop. */
export class StoreLog {
  itemsOpened = 0;
  /** Streams whose handler saw ctx.signal abort (the client went away). */
  itemsCancelled = 0;
  /** Streams whose generator was closed (returned) before it gave every item. */
  itemsClosedEarly = 0;
  /** The time left each stream was opened with (undefined: no deadline reached the store). */
  itemsRemainingMs: Array<number | undefined> = [];
  slowSaw: Array<{ deadline: number | undefined; remainingMs: number; now: number; aborted: boolean }> = [];
  charges: string[] = [];
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });

export function storeService(log: StoreLog) {
  return implement(Store, {
    async *items({ count, everyMs }, ctx) {
      log.itemsOpened++;
      log.itemsRemainingMs.push(ctx.remainingMs());
      ctx.signal.addEventListener('abort', () => log.itemsCancelled++, { once: true });
      let n = 0;
      try {
        for (; n < count; n++) {
          await sleep(everyMs, ctx.signal);
          if (ctx.signal.aborted) return;
          yield { n };
        }
      } finally {
        if (n < count) log.itemsClosedEarly++;
      }
    },
    check: ({ amount }) => {
      if (amount < 0) throw new RpcError(ErrorCode.InvalidArgument, `amount must be at least 0, got ${amount}`);
      return { ok: true as const };
    },
    crash: () => {
      throw new Error('store: connection to db-7.internal:5432 refused (password=hunter2)');
    },
    slow: async ({ ms }, ctx) => {
      const seen = { deadline: ctx.deadline, remainingMs: ctx.remainingMs()!, now: performance.now(), aborted: false };
      log.slowSaw.push(seen);
      await sleep(ms, ctx.signal);
      seen.aborted = ctx.signal.aborted;
      return { deadline: ctx.deadline ?? null };
    },
    reserve: ({ qty }) => {
      if (qty > 3) throw new OutOfStock();
      return { reserved: qty };
    },
    charge: async ({ orderId, holdMs }, ctx) => {
      log.charges.push(orderId);
      await sleep(holdMs, ctx.signal);
      return { charged: orderId };
    },
  });
}

/** Serves Store over TCP on a free port of 127.0.0.1. */
export async function serveStore(log: StoreLog): Promise<{ server: RpcServer; address: string }> {
  const server = new RpcServer({ dispatch: createServiceDispatch({ codec: msgpackCodec, services: [storeService(log)], logger: silentLogger }) });
  const bound = await server.listen(tcpTransport(nodeRuntime), { host: '127.0.0.1', port: 0 });
  return { server, address: `127.0.0.1:${'port' in bound ? bound.port : 0}` };
}
