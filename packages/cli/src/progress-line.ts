/** Where the CLI writes: a process's stdout or stderr, or a test's stand-in. */
export interface Output {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/**
 * A status line rewritten in place (carriage return, then the text padded over the last one).
 * Only on a terminal: piped into a file or another program it writes nothing, so logs hold the
 * summary alone.
 */
export class ProgressLine {
  private width = 0;
  private shown = false;

  constructor(private readonly out: Output) {}

  get enabled(): boolean {
    return this.out.isTTY === true;
  }

  update(text: string): void {
    if (!this.enabled) return;
    this.out.write(`\r${text.padEnd(this.width)}`);
    this.width = text.length;
    this.shown = true;
  }

  /** Ends the line, so that what follows starts on its own. */
  end(): void {
    if (this.shown) this.out.write('\n');
    this.shown = false;
    this.width = 0;
  }
}
