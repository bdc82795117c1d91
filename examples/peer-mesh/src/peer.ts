// A peer service: it dials the hub with its token, serves PeerCtl over that same connection
// (the hub calls it back), and calls the hub. Run as a process (bundled to peer.mjs):
//   node peer.mjs <port> <name> <secret> [loadMs]
// prints `ready <kind>`, then with loadMs runs calls that call it back for that long and prints
// `load ok=<n> bad=<n> err=<first error>`; it stays up serving until SIGTERM.
import { createClient, createServiceDispatch, implement } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { Mesh, PEER_TOKEN_PREFIX, PeerCtl } from './contract.js';

export async function connectPeer(port: number, name: string, secret: string) {
  let served = 0;
  const ctl = implement(PeerCtl, { square: async ({ n, ms }) => (served++, ms && (await new Promise((r) => setTimeout(r, ms))), n * n), name: () => name });
  const stream = await ClientStream.connect({
    transport: tcpTransport(nodeRuntime),
    address: `127.0.0.1:${port}`,
    credentials: `${PEER_TOKEN_PREFIX}${name}:${secret}`,
    serve: createServiceDispatch({ codec: msgpackCodec, services: [ctl] }),
  });
  return { stream, mesh: createClient(Mesh, stream, { codec: msgpackCodec }), served: () => served };
}

/** Keeps `parallel` calls of squarePlusOne going for `ms`; counts right and wrong answers. */
export async function load(mesh: ReturnType<typeof createClient<typeof Mesh>>, ms: number, parallel = 16) {
  const end = Date.now() + ms;
  let ok = 0, bad = 0, err: unknown;
  await Promise.all(Array.from({ length: parallel }, async (_, k) => {
    for (let n = k; Date.now() < end; n += parallel) {
      try {
        (await mesh.squarePlusOne({ n })) === n * n + 1 ? ok++ : bad++;
      } catch (e) {
        bad++;
        err ??= e;
      }
    }
  }));
  return { ok, bad, err };
}

async function main(): Promise<void> {
  const [port, name, secret, loadMs] = process.argv.slice(2);
  const peer = await connectPeer(Number(port), name!, secret!);
  const me = await peer.mesh.whoami();
  console.log(`ready ${me.kind}`);
  if (loadMs) {
    const r = await load(peer.mesh, Number(loadMs));
    console.log(`load ok=${r.ok} bad=${r.bad} err=${r.err ?? ''}`);
  }
  process.on('SIGTERM', () => {
    console.log(`served ${peer.served()}`);
    void peer.stream.close().then(() => process.exit(0));
  });
}

if (process.argv[1]?.endsWith('peer.mjs')) await main();
