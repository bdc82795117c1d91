import { closeSync, openSync, writeSync } from 'node:fs';

/**
 * Where a server notes every call it runs, one line each, written to the file before the call
 * is answered: a kill -9 right after loses nothing (the kernel has the bytes), so the runner
 * reads every server's executions at the end, the killed ones' too.
 */
export class ExecutionLog {
  count = 0;
  private readonly fd: number;

  constructor(path: string) {
    this.fd = openSync(path, 'a');
  }

  record(line: string): void {
    writeSync(this.fd, `${line}\n`);
    this.count++;
  }

  close(): void {
    closeSync(this.fd);
  }
}
