import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import type { Deferred } from '@skein/test-utils';
import { RpcServer, createRouter } from '../src/index.js';
import { transport } from './harness.js';
import { str } from './pool-harness.js';

/*
 * One generation of a server restarted behind one address (the transparent-retry tests): the
 * old one drains while the next listens on the same port. Every run of a handler is listed in
 * `ledger` (`id name`), so a call that ran twice, or on the wrong generation, shows.
 */

const text = new TextDecoder();

/** One generation of the server: `charge` is not idempotent, so the ledger lists every run (`id name`). */
export async function generation(name: string, port: number, ledger: string[], gate: Deferred<void>, cleanup: (() => unknown)[]): Promise<RpcServer> {
  const server = new RpcServer({
    dispatch: createRouter(
      {
        hold: () => gate.promise.then(() => str(name)),
        charge: (req) => {
          ledger.push(`${text.decode(req.msg)} ${name}`);
          return str(name);
        },
        // Streams: each run is listed as well. `count` streams its opening number's items.
        count: async (req) => {
          ledger.push(`${text.decode(req.msg)} ${name}`);
          for (let i = 1; i <= 5; i++) await req.stream!.write(str(`${name}${i}`));
          return str(name);
        },
        // Speaks first, then echoes the client's items until its end.
        chat: async (req) => {
          ledger.push(`${text.decode(req.msg)} ${name}`);
          await req.stream!.write(str(`hello from ${name}`));
          let n = 0;
          for await (const item of req.stream!) {
            n++;
            await req.stream!.write(str(`${name}:${text.decode(item.msg)}`));
          }
          return str(`${n} items`);
        },
        // Reads the client's items to their end; answers with them joined: what reached it, in order.
        collect: async (req) => {
          ledger.push(`${text.decode(req.msg)} ${name}`);
          const got: string[] = [];
          for await (const item of req.stream!) got.push(text.decode(item.msg));
          return str(got.join(','));
        },
        // Answers with the ms its deadline leaves it ('none' without one): the time a resend or reopen was given.
        budget: (req) => {
          ledger.push(`${text.decode(req.msg)} ${name}`);
          const left = req.remainingMs();
          return str(left === undefined ? 'none' : String(Math.round(left)));
        },
        // A handler passing on a downstream's Closed: it ran, so its answer carries a detail.
        passOn: (req) => {
          ledger.push(`${text.decode(req.msg)} ${name}`);
          throw new RpcError(ErrorCode.Closed, 'the ledger downstream is closing');
        },
      },
      silentLogger,
    ),
    closeWaitMs: 10_000,
    // A drained connection ends once it is quiet for a tick (while a call runs on it, it stays):
    // 100 ms rather than the default second spares each test's `close()` a second or two.
    tickMs: 100,
  });
  cleanup.push(() => server.close());
  await server.listen(transport, `127.0.0.1:${port}`);
  return server;
}
