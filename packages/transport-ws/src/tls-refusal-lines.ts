import { RepeatedLine, systemClock, type Logger } from '@skein/core';

/** The kinds of connection a wss listener refuses at TLS, each with its own line. */
export type TlsRefusal = 'TLS client certificate refused' | 'TLS handshake failed';

/**
 * The warn lines of connections a wss listener refuses at TLS (a client certificate that does
 * not verify, a handshake that fails). Strangers open as many connections as they like, so a
 * line each would be a log flood they drive: each kind is said whole once (with the peer and
 * the reason), then counted, one line per 10 s window while it lasts (a RepeatedLine), as an
 * RpcServer's own lines of broken connections are. `flush` says what is counted, at close.
 */
export class TlsRefusalLines {
  private readonly lines = new Map<TlsRefusal, RepeatedLine>();

  constructor(private readonly logger: Logger) {}

  warn(kind: TlsRefusal, fields: { remote: string; reason: string }): void {
    if (this.lineOf(kind).hit()) this.logger.warn(fields, `${kind}: closing the connection`);
  }

  flush(): void {
    for (const line of this.lines.values()) line.flush();
  }

  private lineOf(kind: TlsRefusal): RepeatedLine {
    let line = this.lines.get(kind);
    if (line === undefined) {
      line = new RepeatedLine(systemClock, (n) => this.logger.warn({ kind, connections: n }, `${kind}: ${n === 1 ? '1 more connection' : `${n} more connections`} since the last line`));
      this.lines.set(kind, line);
    }
    return line;
  }
}
