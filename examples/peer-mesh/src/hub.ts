// The hub: one RpcServer port for peers (other services, presenting a token) and clients
// (untrusted, no credentials), each kind with limits of its own; Heavy's methods run on a
// WorkerPool, the rest on the event loop; it calls peers and clients back over their own
// connections.
import { createClient, createServiceDispatch, implement } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { type Logger, silentLogger } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { type Dispatch, type KindOptions, RpcServer, itemsReadBy } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { WorkerPool, type WorkerPoolOptions } from '@skein/workers';
import { Inbox, Mesh, PEER_TOKEN_PREFIX, PeerCtl } from './contract.js';

export interface HubOptions {
  /** `module` of the WorkerPool: the bundled heavy.mjs. */
  workerModule: string | URL;
  peerSecret: string;
  peers?: KindOptions;
  clients?: KindOptions;
  pool?: Partial<WorkerPoolOptions>;
  logger?: Logger;
  port?: number;
}

export interface Hub {
  server: RpcServer;
  pool: WorkerPool;
  port: number;
  /** Pushes `text` to every connected client that serves Inbox; resolves with how many took it. */
  pushToClients(text: string): Promise<number>;
  /** Calls PeerCtl.square on every connected peer (which takes `ms` to answer). */
  squareOnPeers(n: number, ms?: number): Promise<number[]>;
  close(): Promise<void>;
}

type PeerPrincipal = { role: 'peer'; name: string };
const isPeer = (p: unknown): p is PeerPrincipal => (p as PeerPrincipal | undefined)?.role === 'peer';

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export async function startHub(opts: HubOptions): Promise<Hub> {
  const logger = opts.logger ?? silentLogger;
  const pool = await WorkerPool.start({ module: opts.workerModule, workers: 2, logger, ...opts.pool });
  const holding = new Map<number, number>();
  const mesh = implement(Mesh, {
    echo: (s) => s,
    hold: async ({ ms }, ctx) => {
      const now = (holding.get(ctx.connectionId) ?? 0) + 1;
      holding.set(ctx.connectionId, now);
      await sleep(ms, ctx.signal);
      holding.set(ctx.connectionId, holding.get(ctx.connectionId)! - 1);
      return now;
    },
    squarePlusOne: async ({ n, ms }, ctx) => {
      if (!ctx.caller) throw new Error('squarePlusOne needs a caller that serves PeerCtl');
      const back = createClient(PeerCtl, ctx.caller, { codec: msgpackCodec });
      return (await back.square({ n, ms }, { ctx })) + 1;
    },
    whoami: (_, ctx) => ({ kind: ctx.connKind, principal: ctx.principal ?? null }),
  });
  const local = createServiceDispatch({ codec: msgpackCodec, services: [mesh], logger });
  // docs: "route by action in a Dispatch of your own; the pool is a Dispatch like any other"
  // (A dispatch that routes says what the one it routes to says of a stream's items: `readsItems`.)
  const routed = (action: string | number): Dispatch => (String(action).startsWith('Heavy.') ? pool : local);
  const dispatch: Dispatch = { dispatch: (req) => routed(req.action).dispatch(req), readsItems: (action) => itemsReadBy(routed(action), action) };
  const server = new RpcServer({
    dispatch,
    logger,
    requireAuth: false, // clients present nothing; peers present a token
    authenticate: ({ text }) => {
      if (!text.startsWith(PEER_TOKEN_PREFIX)) return undefined;
      const [name, secret] = text.slice(PEER_TOKEN_PREFIX.length).split(':');
      return secret === opts.peerSecret && name ? { principal: { role: 'peer', name } satisfies PeerPrincipal } : undefined;
    },
    peers: { admit: (conn) => isPeer(conn.principal), ...opts.peers },
    clients: { ...opts.clients },
  });
  const bound = await server.listen(tcpTransport(nodeRuntime), `127.0.0.1:${opts.port ?? 0}`);
  const connsOf = (kind: string) => server.openConnections().filter((c) => c.kind === kind && c.caller);
  return {
    server,
    pool,
    port: bound.port,
    async pushToClients(text) {
      const took = await Promise.all(connsOf('client').map((c) => createClient(Inbox, c.caller!, { codec: msgpackCodec }).push(text).catch(() => false)));
      return took.filter(Boolean).length;
    },
    squareOnPeers: (n, ms) => Promise.all(connsOf('peer').map((c) => createClient(PeerCtl, c.caller!, { codec: msgpackCodec }).square({ n, ms }))),
    async close() {
      // docs (workers): "Close the server first, then the pool."
      await server.close();
      await pool.close();
    },
  };
}
