/**
 * What a child process does for the runtime conformance suite (runtime-conformance.ts), on the
 * runtime under test: Bun, Deno or Node. Web APIs only (and the `process` global all three
 * have), no node:* modules, so it runs on any of them.
 * One fixture script, test-utils' `fixtures/runtime-scenario.mjs <module> <runtime> <scenario>
 * <address> [args]`, loads the runtime adapter and calls `runScenario`; the scenarios print
 * lines the suite waits for. The runtime is an argument, so a scenario can pair runtimes (a Bun server and a
 * Deno client) as well.
 */

import { TLS_SCENARIOS, type TlsRuntimeUnderTest } from './tls-scenarios.js';

export type ScenarioAddress = { readonly host: string; readonly port: number } | { readonly path: string };

export interface ScenarioHandlers {
  data(chunk: Uint8Array): void;
  drain(): void;
  end?(): void;
  close(err?: Error): void;
}

export interface ScenarioConn {
  bind(handlers: ScenarioHandlers): void;
  write(chunks: readonly Uint8Array[]): boolean;
  pause(): void;
  resume(): void;
  end(): void;
  close(): void;
}

export interface ScenarioListener {
  readonly address: ScenarioAddress;
  close(): Promise<void>;
}

/** The Runtime contract as the scenarios use it. Structural, because test-utils cannot depend on @skein/core. */
export interface RuntimeUnderTest {
  connect(address: ScenarioAddress, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<ScenarioConn>;
  listen(address: ScenarioAddress, accept: (conn: ScenarioConn) => void): Promise<ScenarioListener>;
  readonly clock: { every(ms: number, tick: () => void): { stop(): void } };
}

/** Core's address helpers, passed in by the fixture. */
export interface AddressFormat {
  parseAddress(input: string): ScenarioAddress;
  formatAddress(address: ScenarioAddress): string;
}

/** Core's helpers the scenarios use, passed in by the fixture (structural, as RuntimeUnderTest is). */
export interface CoreUnderTest extends AddressFormat {
  withoutStack<E>(make: () => E): E;
  readonly RpcError: new (code: number, message?: string) => Error;
}

type Scenario = (rt: RuntimeUnderTest, address: ScenarioAddress, args: string[], fmt: CoreUnderTest) => Promise<void>;

/** Runs `args` = `<scenario> <address> [scenario args]`. */
export async function runScenario(rt: RuntimeUnderTest, fmt: CoreUnderTest, args: string[]): Promise<void> {
  const [name = '', address = '', ...rest] = args;
  const tls = TLS_SCENARIOS[name];
  if (tls) return tls(rt as unknown as TlsRuntimeUnderTest, fmt.parseAddress(address), rest, fmt.formatAddress);
  const scenario = SCENARIOS[name];
  if (!scenario) throw new Error(`no scenario ${JSON.stringify(name)}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  await scenario(rt, fmt.parseAddress(address), rest, fmt);
}

/** Byte `i` of test stream `seed`: a hash of the offset, so a byte out of place or missing shows. */
export function patternByte(i: number, seed: number): number {
  return Math.imul(i + seed * 0x01000193, 0x9e3779b1) >>> 24;
}

/** `length` bytes of test stream `seed` from `offset`. */
export function pattern(length: number, seed: number, offset = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = patternByte(offset + i, seed);
  return out;
}

/** Seeds of the streams the suite and the scenarios agree on. */
export const SEED = { clientBatch: 1, serverHalfClose: 2, paused: 3 } as const;

/**
 * Keeps received chunks and checks them against a test stream only when asked, after all reads:
 * a runtime that reused a read buffer for a later read would have changed an earlier chunk.
 */
class Received {
  private readonly chunks: Uint8Array[] = [];
  bytes = 0;
  constructor(private readonly seed: number) {}
  add(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }
  /** True when the chunks are the stream's first `bytes` bytes, in order. */
  intact(): boolean {
    let offset = 0;
    for (const chunk of this.chunks) {
      for (let i = 0; i < chunk.length; i++) if (chunk[i] !== patternByte(offset + i, this.seed)) return false;
      offset += chunk.length;
    }
    return true;
  }
}

const say = (line: string): void => console.log(line);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (chunks: Uint8Array[]): string => chunks.map((c) => new TextDecoder().decode(c)).join('');
const errText = (err?: Error): string => (err ? `${err.name}: ${err.message}` : 'none');

const SCENARIOS: Record<string, Scenario> = {
  /**
   * Echoes every connection, pausing while a write is congested. After its first connection
   * closes it closes the listener: the process then ends by itself.
   */
  async 'echo-server'(rt, address, _args, fmt) {
    const listener = await rt.listen(address, (conn) => {
      let bytes = 0;
      let congested = 0;
      let drains = 0;
      conn.bind({
        data(chunk) {
          bytes += chunk.length;
          // The chunk is ours (ByteHandlers.data): it is sent back as it is, after later reads.
          if (!conn.write([chunk])) {
            if (congested++ === 0) say('congested');
            conn.pause();
          }
        },
        drain() {
          drains++;
          conn.resume();
        },
        close(err) {
          say(`conn-closed bytes=${bytes} congested=${congested} drains=${drains} err=${errText(err)}`);
          void listener.close().then(() => say('done'));
        },
      });
    });
    say(`listening ${fmt.formatAddress(listener.address)}`);
  },

  /** Connects, writes `<count>` chunks of `<size>` bytes in one batch, half-closes, and prints what comes back. */
  async 'send-and-half-close'(rt, address, [count = '100', size = '1000']) {
    const conn = await rt.connect(address);
    const received: Uint8Array[] = [];
    const closed = new Promise<Error | undefined>((resolve) => {
      conn.bind({ data: (c) => received.push(c), drain() {}, close: resolve });
    });
    const n = Number(size);
    conn.write(Array.from({ length: Number(count) }, (_, i) => pattern(n, SEED.clientBatch, i * n)));
    conn.end();
    const err = await closed;
    say(`received ${text(received)}`);
    say(`closed err=${errText(err)}`);
  },

  /**
   * Connects and reads until the peer half-closes, then answers with what it got, and ends. Binds
   * late, so that data and FIN usually arrive before bind (and wait in the adapter or the kernel).
   */
  async 'answer-end'(rt, address) {
    const conn = await rt.connect(address);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const received = new Received(SEED.serverHalfClose);
    const err = await new Promise<Error | undefined>((resolve) => {
      conn.bind({
        data: (c) => received.add(c),
        drain() {},
        end() {
          conn.write([utf8(`got ${received.bytes} intact=${received.intact()}`)]);
          conn.end();
        },
        close: resolve,
      });
    });
    say(`closed err=${errText(err)}`);
  },

  /**
   * Connects until a connect fails (a listener that never accepts lets the first few in) and
   * prints the error. Exits explicitly: a connect abandoned at its timeout may still be pending.
   */
  /**
   * Connects, writes, ends, writes, closes, writes, and prints what each late write returned:
   * a write after end() or close() is dropped and must not ask the writer to wait for a drain
   * that never comes (false), as Node's adapter does.
   */
  async 'write-after-end'(rt, address) {
    const conn = await rt.connect(address);
    conn.bind({ data() {}, drain() {}, close() {} });
    const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
    conn.write([bytes('before')]);
    conn.end();
    say(`after-end=${conn.write([bytes('after')])}`);
    conn.close();
    say(`after-close=${conn.write([bytes('closed')])}`);
  },

  /**
   * `connect-fail <address> [timeoutMs] [abortMs]`: connects again and again until one fails, and
   * prints why. With `abortMs`, each connect's signal aborts that long after it began: one that
   * hangs (a listener whose backlog is full) is given up by its signal, not its timeout.
   */
  async 'connect-fail'(rt, address, [timeoutMs, abortMs]) {
    const options = timeoutMs ? { timeoutMs: Number(timeoutMs) } : {};
    const open: ScenarioConn[] = [];
    for (let i = 0; i < 16; i++) {
      try {
        open.push(await rt.connect(address, abortMs ? { ...options, signal: AbortSignal.timeout(Number(abortMs)) } : options));
        say(`connected ${i}`);
      } catch (err) {
        const e = err as Error & { code?: unknown };
        say(`connect-error name=${e.name} code=${String(e.code)} message=${e.message}`);
        break;
      }
    }
    for (const conn of open) conn.close();
    globalThis.process.exit(0);
  },

  /**
   * Pauses its first connection at once; the second is a control connection whose first byte
   * means "the data is written": it prints what was delivered so far and resumes the first.
   */
  async 'paused-server'(rt, address, _args, fmt) {
    let dataConn: ScenarioConn | undefined;
    const received = new Received(SEED.paused);
    const listener = await rt.listen(address, (conn) => {
      if (dataConn) {
        conn.bind({
          data() {
            say(`before-resume=${received.bytes}`);
            dataConn!.resume();
          },
          drain() {},
          close() {},
        });
        return;
      }
      dataConn = conn;
      conn.bind({
        data: (c) => received.add(c),
        drain() {},
        close(err) {
          say(`data-closed bytes=${received.bytes} intact=${received.intact()} err=${errText(err)}`);
          void listener.close();
        },
      });
      conn.pause();
      say('paused');
    });
    say(`listening ${fmt.formatAddress(listener.address)}`);
  },

  /**
   * Starts a ticker it never stops and a listener; "close-listener" from a client closes the
   * listener, after which the accepted connection still answers and ends. The process must then
   * exit by itself.
   */
  async 'listener-lifecycle'(rt, address, _args, fmt) {
    let ticks = 0;
    await new Promise<void>((resolve, reject) => {
      // A ticker does not keep the process alive (Node's, Bun's and Deno's are unref'd), and a
      // top-level await with nothing else pending ends Node with code 13: a timer of our own
      // holds the process until the first tick. It is cleared then, so the exit at the end still
      // shows that the ticker, never stopped, does not hold the process.
      const hold = setTimeout(() => reject(new Error('the ticker never ticked')), 10_000);
      rt.clock.every(5, () => {
        ticks++;
        clearTimeout(hold);
        resolve();
      });
    });
    const listener = await rt.listen(address, (conn) => {
      conn.bind({
        data(chunk) {
          if (!text([chunk]).includes('close-listener')) return;
          void listener.close().then(() => {
            say('listener-closed');
            conn.write([utf8('still-open')]);
            conn.end();
          });
        },
        drain() {},
        close: (err) => say(`conn-closed err=${errText(err)} ticked=${ticks > 0}`),
      });
    });
    say(`listening ${fmt.formatAddress(listener.address)}`);
  },

  /** Listens and closes at once, or prints why it could not listen. */
  async 'listen-once'(rt, address, _args, fmt) {
    let listener: ScenarioListener;
    try {
      listener = await rt.listen(address, (conn) => conn.close());
    } catch (err) {
      const e = err as Error & { code?: unknown };
      say(`listen-error name=${e.name} code=${String(e.code)} message=${e.message}`);
      return;
    }
    say(`listening ${fmt.formatAddress(listener.address)}`);
    await listener.close();
    say('closed');
  },

  /**
   * Core's `withoutStack` on this runtime's engine: prints the `stack` (JSON) of an RpcError, an
   * Error without a message and a TypeError made by it, whether each `stack` is enumerable, and
   * `Error.stackTraceLimit` after, set to an odd value before so that a fixed value put back
   * shows. The address is not used.
   */
  async 'without-stack'(_rt, _address, _args, core) {
    Error.stackTraceLimit = 17;
    const errors = [
      core.withoutStack(() => new core.RpcError(1, 'connection to 127.0.0.1:1 lost')),
      core.withoutStack(() => new Error()),
      core.withoutStack(() => new TypeError('not a number')),
    ];
    for (const err of errors) say(`stack ${JSON.stringify(err.stack)}`);
    // Whether each `stack` is enumerable (V8's is not): one that is, Object.assign and JSON copy.
    say(`enumerable ${JSON.stringify(errors.map((err) => Object.getOwnPropertyDescriptor(err, 'stack')?.enumerable ?? null))}`);
    say(`limit ${Error.stackTraceLimit}`);
  },
};
