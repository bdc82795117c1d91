import { fileURLToPath } from 'node:url';
import { afterEach, expect } from 'vitest';
import { itNeeding, launch, reap, waitFor, type Proc, type RawSocket, type RuntimeName } from '@skein/test-utils';
import { filledMessage, header, rawWsPeer, wsFrameHeader } from './helpers.js';

// Under Bun `ws` is Bun's own implementation, not the npm package: it has no Receiver whose
// fields say what a message still arriving holds. Read as "nothing", that let any number of
// peers each hold up to maxWsMessageBytes of a message they never finished (maxPendingMessageBytes
// was not applied), and a peer that stalled mid-message was never midFrame (the server's read
// timeout never ended it). The same checks run on Deno, whose ws is the npm package.
const fixture = fileURLToPath(new URL('./fixtures/pending-ws-server.mjs', import.meta.url));
const MiB = 1024 * 1024;
/** One message: a test frame filling it, under maxWsMessageBytes (4 MiB). */
const MESSAGE = 4 * MiB - 16;
const OPTIONS = JSON.stringify({ maxWsMessageBytes: 4 * MiB, maxPendingMessageBytes: 8 * MiB });

let server: Proc | undefined;
const peers: RawSocket[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) p.destroy();
  await reap(server);
});

async function start(runtime: RuntimeName): Promise<number> {
  server = launch(runtime, fixture, [OPTIONS]);
  return Number((await server.waitForLine(/^listening (\d+)$/))[1]);
}

/** Each peer's own port, the server's name for it: kept, as a socket closed by its peer forgets it. */
const ports = new WeakMap<RawSocket, number>();

async function peer(port: number): Promise<RawSocket> {
  const p = await rawWsPeer(port);
  peers.push(p);
  ports.set(p, p.socket.localPort!);
  return p;
}

const portOf = (p: RawSocket): number => ports.get(p)!;

for (const runtime of ['bun', 'deno'] as const) {
  itNeeding([runtime], `${runtime} ws server: messages still arriving hold at most maxPendingMessageBytes; the connection that would go over is dropped alone`, async () => {
    const port = await start(runtime);
    const three = [await peer(port), await peer(port), await peer(port)];
    // 3 MiB each of a 4 MiB message: 9 MiB together, over the 8 MiB budget by one of them.
    const whole = filledMessage(MESSAGE);
    for (const p of three) {
      p.write(wsFrameHeader(2, true, MESSAGE, true));
      p.write(whole.subarray(0, 3 * MiB));
    }
    const [, dropped, why] = await server!.waitForLine(/^closed (\d+) (.*)$/, 20_000);
    expect(why).toMatch(/^FrameError: messages still arriving would hold \d+ bytes, over the maxPendingMessageBytes budget of 8388608$/);
    // The others finish their messages and are read whole; nothing else was closed.
    const kept = three.filter((p) => String(portOf(p)) !== dropped);
    expect(kept).toHaveLength(2);
    for (const p of kept) p.write(whole.subarray(3 * MiB));
    for (const p of kept) await server!.waitForLine(new RegExp(`^frame ${portOf(p)} ${MESSAGE}$`), 20_000);
    // A peer with a small message on the same listener is served as before.
    const later = await peer(port);
    later.write(new Uint8Array([...wsFrameHeader(2, true, 6, true), ...header(2), 7, 8]));
    await server!.waitForLine(new RegExp(`^frame ${portOf(later)} 6$`));
    expect(server!.lines.filter((l) => l.startsWith('closed '))).toHaveLength(1);
  }, 60_000);

  itNeeding([runtime], `${runtime} ws server: a message stalled half-sent is midFrame (the read timeout's), and no longer once it is finished`, async () => {
    const port = await start(runtime);
    const p = await peer(port);
    p.write(new Uint8Array([...wsFrameHeader(2, true, 6, true), ...header(2), 7, 8]));
    await server!.waitForLine(new RegExp(`^frame ${portOf(p)} 6$`));
    const whole = filledMessage(1 * MiB);
    p.write(wsFrameHeader(2, true, whole.length, true));
    p.write(whole.subarray(0, 64 * 1024));
    await server!.waitForLine(new RegExp(`^mid ${portOf(p)} true true$`), 20_000);
    p.write(whole.subarray(64 * 1024));
    await server!.waitForLine(new RegExp(`^frame ${portOf(p)} ${whole.length}$`), 20_000);
    await server!.waitForLine(new RegExp(`^mid ${portOf(p)} false false$`), 20_000);
    expect(server!.lines.filter((l) => l.startsWith('closed '))).toEqual([]);
  }, 60_000);

  itNeeding([runtime], `${runtime} ws server: a message begun in the read that ended the one before it, then stalled, is midFrame`, async () => {
    const port = await start(runtime);
    const p = await peer(port);
    await server!.waitForLine(new RegExp(`^mid ${portOf(p)} false false$`));
    // One write, so one read: a whole message, then the start of the next, which never ends.
    // Under Bun, a count of the reads reset at ws's message event left that start uncounted: never
    // midFrame (the read timeout never closed the peer), nothing charged to the budget.
    const next = filledMessage(1 * MiB);
    const small = [...wsFrameHeader(2, true, 6, true), ...header(2), 7, 8];
    p.write(new Uint8Array([...small, ...wsFrameHeader(2, true, next.length, true), ...next.subarray(0, 1000)]));
    await server!.waitForLine(new RegExp(`^frame ${portOf(p)} 6$`));
    await server!.waitForLine(new RegExp(`^mid ${portOf(p)} true true$`), 20_000);
  }, 60_000);

  itNeeding([runtime], `${runtime} ws server: pings and pongs leave no message under way`, async () => {
    const port = await start(runtime);
    const p = await peer(port);
    const midLines = (): string[] => server!.lines.filter((l) => l.startsWith(`mid ${portOf(p)} `));
    await server!.waitForLine(new RegExp(`^mid ${portOf(p)} false false$`));
    // A ping (answered: its pong, opcode 10, comes back) and an unsolicited pong, after the upgrade's 101.
    const sent = p.received().length;
    p.write(new Uint8Array([...wsFrameHeader(9, true, 3, true), 1, 2, 3, ...wsFrameHeader(10, true, 5, true), 1, 2, 3, 4, 5]));
    await waitFor(() => p.received().subarray(sent).includes(0x8a), { timeoutMs: 20_000, what: 'the pong' });
    // Two more looks after the server has read both: nothing under way was seen.
    const tick = Number(server!.lines.filter((l) => l.startsWith('tick ')).at(-1)!.slice(5));
    await server!.waitForLine(new RegExp(`^tick ${tick + 2}$`));
    expect(midLines()).toEqual([`mid ${portOf(p)} false false`]);
  }, 60_000);
}
