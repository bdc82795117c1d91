// A client behind NAT: it only dials out, with no credentials, and serves Inbox over the
// connection it opened so that the hub can push to it. Run as a process (bundled to client.mjs):
//   node client.mjs <port>
// prints `ready <kind>`, then `pushed <text>` for each push.
import { createClient, createServiceDispatch, implement } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { Inbox, Mesh } from './contract.js';

export async function connectClient(port: number, onPush: (text: string) => void) {
  const inbox = implement(Inbox, { push: (text) => (onPush(text), true) });
  const stream = await ClientStream.connect({
    transport: tcpTransport(nodeRuntime),
    address: `127.0.0.1:${port}`,
    serve: createServiceDispatch({ codec: msgpackCodec, services: [inbox] }),
  });
  return { stream, mesh: createClient(Mesh, stream, { codec: msgpackCodec }) };
}

async function main(): Promise<void> {
  const client = await connectClient(Number(process.argv[2]), (text) => console.log(`pushed ${text}`));
  console.log(`ready ${(await client.mesh.whoami()).kind}`);
  process.on('SIGTERM', () => void client.stream.close().then(() => process.exit(0)));
}

if (process.argv[1]?.endsWith('client.mjs')) await main();
