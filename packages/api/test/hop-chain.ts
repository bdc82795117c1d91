import { msgpackCodec } from '@skein/codec-msgpack';
import { silentLogger, type ErrorCode } from '@skein/core';
import { deferred, startTcpRelay, within, type Deferred, type TcpRelay, type TcpRelayOptions } from '@skein/test-utils';
import { FailoverPool, RpcServer, createRouter, type FailoverPoolOptions, type RpcServerOptions } from '@skein/stream';
import { createClient, createServiceDispatch, implement, method, service, type CallContext, type Client, type ServiceDispatchOptions } from '../src/index.js';
import { listening, transport } from './harness.js';

// Chains of real TCP servers (client → Front → Back, each hop a FailoverPool) whose handlers
// count their runs per call id: what the at-most-once tests of several hops share.

export const codec = msgpackCodec;
/** `charge` is not idempotent; `peek` is (a pool may run it again where it may have run). */
export const Back = service('Back', { charge: method<string, string>(), peek: method<string, string>().idempotent() });
/** `pay` calls `Back.charge`, `look` calls `Back.peek`. */
export const Front = service('Front', { pay: method<string, string>(), look: method<string, string>().idempotent() });

type Closer = () => unknown;

/** A hop that counts its runs: Front, a Mid between Front and Back (when the chain has four hops), Back. */
export type Hop = 'front' | 'mid' | 'back';

/** Runs per call id, at each hop. */
export class Ledger {
  readonly front = new Map<string, number>();
  readonly mid = new Map<string, number>();
  readonly back = new Map<string, number>();
  /** Resolved when Back first runs the call with this id. */
  private readonly backStarted = new Map<string, Deferred<void>>();

  ran(hop: Hop, id: string): void {
    this[hop].set(id, (this[hop].get(id) ?? 0) + 1);
    if (hop === 'back') this.started(id).resolve();
  }

  started(id: string): Deferred<void> {
    let d = this.backStarted.get(id);
    if (!d) this.backStarted.set(id, (d = deferred<void>()));
    return d;
  }

  /** The most times any hop ran any call. */
  most(): number {
    return Math.max(0, ...this.front.values(), ...this.mid.values(), ...this.back.values());
  }
}

/** What a Back does with a call (both methods), after its run is counted: its ctx too, to watch its signal. */
export type BackHandler = (id: string, ctx: CallContext) => string | Promise<string>;

/** A Back server whose `charge` and `peek` count each run in `ledger`, then answer as `handler` does. */
export async function backServer(cleanup: Closer[], ledger: Ledger, handler: BackHandler, opts: Partial<RpcServerOptions> = {}, dispatch: Partial<ServiceDispatchOptions> = {}) {
  const run = (id: string, ctx: CallContext) => {
    ledger.ran('back', id);
    return handler(id, ctx);
  };
  const server = new RpcServer({ ...opts, dispatch: createServiceDispatch({ codec, logger: silentLogger, ...dispatch, services: [implement(Back, { charge: run, peek: run })] }) });
  return { server, ...(await listening(server, cleanup)) };
}

/** A FailoverPool over `servers` (leader first, so that a test knows where a first attempt goes), closed with `cleanup`. */
export function hopPool(cleanup: Closer[], servers: string[], opts: Partial<Omit<FailoverPoolOptions, 'transport' | 'servers'>> = {}): FailoverPool {
  const p = new FailoverPool({ transport, servers, retries: 2, retryBudget: { ratio: 10 }, strategy: 'leader', ...opts });
  cleanup.push(() => within(p.close(), 10_000, 'pool close'));
  return p;
}

/** How the Front servers call the Backs: a typed client over a FailoverPool of its own. */
export type BackClient = Client<typeof Back>;

/** A Front server whose handlers count their run, then call Back with `{ ctx }` (its deadline, its cancel), passing its failure on. */
export async function frontServer(cleanup: Closer[], ledger: Ledger, back: BackClient, opts: Partial<RpcServerOptions> = {}, dispatch: Partial<ServiceDispatchOptions> = {}) {
  const pay = async (id: string, ctx: CallContext) => {
    ledger.ran('front', id);
    return `paid ${await back.charge(id, { ctx })}`;
  };
  const look = async (id: string, ctx: CallContext) => {
    ledger.ran('front', id);
    return `saw ${await back.peek(id, { ctx })}`;
  };
  const server = new RpcServer({ closeWaitMs: 2_000, ...opts, dispatch: createServiceDispatch({ codec, logger: silentLogger, ...dispatch, services: [implement(Front, { pay, look })] }) });
  return { server, ...(await listening(server, cleanup)) };
}

/** How each Front server is made: its server's and its dispatch's options. */
export interface FrontOptions {
  readonly server?: Partial<RpcServerOptions>;
  readonly dispatch?: Partial<ServiceDispatchOptions>;
}

/** Two Front servers calling the Backs at `backs` through one FailoverPool; their addresses. */
export async function fronts(cleanup: Closer[], ledger: Ledger, backs: string[], backPool: Partial<FailoverPoolOptions> = {}, front: FrontOptions = {}): Promise<string[]> {
  const back = createClient(Back, hopPool(cleanup, backs, backPool), { codec });
  const addresses: string[] = [];
  for (let i = 0; i < 2; i++) addresses.push((await frontServer(cleanup, ledger, back, front.server, front.dispatch)).address);
  return addresses;
}

/** A server that refuses every call and stream of Back itself, unrun (bare): a throttle, a draining server. */
export async function refusing(cleanup: Closer[], code: ErrorCode): Promise<string> {
  const refuse = (req: { fail(code: ErrorCode): void }) => req.fail(code);
  const server = new RpcServer({ dispatch: createRouter({ 'Back.charge': refuse, 'Back.peek': refuse, 'Back.feed': refuse }, silentLogger) });
  return (await listening(server, cleanup)).address;
}

/** A TCP relay to `address`, closed with `cleanup`: a link the test cuts, holds or slows. */
export async function relayTo(cleanup: Closer[], address: string, opts: TcpRelayOptions = {}): Promise<TcpRelay> {
  const relay = await startTcpRelay(address, opts);
  cleanup.push(() => relay.close());
  return relay;
}

/** The call's error, or an Error saying that it did not fail. */
export const failure = (p: Promise<unknown>): Promise<unknown> => p.then(() => new Error('expected the call to fail'), (e: unknown) => e);
