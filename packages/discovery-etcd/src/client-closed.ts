import { ClientClosedError, type Etcd3 } from 'etcd3';

/**
 * The etcd3 client was closed (by its owner: closing it is the application's): no call through
 * it can succeed again, so trying again would only hold the process on the retry's timer. By
 * class, or by its constructor's name where the application's etcd3 is another copy than ours.
 */
export function clientClosed(err: unknown): boolean {
  return err instanceof ClientClosedError || (err instanceof Error && err.constructor.name === 'ClientClosedError');
}

/** Who listens for each client's close, for the wrapper `onClientClose` puts on it once. */
const listeners = new WeakMap<Etcd3, Set<() => void>>();

/**
 * Calls `listener` once the application closes `client`; returns what stops listening.
 *
 * Waiting for a ClientClosedError is not enough: etcd3's `close()` fails only calls made after it.
 * The streams already open (a lease's keepalive stream, a watch's) go on over the closed channel
 * (grpc-js lets calls in flight finish), so a registration would keep its lease alive, and its
 * entry listed, for as long as the process lives, and the process would live for good. etcd3 says
 * nothing of a close, so the client's `close` is wrapped, once per client (an own property of that
 * instance, calling the method it had): the listeners run right after it, with the client closed.
 */
export function onClientClose(client: Etcd3, listener: () => void): () => void {
  let set = listeners.get(client);
  if (!set) {
    const own = new Set<() => void>();
    set = own;
    listeners.set(client, own);
    const close = client.close;
    client.close = (): void => {
      close.call(client);
      for (const l of [...own]) l();
    };
  }
  set.add(listener);
  const added = set;
  return () => void added.delete(listener);
}
