import { parseAddress, silentLogger, type Address, type Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { RpcServer, createRouter, type Dispatch } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';
import { afterEach, expect, it } from 'vitest';

/** This repository's transports, which every check of the kit must pass. */
export const RIGHT_TRANSPORTS: readonly (readonly [string, Transport])[] = [
  ['TCP', tcpTransport(runtime)],
  ['ws', wsTransport()],
];

/**
 * For a test file of one of the kit's checks (src/<check>.ts, run alone on a transport): a
 * server on a transport, by default an echo of action 1, closed after each test; returns where it
 * listens.
 */
export function checkServers(): (transport: Transport, dispatch?: Dispatch) => Promise<Address> {
  const servers: RpcServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  return async (transport, dispatch = createRouter({ 1: (req) => req.msg })) => {
    const s = new RpcServer({ dispatch, logger: silentLogger });
    servers.push(s);
    return parseAddress(await s.listen(transport, '127.0.0.1:0'));
  };
}

/** The check (`problemsOf(server, client)`) finds nothing wrong with each of RIGHT_TRANSPORTS, both sides its own. */
export function passesRightTransports(problemsOf: (server: Transport, client: Transport) => Promise<string[]>): void {
  for (const [name, t] of RIGHT_TRANSPORTS) {
    it(`passes the ${name} transport`, async () => {
      expect(await problemsOf(t, t)).toEqual([]);
    });
  }
}
