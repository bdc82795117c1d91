// The worker module: what each of the WorkerPool's threads loads (bundled to heavy.mjs, since a
// worker thread runs JavaScript). Only the CPU-heavy service lives here.
import { type CallContext, createClient, implement } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { Heavy, PeerCtl } from './contract.js';

function hash({ text, rounds }: { text: string; rounds: number }): string {
  let h = text;
  for (let i = 0; i < rounds; i++) h = createHash('sha256').update(h).digest('hex');
  return h;
}

function spin({ ms }: { ms: number }): number {
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) n++;
  return n;
}

function charge({ id, ledger, crash }: { id: string; ledger: string; crash?: boolean }): string {
  appendFileSync(ledger, `${id}\n`);
  if (crash) process.exit(7); // in a worker thread this ends the thread, not the server
  return `charged ${id}`;
}

async function squareViaWorker(n: number, ctx: CallContext): Promise<number> {
  if (!ctx.caller) throw new Error('squareViaWorker needs a caller that serves PeerCtl');
  return (await createClient(PeerCtl, ctx.caller, { codec: msgpackCodec }).square({ n }, { ctx })) + 1;
}

export default { codec: msgpackCodec, services: [implement(Heavy, { hash, spin, charge, squareViaWorker })] };
