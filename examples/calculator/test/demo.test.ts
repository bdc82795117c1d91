import { freePort, processRunning, startProcess, waitFor, within } from '@skein/test-utils';
import { encode } from '@msgpack/msgpack';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The demo runs from its build (pnpm test builds first), exactly as `pnpm demo` runs it.
const demo = fileURLToPath(new URL('../dist/demo.js', import.meta.url));

async function serve(codec: 'msgpack' | 'cbor') {
  const port = await freePort();
  const proc = startProcess(process.execPath, [demo, '--serve', '--port', String(port), '--codec', codec]);
  await proc.waitForLine(/listening on 127\.0\.0\.1:\d+/);
  return { proc, port };
}

function exitOf(child: ChildProcess): Promise<unknown> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', resolve));
}

/** Sends raw bytes as a razor-rpc v1 client would, and reads one response frame. */
function razorCall(port: number, request: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(request));
    let got = Buffer.alloc(0);
    sock.on('data', (c) => {
      got = Buffer.concat([got, c]);
      if (got.length >= 20 && got.length >= 20 + bodyLength(got)) {
        sock.end();
        resolve(got);
      }
    });
    sock.on('error', reject);
  });
}

/** flag 0: msg + blob; flag 1: nothing (msg_len is the error number); flag 2: the error string. */
function bodyLength(h: Buffer): number {
  if (h[3] === 1) return 0;
  return (h[3] === 0 ? h.readUInt32LE(4) : 0) + h.readInt32LE(16);
}

function razorRequest(action: string, msg: Uint8Array, seq: number): Uint8Array {
  const a = Buffer.from(action, 'utf8');
  const h = Buffer.alloc(32);
  h.writeUInt16LE(0x4d25, 0);
  h[2] = 1;
  h.writeUInt32LE((0x80000000 | a.length) >>> 0, 4);
  h.writeBigUInt64LE(BigInt(seq), 8);
  h.writeUInt32LE(msg.length, 24);
  return Buffer.concat([h, a, msg]);
}

describe('the demo server', () => {
  it('answers a razor-rpc v1 client calling Calculator.add with the msgpack 3', async () => {
    const { proc, port } = await serve('msgpack');
    try {
      const reply = await within(razorCall(port, razorRequest('Calculator.add', encode({ a: 1, b: 2 }), 1)), 10_000);
      // magic, ver 1, flag 0 (ok), msg_len 1, seq 1, blob_len 0, msg = msgpack 3
      expect(reply.toString('hex')).toBe('254d0100' + '01000000' + '0100000000000000' + '00000000' + '03');
    } finally {
      proc.kill('SIGTERM');
    }
  });

  it('sends DivideByZero as custom error number 1 (flag 1)', async () => {
    const { proc, port } = await serve('msgpack');
    try {
      const reply = await within(razorCall(port, razorRequest('Calculator.div', encode({ a: 1, b: 0 }), 7)), 10_000);
      expect(reply.toString('hex')).toBe('254d0101' + '01000000' + '0700000000000000' + '00000000');
    } finally {
      proc.kill('SIGTERM');
    }
  });

  it('closes gracefully on SIGTERM and on SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const { proc } = await serve('cbor');
      proc.kill(signal);
      expect(await within(proc.exited, 10_000, 'server exit')).toBe(0);
      expect(proc.lines).toContain('server closed');
    }
  });
});

describe('the demo, one command', () => {
  it('starts a server, makes typed calls, catches DivideByZero, floods and prints calls/s', async () => {
    for (const codec of ['msgpack', 'cbor']) {
      const proc = startProcess(process.execPath, [demo, '--seconds', '0.3', '--codec', codec]);
      expect(await within(proc.exited, 30_000, 'demo')).toBe(0);
      const out = proc.lines.join('\n');
      expect(out).toMatch(/add\(\{ a: 1, b: 2 \}\)\s+= 3/);
      expect(out).toMatch(/div\(\{ a: 10, b: 4 \}\)\s+= 2\.5/);
      expect(out).toMatch(/threw DivideByZero/);
      expect(out).toMatch(/echo\(de ad be ef\)\s+= deadbeef/);
      expect(out).toMatch(/\d+ calls in [\d.]+ s = [\d,]+ calls\/s/);
    }
  });

  // The server is the demo's child: a demo stopped from outside must not leave it behind.
  it.each(['SIGTERM', 'SIGINT', 'SIGKILL'] as const)('stops its server when the demo gets %s mid-flood', async (signal) => {
    const proc = startProcess(process.execPath, [demo, '--seconds', '60']);
    const pid = Number((await proc.waitForLine(/server started \(pid (\d+)/))[1]);
    try {
      await proc.waitForLine(/flooding add\(\)/);
      proc.kill(signal);
      // Its 'exit', not `exited`: a server left behind holds the demo's stderr open.
      await within(exitOf(proc.child), 10_000, 'demo exit');
      // A guard, not a measure: a server left behind runs on forever.
      await waitFor(() => !processRunning(pid), { timeoutMs: 10_000, what: `server ${pid} to stop` });
    } finally {
      if (processRunning(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it('refuses an unknown codec with a clear message', async () => {
    const proc = startProcess(process.execPath, [demo, '--codec', 'json']);
    expect(await within(proc.exited, 10_000)).not.toBe(0);
    const out = proc.lines.join('\n');
    expect(out).toMatch(/^demo: unknown codec "json": use msgpack or cbor$/m);
    // In one line, as any other failure: no stack trace.
    expect(out).not.toMatch(/^\s+at /m);
  });
});

describe('the demo on the command line', () => {
  it('prints its flags with --help and exits 0', async () => {
    const proc = startProcess(process.execPath, [demo, '--help']);
    expect(await within(proc.exited, 10_000, 'demo --help')).toBe(0);
    expect(proc.lines.join('\n')).toMatch(/--connect <address>/);
  });

  it('tells a mistyped flag and a failed connect in a line, with no stack trace', async () => {
    const typo = startProcess(process.execPath, [demo, '--sconds', '1']);
    expect(await within(typo.exited, 10_000, 'demo --sconds')).toBe(2);
    expect(typo.lines.join('\n')).toMatch(/Unknown option '--sconds'[\s\S]*Usage:/);

    const port = await freePort(); // nothing listens there
    const refused = startProcess(process.execPath, [demo, '--connect', `127.0.0.1:${port}`]);
    expect(await within(refused.exited, 30_000, 'demo --connect')).toBe(1);
    const out = refused.lines.join('\n');
    expect(out).toMatch(/^demo: cannot connect to 127\.0\.0\.1:\d+/m);
    expect(out).not.toMatch(/^\s+at /m);
  });

  it('refuses a flag that is not a number, naming it, before it floods for "NaN s"', async () => {
    const proc = startProcess(process.execPath, [demo, '--seconds', 'three']);
    expect(await within(proc.exited, 10_000, 'demo --seconds three')).toBe(1);
    const out = proc.lines.join('\n');
    expect(out).toMatch(/^demo: --seconds must be a number of 0 or more, got "three"$/m);
    expect(out).not.toMatch(/flooding|server started/);
  });
});
