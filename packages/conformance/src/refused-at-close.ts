import type { ClientStream } from '@skein/stream';
import { Action } from './contract.mjs';

/**
 * The error of an echo call made once `close()` began: a server refuses every call from then on
 * (Closed, unrun, safe to send elsewhere), on every transport, its listeners closed or not. A
 * call answered instead fails the kit, saying so.
 */
export async function refusedAtClose(stream: ClientStream): Promise<unknown> {
  const refused = await stream.call(Action.echo).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (refused === undefined) throw new Error('a call made after close() began was answered: the server must refuse it with Closed from close() on');
  return refused;
}
