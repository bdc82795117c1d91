import { RepeatedLine, type Clock, type Logger } from '@skein/core';

/** Kinds told apart at most: past it, the rest share one line (what a peer sends never grows the map). */
const MAX_KINDS = 64;

/**
 * A number, blanked in a kind: `0x` hex, a hex run with a digit in it standing as a word (OpenSSL's
 * thread id and error code, `80CC6CCA187F0000:error:0A00010B:`, each one N, where blanking their
 * digits alone read `NCCNCCANFN:error:NANB:`), then any other run of digits.
 */
const NUMBER = /\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)[0-9a-f]+\b|\d+/gi;

/** `text` on one line: OpenSSL's reasons end with a newline (one line per error), which broke the count line in two. */
function oneLine(text: string): string {
  return text.trim().replace(/\s*[\r\n]+\s*/g, ' ');
}

/**
 * The lines of connections a peer breaks (a malformed frame, a frame not finished in time, a call
 * before authenticating), bounded by time per kind: strangers open as many connections as they
 * like, so one line each would be a log flood they drive. The first of a kind is said whole, with
 * the peer's address; the next ones in its window are counted, in one line per window (a
 * RepeatedLine per kind); `flush` says what is counted, at the server's close.
 */
export class ViolationLines {
  private readonly lines = new Map<string, RepeatedLine>();

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /**
   * One occurrence of `msg`, whose `detail` (the reason, if any) tells kinds apart, its numbers
   * blanked: "message of 70000 bytes exceeds 65536" and "of 80000" are one kind, whose count line
   * says the first of them.
   */
  say(level: 'warn' | 'info', fields: Record<string, unknown>, msg: string, detail?: string): void {
    if (this.lineOf(level, detail === undefined ? msg : `${msg} (${oneLine(detail)})`).hit()) this.logger[level](fields, msg);
  }

  /** Says every count not said yet: for the server's close, so that none is lost with it. */
  flush(): void {
    for (const line of this.lines.values()) line.flush();
  }

  private lineOf(level: 'warn' | 'info', what: string): RepeatedLine {
    let kind = `${level} ${what.replace(NUMBER, 'N')}`;
    const overflow = !this.lines.has(kind) && this.lines.size >= MAX_KINDS;
    if (overflow) kind = `${level} other`;
    let line = this.lines.get(kind);
    if (line === undefined) {
      const key = kind.slice(level.length + 1);
      // The count line says the first text of its kind, numbers and all: the key has them
      // blanked. The key stays the `kind` field, what the line counts by. The overflow line
      // mixes kinds: it has no one text.
      const said = overflow ? key : what;
      line = new RepeatedLine(this.clock, (n) => this.logger[level]({ kind: key, connections: n }, `${said}: ${n === 1 ? '1 more connection' : `${n} more connections`} since the last line`));
      this.lines.set(kind, line);
    }
    return line;
  }
}
