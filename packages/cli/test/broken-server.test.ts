import net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { skein } from './skein-bin.js';

/** A response header (docs/protocol.md, Frames): magic, version, flag, msg_len, seq 0 (the hello's), blob_len. */
function responseHeader(flag: number, msgLen: number, blobLen: number): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16LE(0x4d25, 0);
  h[2] = 1;
  h[3] = flag;
  h.writeUInt32LE(msgLen, 4);
  h.writeBigUInt64LE(0n, 8);
  h.writeInt32LE(blobLen, 16);
  return h;
}

/** What a broken server sends once the client's first bytes (its hello) arrive. */
const ANSWERS: Record<string, (socket: net.Socket) => void> = {
  // An ok answer claiming a 2 GiB blob, never sent: refused at its header, nothing allocated for it.
  'claims a 2 GiB blob': (s) => void s.write(responseHeader(0, 0, 0x7fff_ffff)),
  // An HTTP server's answer: no frame at all.
  'sends no frame': (s) => void s.write('HTTP/1.1 400 Bad Request\r\n\r\n'),
  // A header promising 100 bytes, 10 of them, then the end.
  'closes mid-frame': (s) => void s.end(Buffer.concat([responseHeader(0, 100, 0), Buffer.alloc(10)])),
};

async function brokenServer(answer: (socket: net.Socket) => void): Promise<string> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    s.once('data', () => answer(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

// --timeout is long: a command that waited for the bytes claimed would fail with Timeout, not IO.
describe('a server that answers with a broken frame', () => {
  it.each([
    ['call', 'claims a 2 GiB blob', ['Calc.add', '{}']],
    ['ping', 'claims a 2 GiB blob', []],
    ['health', 'claims a 2 GiB blob', []],
    ['bench', 'claims a 2 GiB blob', ['Calc.add', '{}', '--duration', '1']],
    ['call', 'sends no frame', ['Calc.add', '{}']],
    ['call', 'closes mid-frame', ['Calc.add', '{}']],
  ])('%s: %s — one typed error line, exit 1, without waiting out --timeout', async (command, how, args) => {
    const addr = await brokenServer(ANSWERS[how]!);
    const r = await skein(command, addr, ...args, '--timeout', '15000');
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: IO \(rpc_io_err\): [^\n]*\n$/);
    expect(r.stderr).toMatch(/bytes exceeds|bad magic|in the middle of a frame/);
    expect(r.code).toBe(1);
  });
});

// A frame begun and never finished, a byte at a time: the stream's keepalive counts bytes still
// coming as the peer alive (the pong may wait behind a large reply), so only --timeout ends it.
it('ping: a server that keeps dribbling one frame and never answers fails at --timeout, as a silent one does', async () => {
  const dribbling: NodeJS.Timeout[] = [];
  onTestFinished(() => dribbling.forEach(clearInterval));
  const addr = await brokenServer((s) => {
    s.write(responseHeader(0, 1_000_000, 0));
    dribbling.push(setInterval(() => s.write(Buffer.alloc(1)), 200));
  });
  const r = await skein('ping', addr, '--timeout', '1500');
  expect(r.stderr).toMatch(/^error: IO \(rpc_io_err\): .*did not answer a ping within 1500 ms/);
  expect(r.code).toBe(1);
});
