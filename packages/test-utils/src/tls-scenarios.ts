/**
 * The TLS scenarios of the runtime conformance suite (tls-conformance.ts), run in a child on the
 * runtime under test like the others in runtime-scenarios.ts. TLS options travel as one argument,
 * base64 JSON (`tlsArg`), so that the child needs no file access.
 */
type ScenarioAddress = { readonly host: string; readonly port: number } | { readonly path: string };

/** A ByteConn as these scenarios use it. */
interface TlsConn {
  readonly identity?: object;
  bind(handlers: { data(chunk: Uint8Array): void; drain(): void; end?(): void; close(err?: Error): void }): void;
  write(chunks: readonly Uint8Array[]): boolean;
  close(): void;
}

/** The Runtime contract with TLS, as these scenarios use it (structural: test-utils has no runtime dependency). */
export interface TlsRuntimeUnderTest {
  connect(address: ScenarioAddress, options?: { timeoutMs?: number; tls?: object }): Promise<TlsConn>;
  listen(
    address: ScenarioAddress,
    accept: (conn: TlsConn) => void,
    options?: { tls?: object },
  ): Promise<{ readonly address: ScenarioAddress; reloadTls?(tls: object): Promise<void> }>;
  loadConnectTls?(tls: object): Promise<void>;
}

type TlsScenario = (rt: TlsRuntimeUnderTest, address: ScenarioAddress, args: string[], format: (a: ScenarioAddress) => string) => Promise<void>;

/** TLS options as one command-line argument. */
export const tlsArg = (tls: object): string => btoa(JSON.stringify(tls));
const fromArg = (arg: string | undefined): object => JSON.parse(atob(arg ?? '')) as object;

const say = (line: string): void => console.log(line);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const errLine = (err: unknown): string => {
  const e = err as { name?: string; codeName?: string; message?: string } | undefined;
  return e ? `${e.codeName ?? e.name}: ${e.message?.split('\n')[0]}` : 'none';
};

type TlsListener = Awaited<ReturnType<TlsRuntimeUnderTest['listen']>>;

/** The n-th reload of tls-echo-server: one reloadTls, or (given a list) several at once. */
function reloadWith(listener: TlsListener, tls: object, n: number): void {
  if (!Array.isArray(tls)) {
    void listener.reloadTls!(tls).then(() => say(n === 1 ? 'reloaded' : `reloaded ${n}`), (e: unknown) => say(`reload-error ${errLine(e)}`));
    return;
  }
  void Promise.allSettled((tls as object[]).map((one) => listener.reloadTls!(one))).then((outcomes) =>
    say(`reloaded-at-once ${outcomes.map((o) => (o.status === 'fulfilled' ? 'fulfilled' : errLine(o.reason))).join(',')}`),
  );
}

/**
 * Echoes `conn`, printing `identity <json>` with its first data and `conn-closed data=<n>
 * err=<reason>` at its close (then `closed`, if given).
 */
function echo(conn: TlsConn, closed?: () => void): void {
  let data = 0;
  conn.bind({
    data(chunk) {
      if (data++ === 0) say(`identity ${JSON.stringify(conn.identity ?? null)}`);
      conn.write([chunk]);
    },
    drain() {},
    close(err) {
      say(`conn-closed data=${data} err=${errLine(err)}`);
      closed?.();
    },
  });
}

