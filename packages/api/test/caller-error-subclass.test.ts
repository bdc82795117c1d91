import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, invalidArgument, silentLogger, type RpcErrorOptions } from '@skein/core';
import type { Caller } from '@skein/stream';
import { expect, it } from 'vitest';
import { createClient, implement, method, service } from '../src/index.js';
import { serve } from './harness.js';
import { cleanups } from '@skein/test-utils';

/*
 * A typed stub names the method in every built-in error (`Svc.op: ...`) on a copy, since the
 * error it got may be shared. The copy was a plain RpcError: an application's Caller that fails
 * calls with its own RpcError subclass (a tenant's quota, say) lost it, so the application's
 * `err instanceof QuotaError` was false and the subclass's fields were gone. No copy can be of
 * the subclass (its private fields are made by its constructor alone: a copy given its
 * prototype had getters that threw), so the stub hands on the subclass's error itself, unnamed.
 */

class QuotaError extends RpcError {
  constructor(
    readonly tenant: string,
    message: string,
    options?: RpcErrorOptions,
    code: ErrorCode = ErrorCode.Overloaded,
  ) {
    super(code, message, options);
  }
  /** A method of the subclass's own, on its prototype. */
  get quotaKey(): string {
    return `quota/${this.tenant}`;
  }
}

const Svc = service('Svc', { op: method<number, number>() });
const impl = implement(Svc, {
  op: () => {
    throw invalidArgument('over the tenant\'s quota');
  },
});

const cleanup = cleanups();

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as Error);

function expectQuotaError(err: Error | undefined, original: QuotaError): void {
  expect(err).toBeInstanceOf(QuotaError);
  const q = err as QuotaError;
  expect(q.tenant).toBe('acme');
  expect(q.quotaKey).toBe('quota/acme');
  expect(q.code).toBe(ErrorCode.Overloaded);
  expect(q.retry).toBe(original.retry);
  expect(q.downstream).toBe(true);
  // The Caller's own error, as it made it: its message is its own (no copy could keep its class).
  expect(q).toBe(original);
  expect(original.message).not.toMatch(/^Svc\.op: /);
}

it('an RpcError subclass a Caller fails a call with reaches the stub\'s user as that very error', async () => {
  const s = await serve({ codec: msgpackCodec, services: [impl], logger: silentLogger });
  cleanup.push(() => s.close());
  let last: QuotaError | undefined;
  // An application's carrier over a real connection: it turns the server's refusals into its own error type.
  const quotaCaller: Caller = {
    send(action, msg, opts, notify) {
      s.stream.send(action, msg, opts, (err, reply) => {
        if (err instanceof RpcError) notify((last = new QuotaError('acme', err.message, { cause: err, retry: 'idempotent' })), null);
        else notify(err, reply);
      });
    },
  };
  const client = createClient(Svc, quotaCaller, { codec: msgpackCodec, logger: silentLogger });
  const err = await failure(client.op(1));
  expectQuotaError(err, last!);
  expect((err as QuotaError).cause).toBe(last!.cause);
});

it('an RpcError subclass a Caller throws from send() reaches the stub\'s user as that very error', async () => {
  const thrown = new QuotaError('acme', 'no budget left');
  const throwing: Caller = {
    send() {
      throw thrown;
    },
  };
  const client = createClient(Svc, throwing, { codec: msgpackCodec, logger: silentLogger });
  expectQuotaError(await failure(client.op(1)), thrown);
});

it('an RpcError subclass explained by the stub (a bare not-found) stays that subclass too', async () => {
  const bare = new QuotaError('acme', 'rpc_method_notfound', {}, ErrorCode.Method);
  const notifying: Caller = {
    send(_action, _msg, _opts, notify) {
      notify(bare, null);
    },
  };
  const err = await failure(createClient(Svc, notifying, { codec: msgpackCodec, logger: silentLogger }).op(1));
  expect(err).toBe(bare);
  expect((err as QuotaError).tenant).toBe('acme');
  expect((err as QuotaError).code).toBe(ErrorCode.Method);
});

/** A subclass that keeps its state in a private field, as modern classes do. */
class TenantError extends RpcError {
  readonly #tenant: string;
  constructor(tenant: string, message: string) {
    super(ErrorCode.Overloaded, message);
    this.#tenant = tenant;
  }
  get tenant(): string {
    return this.#tenant;
  }
}

it('an RpcError subclass with private fields reaches the stub\'s user with its getters working', async () => {
  const thrown = new TenantError('acme', 'no budget left');
  const throwing: Caller = {
    send() {
      throw thrown;
    },
  };
  const err = await failure(createClient(Svc, throwing, { codec: msgpackCodec, logger: silentLogger }).op(1));
  expect(err).toBeInstanceOf(TenantError);
  // Where `instanceof` lets the application's error handling in, its getters must not throw.
  expect((err as TenantError).tenant).toBe('acme');
});
