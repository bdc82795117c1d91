import { ClientClosedError } from 'etcd3';

/**
 * The etcd3 client was closed (by its owner: closing it is the application's): no call through
 * it can succeed again, so trying again would only hold the process on the retry's timer. By
 * class, or by its constructor's name where the application's etcd3 is another copy than ours.
 */
export function clientClosed(err: unknown): boolean {
  return err instanceof ClientClosedError || (err instanceof Error && err.constructor.name === 'ClientClosedError');
}