export const TLS_SCENARIOS: Record<string, TlsScenario> = {
  /**
   * `tls-echo-server <address> <tls> [<reload tls>...]`: echoes every connection, printing for each
   * `identity <json>` with its first data and `conn-closed data=<n> err=<reason>` at its close.
   * With reload arguments it reloads with the n-th after its n-th connection closes (`reloaded`,
   * then `reloaded <n>` from the second on; `reload-error <why>` when it fails). A reload argument
   * that is a list calls reloadTls with each of them at once, and prints how each settled, in
   * call order: `reloaded-at-once <fulfilled|why>,...`. Runs until killed.
   */
  async 'tls-echo-server'(rt, address, [tls, ...reloads], format) {
    let closes = 0;
    let listener: TlsListener;
    try {
      listener = await rt.listen(
        address,
        (conn) => {
          say('accepted');
          echo(conn, () => {
            const n = ++closes;
            const reload = reloads[n - 1];
            if (reload !== undefined) reloadWith(listener, fromArg(reload), n);
          });
        },
        { tls: fromArg(tls) },
      );
    } catch (err) {
      say(`listen-error ${errLine(err)}`);
      return;
    }
    say(`listening ${format(listener.address)}`);
  },

  /**
   * `tls-timed-echo-server <address> <tls>`: tls-echo-server (no reloads), and `time-up <n>` once
   * the tls's handshakeTimeoutMs has passed since the n-th accept. That timer starts a turn after
   * the accept, so after the runtime's own handshake timer for the connection (same duration,
   * started at accept): by that line the runtime's timer has fired, and a test waits on the line,
   * not on a clock of its own. Runs until killed.
   */
  async 'tls-timed-echo-server'(rt, address, [tls], format) {
    const options = fromArg(tls) as { handshakeTimeoutMs?: number };
    let accepted = 0;
    let listener: TlsListener;
    try {
      listener = await rt.listen(
        address,
        (conn) => {
          const n = ++accepted;
          say('accepted');
          echo(conn);
          setTimeout(() => setTimeout(() => say(`time-up ${n}`), options.handshakeTimeoutMs), 0);
        },
        { tls: options },
      );
    } catch (err) {
      say(`listen-error ${errLine(err)}`);
      return;
    }
    say(`listening ${format(listener.address)}`);
  },

  /**
   * `tls-half-open-server <address> <tls> <now|late>`: echoes, and answers a peer's half-close
   * with `bye` a turn later, its own side left open (as a server that still owes replies). `late`
   * leaves its first connection unbound until a second arrives (an accept path that binds late,
   * as the stream layer's may), closes the second, then binds the first. Prints `accepted` (the
   * first connection), `bound`, `conn-ended` at the peer's half-close, and
   * `conn-closed data=<n> err=<reason>`. Runs until killed.
   */
  async 'tls-half-open-server'(rt, address, [tls, when], format) {
    let first: TlsConn | undefined;
    const bind = (conn: TlsConn): void => {
      let data = 0;
      conn.bind({
        data(chunk) {
          data++;
          conn.write([chunk]);
        },
        drain() {},
        end() {
          say('conn-ended');
          setTimeout(() => conn.write([utf8('bye')]), 0);
        },
        close: (err) => say(`conn-closed data=${data} err=${errLine(err)}`),
      });
      say('bound');
    };
    let listener: TlsListener;
    try {
      listener = await rt.listen(
        address,
        (conn) => {
          if (first === undefined) {
            first = conn;
            say('accepted');
            if (when === 'now') bind(conn);
            return;
          }
          if (when === 'now') return bind(conn);
          conn.close();
          bind(first);
        },
        { tls: fromArg(tls) },
      );
    } catch (err) {
      say(`listen-error ${errLine(err)}`);
      return;
    }
    say(`listening ${format(listener.address)}`);
  },

  /**
   * `tls-paused-server <address> <tls>`: pauses its first connection and binds it at accept,
   * before its handshake; the second connection (any first byte, TLS or not: accept comes at TCP
   * accept) resumes it. Prints `paused`, `before-resume=<bytes delivered>`, and at the first's
   * close `data-closed bytes=<n> err=<reason>`. Runs until killed.
   */
  async 'tls-paused-server'(rt, address, [tls], format) {
    let first: (TlsConn & { pause(): void; resume(): void }) | undefined;
    let bytes = 0;
    let listener: TlsListener;
    try {
      listener = await rt.listen(
        address,
        (conn) => {
          const c = conn as TlsConn & { pause(): void; resume(): void };
          if (first !== undefined) {
            say(`before-resume=${bytes}`);
            c.close();
            first.resume();
            return;
          }
          first = c;
          c.pause();
          c.bind({ data: (chunk) => void (bytes += chunk.length), drain() {}, close: (err) => say(`data-closed bytes=${bytes} err=${errLine(err)}`) });
          say('paused');
        },
        { tls: fromArg(tls) },
      );
    } catch (err) {
      say(`listen-error ${errLine(err)}`);
      return;
    }
    say(`listening ${format(listener.address)}`);
  },

  /**
   * `tls-load-connect <address> <tls> <listen tls> <reload tls>`: loads `tls` as a connect's
   * (Runtime.loadConnectTls) and prints `load-connect fulfilled`, why not, or `none` (the runtime
   * has none); then reloads a listener on `address` made with `listen tls` with `reload tls`, and
   * prints `reload fulfilled` or why not. Runs until killed.
   */
  async 'tls-load-connect'(rt, address, [tls, listenTls, reloadTls]) {
    const outcome = (p: Promise<unknown>): Promise<string> => p.then(() => 'fulfilled', errLine);
    say(`load-connect ${rt.loadConnectTls ? await outcome(rt.loadConnectTls(fromArg(tls))) : 'none'}`);
    const listener = await rt.listen(address, (conn) => conn.close(), { tls: fromArg(listenTls) });
    say(`reload ${await outcome(listener.reloadTls!(fromArg(reloadTls)))}`);
  },

  /** `tls-call <address> <tls> [timeoutMs]`: connects, sends `ping`, prints `echoed <text> identity <json>` or what failed. */
  async 'tls-call'(rt, address, [tls, timeoutMs]) {
    await call(rt, address, fromArg(tls), timeoutMs === undefined ? 10_000 : Number(timeoutMs), say);
  },

  /**
   * `tls-refusals <address> (<listen tls> <connect tls>)...`: for each pair in turn, what
   * tls-echo-server (on 127.0.0.1:0) and tls-call (to `address`) would print in processes of their
   * own, as `case <i> listen <listening ...|listen-error ...>` and `case <i> <tls-call's line>`:
   * one process for many cases, since a runtime's start is most of each one's time. Runs until
   * killed (a listen that succeeds keeps listening).
   */
  async 'tls-refusals'(rt, address, pairs, format) {
    for (let i = 0; i * 2 < pairs.length; i++) {
      try {
        const listener = await rt.listen({ host: '127.0.0.1', port: 0 }, (conn) => echo(conn), { tls: fromArg(pairs[i * 2]) });
        say(`case ${i} listen listening ${format(listener.address)}`);
      } catch (err) {
        say(`case ${i} listen listen-error ${errLine(err)}`);
      }
      await call(rt, address, fromArg(pairs[i * 2 + 1]), 10_000, (line) => say(`case ${i} ${line}`));
    }
  },
};

/** One connect to `address` with `tls` as tls-call makes it: prints `echoed <text> identity <json>` or what failed, then closes. */
async function call(rt: TlsRuntimeUnderTest, address: ScenarioAddress, tls: object, timeoutMs: number, print: (line: string) => void): Promise<void> {
  let conn: TlsConn;
  try {
    conn = await rt.connect(address, { tls, timeoutMs });
  } catch (err) {
    print(`connect-error ${errLine(err)}`);
    return;
  }
  const got = await new Promise<string>((resolve) => {
    let text = '';
    conn.bind({
      data(chunk) {
        text += new TextDecoder().decode(chunk);
        if (text === 'ping') resolve(`echoed ${text} identity ${JSON.stringify(conn.identity ?? null)}`);
      },
      drain() {},
      close: (err) => resolve(`closed-error ${errLine(err)}`),
    });
    conn.write([utf8('ping')]);
  });
  print(got);
  conn.close();
}
