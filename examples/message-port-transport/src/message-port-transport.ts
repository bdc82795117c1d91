import { MessageChannel } from 'node:worker_threads';
import {
  connectAborted,
  connectFailed,
  formatAddress,
  invalidArgument,
  listenFailed,
  parseAddress,
  type Address,
  type FrameConn,
  type FrameListener,
  type FrameSpec,
  type Transport,
  type TransportConnectOptions,
} from '@skein/core';
import { PortConn } from './port-conn.js';

type Accept = (conn: FrameConn) => void;

/**
 * Skein over MessagePorts, within one process: `listen({ host, port })` names an endpoint (port 0
 * picks a free number), and each `connect` to it opens a MessageChannel, one end for each side.
 * The endpoints live in this transport object, so a server and its clients share one.
 */
export function messagePortTransport(): Transport {
  const endpoints = new Map<string, { spec: FrameSpec; accept: Accept }>();
  let nextPort = 1;
  let nextConn = 1;

  /** The endpoint `a` names, refused with InvalidArgument where it is no name of this transport's. */
  const checked = (a: Address): { host: string; port: number } => {
    parseAddress(a); // a malformed one (an empty host, a port out of range) is InvalidArgument
    if ('path' in a) throw invalidArgument(`the message-port transport has no socket files: ${a.path}; use a host:port name`);
    // tcp:// and ws:// name other transports (the contract): refused, never taken for a name here.
    if (a.scheme !== undefined) throw invalidArgument(`the message-port transport cannot use ${a.scheme === 'ws' ? 'a ws:// or wss://' : 'a tcp://'} address (another transport's); use a host:port name`);
    return { host: a.host, port: a.port };
  };
  const key = (a: Address): string => formatAddress(checked(a));

  return {
    name: 'message-port',

    async connect(address: Address, spec: FrameSpec, options?: TransportConnectOptions): Promise<FrameConn> {
      const where = key(address);
      // A signal aborted already gives the connect up before it dials (the contract); once
      // dialled it is up at once, so there is no connect in progress for a later abort to stop.
      if (options?.signal?.aborted) throw connectAborted(where, options.signal.reason);
      const endpoint = endpoints.get(where);
      if (!endpoint) throw connectFailed(where, 'nothing listens there');
      const { port1, port2 } = new MessageChannel();
      const id = nextConn++;
      // The server's side first: it may get frames before the client has its conn back.
      endpoint.accept(new PortConn(`client-${id}`, endpoint.spec, port2));
      return new PortConn(where, spec, port1);
    },

    async listen(address: Address, spec: FrameSpec, accept: Accept): Promise<FrameListener> {
      const at = checked(address);
      const bound = { host: at.host, port: at.port === 0 ? nextPort++ : at.port };
      const where = key(bound);
      if (endpoints.has(where)) throw listenFailed(where, 'already listening there');
      endpoints.set(where, { spec, accept });
      return {
        address: bound,
        // Stops accepting; connections already made are left alone (the FrameListener contract).
        close: async () => void endpoints.delete(where),
      };
    },
  };
}
