// The two services of the browser-gateway example, as a user writes them from docs/getting-started.md and
// @skein/api's README: the browser calls Gateway; Gateway's handlers call Store.
import { method, serverStream, service } from '@skein/api';
import { codeErrors } from '@skein/core';

/** A declared error, raised by the store and passed on by the gateway as it is. */
export class OutOfStock extends Error {
  override readonly name = 'OutOfStock';
}
const stockErrors = codeErrors({ 1: OutOfStock });

/** The methods of both services: the gateway forwards each to the store of the same name. */
const methods = {
  /** Streams `count` items, one every `everyMs`. */
  items: serverStream<{ count: number; everyMs: number }, { n: number }>(),
  /** Rejects a negative amount with InvalidArgument. */
  check: method<{ amount: number }, { ok: true }>(),
  /** Always fails with an internal error (a bug in the backend). */
  crash: method<{}, never>(),
  /** Waits `ms` (or until cancelled), then says what deadline it saw. */
  slow: method<{ ms: number }, { deadline: number | null }>(),
  /** Not idempotent: charges a card. Waits `holdMs` after it started, so a test can kill it. */
  charge: method<{ orderId: string; holdMs: number }, { charged: string }>(),
  /** Fails with OutOfStock when `qty` is over 3. */
  reserve: method<{ qty: number }, { reserved: number }>().throws(stockErrors),
};

/** The backend: a data store reachable over TCP only from the gateway. */
export const Store = service('Store', methods);

/** The front: what the browser calls over wss. Each method forwards to Store. */
export const Gateway = service('Gateway', methods);
