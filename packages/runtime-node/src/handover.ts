import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import type net from 'node:net';
import { ErrorCode, RpcError, formatAddress, systemClock, withDefaults, type Address, type ByteConn, type ByteListener, type ListenOptions, type Runtime } from '@skein/core';
import { connect } from './connect.js';
import { listen, type NodeByteListener } from './listener.js';

/** Set in a successor's environment: it waits for the sockets before its first listen. */
const ENV = 'SKEIN_HANDOVER';
const READY = 'skein:handover:ready';
const SOCKET = 'skein:handover:socket';
const SENT = 'skein:handover:sent';
const TAKEN = 'skein:handover:taken';

type Message = { type: string; address?: string };

/** The successor's stdio: the parent's, plus the IPC channel the handover needs. */
const SPAWN_DEFAULTS: SpawnOptions = { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] };

export interface HandOverOptions {
  /** Passed to `spawn`; stdio defaults to the parent's, plus the IPC channel the handover needs. */
  spawn?: (Omit<SpawnOptions, 'env'> & { env?: NodeJS.ProcessEnv | undefined }) | undefined;
  /** How long the successor has to listen on every socket. Default 30 s. */
  timeoutMs?: number | undefined;
}

/**
 * A Node runtime for restarts without a refused connection: `handOver` starts the next version
 * of the process and passes it this process's listening TCP sockets over IPC. The kernel socket
 * is then shared, so connections keep being accepted throughout; once the successor listens on
 * every one, close your RpcServer: it stops accepting and drains its connections.
 */
export interface HandoverRuntime extends Runtime {
  /**
   * Starts `command args` with an IPC channel, hands it every TCP listener open now, and resolves
   * with the process once it listens on all of them (it must listen on the same addresses, through
   * a handoverRuntime), unref'd: it does not keep this process alive. Rejects with Unreachable,
   * and kills it, if it exits or times out first.
   */
  handOver(command: string, args: readonly string[], opts?: HandOverOptions): Promise<ChildProcess>;
  /** Addresses of sockets handed to this process and not listened on yet. */
  inherited(): Promise<string[]>;
}

/**
 * The Node runtime, with graceful restart. In a process `handOver` started, `listen` on an
 * address the predecessor handed over listens on that very socket instead of binding anew.
 * Unix sockets are not handed over: the old process's close unlinks the socket file.
 */
export function handoverRuntime(): HandoverRuntime {
  const open = new Set<NodeByteListener>();
  const handed = process.env[ENV] === '1' && process.send ? receiveSockets() : Promise.resolve(new Map<string, net.Server>());
  return {
    name: 'node',
    connect,
    clock: systemClock,
    async listen(address: Address, accept: (conn: ByteConn) => void, options?: ListenOptions): Promise<ByteListener> {
      const sockets = await handed;
      const key = formatAddress(address);
      const inherited = sockets.get(key);
      sockets.delete(key);
      const l = await listen(address, accept, options, inherited);
      if (inherited) process.send?.({ type: TAKEN, address: key });
      if ('path' in address) return l;
      open.add(l);
      return { address: l.address, close: () => (open.delete(l), l.close()), reloadTls: (tls) => l.reloadTls(tls) };
    },
    handOver: (command, args, opts = {}) => handOver(open, command, args, opts),
    inherited: async () => [...(await handed).keys()],
  };
}

/**
 * The successor's side: says it is ready, then takes sockets until the predecessor has sent them
 * all. A predecessor that dies first (its channel closes) sends no more: the successor goes on
 * with what it has, and binds the other addresses itself (their sockets closed with it).
 */
function receiveSockets(): Promise<Map<string, net.Server>> {
  const sockets = new Map<string, net.Server>();
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('message', onMessage);
      process.off('disconnect', done);
      resolve(sockets);
    };
    const onMessage = (msg: Message, handle: unknown): void => {
      if (msg?.type === SOCKET && msg.address) sockets.set(msg.address, handle as net.Server);
      if (msg?.type === SENT) done();
    };
    process.on('message', onMessage);
    process.once('disconnect', done);
    process.send!({ type: READY });
  });
}

async function handOver(open: Set<NodeByteListener>, command: string, args: readonly string[], opts: HandOverOptions): Promise<ChildProcess> {
  const listeners = [...open];
  const { env = process.env, ...spawnOpts } = opts.spawn ?? {};
  // withDefaults, not a spread: `stdio: undefined` (a setting handed on unset) took the IPC
  // channel away, and the successor could not say it was ready.
  const child = spawn(command, args, { ...withDefaults<SpawnOptions>(SPAWN_DEFAULTS, spawnOpts), env: { ...env, [ENV]: '1' } });
  const pending = new Set(listeners.map((l) => formatAddress(l.address)));
  const timeoutMs = opts.timeoutMs ?? 30_000;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(`it did not listen on ${[...pending].join(', ')} within ${timeoutMs} ms`), timeoutMs);
      const fail = (why: string): void => {
        clearTimeout(timer);
        reject(new RpcError(ErrorCode.Unreachable, `handing the listening sockets to process ${child.pid ?? '(not started)'} failed: ${why}`));
      };
      child.once('error', (err) => fail(err.message));
      child.once('exit', (code, signal) => fail(`it exited (${code ?? signal}) before it listened`));
      child.on('message', (msg: Message) => {
        if (msg?.type === READY) {
          for (const l of listeners) child.send({ type: SOCKET, address: formatAddress(l.address) }, l.server);
          child.send({ type: SENT });
        } else if (msg?.type === TAKEN && msg.address) {
          pending.delete(msg.address);
        } else {
          return;
        }
        if (pending.size > 0) return;
        clearTimeout(timer);
        resolve();
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    child.removeAllListeners('message');
  }
  // Neither process needs the channel any more, and the old one must be free to exit once
  // drained: the channel and the child's handle would keep its event loop alive.
  child.disconnect();
  child.unref();
  return child;
}
