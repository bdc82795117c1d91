import net from 'node:net';

/** How the peer closed a raw socket: a FIN (`end`) or a reset. */
export type PeerClose = 'end' | 'reset';

/**
 * A TCP connection that speaks no protocol: it sends the bytes it is given and keeps what comes
 * back, to play a broken or hostile peer against a real server.
 */
export interface RawSocket {
  readonly socket: net.Socket;
  /** Every byte received so far, in order. */
  received(): Buffer;
  /** Settles when the peer closes its side (a FIN or a reset), never when this side does. */
  readonly closedByPeer: Promise<PeerClose>;
  /** True once the peer closed its side. */
  readonly peerClosed: boolean;
  write(bytes: Uint8Array): void;
  /** Half-closes: the peer reads an end, and this side still reads what it answers. */
  end(): void;
  destroy(): void;
}

/**
 * Connects to `host:port`; resolves once connected. `from`: the local address to connect from
 * (and port, to be told apart by it), to play another host (Linux loopback has all of 127/8:
 * `{ localAddress: '127.0.0.2' }`).
 */
export function rawConnect(address: string, from: { localAddress?: string; localPort?: number } = {}): Promise<RawSocket> {
  const i = address.lastIndexOf(':');
  const socket = net.connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)), allowHalfOpen: true, ...from });
  const chunks: Buffer[] = [];
  let peerClosed = false;
  let resolveClose!: (how: PeerClose) => void;
  const closedByPeer = new Promise<PeerClose>((resolve) => (resolveClose = resolve));
  const peerGone = (how: PeerClose): void => {
    if (peerClosed) return;
    peerClosed = true;
    resolveClose(how);
  };
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('end', () => peerGone('end'));
  // A reset is one way for a server to close; errors of our own destroy() never come here.
  socket.on('error', () => peerGone('reset'));
  const raw: RawSocket = {
    socket,
    received: () => Buffer.concat(chunks),
    closedByPeer,
    get peerClosed() {
      return peerClosed;
    },
    write: (bytes) => void (socket.writable && socket.write(bytes)),
    end: () => void socket.end(),
    destroy: () => void socket.destroy(),
  };
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(raw);
    });
  });
}
