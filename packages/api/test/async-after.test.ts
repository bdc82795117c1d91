import { msgpackCodec } from '@skein/codec-msgpack';
import { cleanups, memoryLogger } from '@skein/test-utils';
import { RpcServer } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, service, type Filter } from '../src/index.js';
import { listening } from './harness.js';

// An `async after` type-checks against the hook's `void` return. Its rejection was left to
// nobody: an unhandled rejection, which ends a Node process (a server's, for a logging
// filter's failed write). It is reported as a throwing `after` is, and changes no outcome.

const Svc = service('Svc', { run: method<number, number>() });
const cleanup = cleanups();

/**
 * A filter whose `async after` rejects with `boom`; `settled` resolves once that rejection was
 * seen by a handler added after the filters' own: by then the filters have reported it, if
 * they heard it at all (reactions run in the order they were added).
 */
function rejectingAfter(boom: Error) {
  let rejection: Promise<void> | undefined;
  const filter: Filter = {
    after: (() => (rejection = Promise.reject(boom))) as Filter['after'],
  };
  return { filter, settled: () => rejection!.then(undefined, () => undefined) };
}

async function start(serverFilters: Filter[], clientFilters: Filter[], serverLog = memoryLogger(), clientLog = memoryLogger()) {
  let runs = 0;
  const server = new RpcServer({
    dispatch: createServiceDispatch({ codec: msgpackCodec, logger: serverLog, filters: serverFilters, services: [implement(Svc, { run: (n) => (runs++, n) })] }),
  });
  const { connect } = await listening(server, cleanup);
  const svc = createClient(Svc, await connect(), { codec: msgpackCodec, logger: clientLog, filters: clientFilters });
  return { svc, runs: () => runs, serverLog, clientLog };
}

describe('a filter whose async after rejects', () => {
  it('on the server: the rejection is logged as a throwing after is, the call answered once', async () => {
    const boom = new Error('log write failed');
    const a = rejectingAfter(boom);
    const s = await start([a.filter], []);
    expect(await s.svc.run(7)).toBe(7);
    await a.settled();
    expect(s.runs()).toBe(1);
    expect(s.serverLog.lines).toContainEqual({ level: 'warn', obj: { action: 'Svc.run', err: boom }, msg: 'Svc.run: server filter failed after the call' });
  });

  it('on the client: the rejection is logged, and the caller gets the result', async () => {
    const boom = new Error('metrics push failed');
    const a = rejectingAfter(boom);
    const s = await start([], [a.filter], memoryLogger(), memoryLogger());
    expect(await s.svc.run(3)).toBe(3);
    await a.settled();
    expect(s.clientLog.lines).toContainEqual({ level: 'warn', obj: { action: 'Svc.run', err: boom }, msg: 'client filter failed after the call' });
  });

  it('after a before that awaited: the rejection is logged too', async () => {
    const boom = new Error('quota release failed');
    const a = rejectingAfter(boom);
    const s = await start([{ ...a.filter, before: () => Promise.resolve() }], []);
    expect(await s.svc.run(5)).toBe(5);
    await a.settled();
    expect(s.serverLog.lines).toContainEqual({ level: 'warn', obj: { action: 'Svc.run', err: boom }, msg: 'Svc.run: server filter failed after the call' });
  });
});
