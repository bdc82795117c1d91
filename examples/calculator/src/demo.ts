/**
 * The Skein demo. With no flags: starts a Calculator server in a child process, calls it from
 * this one (add, div with a typed DivideByZero, echo), floods it for 3 seconds and prints calls
 * per second. With `--serve --port <n> [--codec msgpack|cbor]`: runs only the server until
 * SIGTERM or SIGINT (or, as the demo's child, until the demo is gone). `--tls-cert`, `--tls-key`
 * serve TLS, and `--tls-ca` turns on mTLS. With `--connect <address>` (e.g. tls://localhost:7000)
 * the demo calls that server instead of starting one: `--tls-ca` is the CA to trust, and
 * `--tls-cert`, `--tls-key` the client certificate for mTLS (see docs/tls.md).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient, type Client } from '@skein/api';
import { consoleLogger, invalidArgument, type Codec } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { Calculator, DivideByZero } from './calculator.js';
import { codecByName } from './codecs.js';
import { startServer } from './server.js';
import { tlsFromFlags } from './tls-flags.js';

const USAGE = `Usage: pnpm demo [flags]   (or: node examples/calculator/dist/demo.js [flags])

  (no flags)               start a Calculator server in a child process, call it, flood it
  --seconds <n>            how long the flood lasts (default 3)
  --in-flight <n>          calls in flight during the flood (default 256)
  --codec msgpack|cbor     the codec of both sides (default msgpack)
  --serve --port <n>       run only the server, until SIGTERM or SIGINT
  --connect <address>      call that server instead of starting one (e.g. tls://localhost:7000)
  --tls-cert, --tls-key    serving: the server's certificate; connecting: the client's (mTLS)
  --tls-ca <file>          serving: require client certificates from this CA; connecting: trust it
  --tls-servername <name>  connecting: the name the server's certificate must carry
  --help                   this text

docs/getting-started.md and docs/tls.md show it in use.`;

const OPTIONS = {
  help: { type: 'boolean', default: false },
  serve: { type: 'boolean', default: false },
  port: { type: 'string', default: '0' },
  codec: { type: 'string', default: 'msgpack' },
  seconds: { type: 'string', default: '3' },
  'in-flight': { type: 'string', default: '256' },
  connect: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-servername': { type: 'string' },
} as const;

const flags = readFlags();
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}

try {
  // Inside: an unknown codec is a failure like any other, told in one line.
  const codec = codecByName(flags.codec);
  if (flags.serve) await serve(numberFlag('port'), codec);
  else await demo(codec, numberFlag('seconds'), numberFlag('in-flight'));
} catch (err) {
  // A refused TLS handshake, a wrong address, a server gone: the reason in one line, not a stack.
  console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}

function readFlags() {
  try {
    return parseArgs({ options: OPTIONS }).values;
  } catch (err) {
    // A mistyped flag: say which, and what there is.
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}

/** A flag that must be a number: `Number('three')` would flood for "NaN s" and print NaN calls/s. */
function numberFlag(name: 'port' | 'seconds' | 'in-flight'): number {
  const text = flags[name];
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw invalidArgument(`--${name} must be a number of 0 or more, got ${JSON.stringify(text)}`);
  return n;
}

async function serve(port: number, codec: Codec): Promise<void> {
  const tls = tlsFromFlags(flags, 'serve');
  const started = startServer(port, codec, consoleLogger('warn', 'calculator'), tls);
  let stopping: Promise<void> | undefined;
  // A signal during start-up waits for the server to be up, then closes it.
  const stop = (signal: string): void => {
    stopping ??= started.then(async ({ server }) => {
      console.log(`${signal}: closing gracefully`);
      await server.close();
      console.log('server closed');
      // The channel keeps the process alive while a 'disconnect' listener waits on it.
      if (process.connected) process.disconnect();
    });
  };
  // Registered before listening, so a signal that arrives as soon as the port is known is not missed.
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // Started by the demo, with an IPC channel that closes when the demo is gone however it ended
  // (even SIGKILL, which runs none of its code): the server goes with it, never left behind.
  if (process.connected) process.once('disconnect', () => stop('demo gone'));
  const { port: bound } = await started;
  const how = tls === undefined ? '' : tls.requestCert ? ', mTLS: client certificates required' : ', TLS';
  if (!stopping) console.log(`Calculator server listening on ${tls ? 'tls://' : ''}127.0.0.1:${bound} (codec ${codec.name}${how})`);
}

async function demo(codec: Codec, seconds: number, inFlight: number): Promise<void> {
  const server = flags.connect === undefined ? await startChildServer(codec) : { port: 0, stop: () => {} };
  const address = flags.connect ?? `127.0.0.1:${server.port}`;
  let stream: ClientStream | undefined;
  try {
    const tls = tlsFromFlags(flags, 'connect');
    const transport = tcpTransport(nodeRuntime, tls === undefined ? {} : { tls });
    stream = await ClientStream.connect({ transport, address, window: inFlight });
    const calc = createClient(Calculator, stream, { codec });
    await tour(calc);
    await flood(calc, seconds, inFlight);
  } finally {
    await stream?.close();
    server.stop();
  }
}

async function tour(calc: Client<typeof Calculator>): Promise<void> {
  console.log(`add({ a: 1, b: 2 })   = ${await calc.add({ a: 1, b: 2 })}`);
  console.log(`div({ a: 10, b: 4 })  = ${await calc.div({ a: 10, b: 4 })}`);
  try {
    await calc.div({ a: 1, b: 0 });
  } catch (err) {
    if (!(err instanceof DivideByZero)) throw err;
    console.log(`div({ a: 1, b: 0 })   threw ${err.name}: ${err.message} (custom error 1 on the wire)`);
  }
  const back = await calc.echo(new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
  console.log(`echo(de ad be ef)     = ${Buffer.from(back).toString('hex')}`);
}

async function flood(calc: Client<typeof Calculator>, seconds: number, inFlight: number): Promise<void> {
  console.log(`flooding add() for ${seconds} s with ${inFlight} calls in flight...`);
  let calls = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      await calc.add({ a: calls, b: 1 });
      calls++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const elapsed = (performance.now() - start) / 1000;
  console.log(`${calls} calls in ${elapsed.toFixed(2)} s = ${Math.round(calls / elapsed).toLocaleString('en-US')} calls/s`);
}

/** Runs this file with --serve in a child process and waits for its port. */
async function startChildServer(codec: Codec): Promise<{ port: number; stop(): void }> {
  const self = fileURLToPath(import.meta.url);
  // The 'ipc' channel is the server's lifeline: see serve().
  const child = spawn(process.execPath, [self, '--serve', '--port', '0', '--codec', codec.name], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    lines.on('line', (line) => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening`)));
  });
  console.log(`server started (pid ${child.pid}, port ${port}, codec ${codec.name})`);
  return { port, stop: () => void child.kill('SIGTERM') };
}
