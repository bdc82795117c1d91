import type { Http2Session, Http2Stream } from 'node:http2';
import { ByteConnLifecycle, ErrorCode, RpcError, plainBytes, type ByteConn } from '@skein/core';

/** NGHTTP2_NO_ERROR, and NGHTTP2_CANCEL: this side dropped the stream. */
const NO_ERROR = 0x0;
const CANCEL = 0x8;

/**
 * core's ByteConn over one HTTP/2 stream (a request's body one way, its response's the other):
 * what a transport author writes over a byte stream that is no Runtime's, for
 * `byteStreamFraming` to frame. core's ByteConnLifecycle holds what arrives before `bind` and
 * while paused, and reports the close once. Each connection is a session of its own: the stream's
 * close closes it.
 */
export class H2ByteConn extends ByteConnLifecycle implements ByteConn {
  private error: Error | undefined;

  constructor(
    remote: string,
    private readonly stream: Http2Stream,
    session: Http2Session,
  ) {
    super(remote);
    // Nothing is read before bind: HTTP/2's flow control holds the peer meanwhile.
    stream.pause();
    stream.on('error', (err: Error) => (this.error ??= err));
    stream.on('drain', () => this.drained());
    stream.on('close', () => {
      session.close();
      // A reset once both sides ended drops nothing: a clean close, as a TCP close after both FINs.
      const code = this.bothEnded() ? 0 : (stream.rstCode ?? 0);
      this.gone(this.error ?? (code === 0 ? undefined : new RpcError(ErrorCode.IO, `HTTP/2 stream from ${remote} reset (code ${code})`)));
    });
  }

  write(chunks: readonly Uint8Array[]): boolean {
    if (this.stopped || this.over) return true;
    let below = true;
    this.stream.cork();
    for (const chunk of chunks) below = this.stream.write(chunk);
    this.stream.uncork();
    return below;
  }

  end(): void {
    this.stream.end();
  }

  protected override startReading(): void {
    if (this.stopped || this.over) return;
    this.stream.on('data', (chunk: Buffer) => this.received(plainBytes(chunk)));
    this.stream.on('end', () => this.endReceived());
    if (!this.paused) this.stream.resume();
  }

  protected override pauseReading(): void {
    this.stream.pause();
  }

  protected override resumeReading(): void {
    this.stream.resume();
  }

  protected closeTransport(): void {
    this.stream.close(this.bothEnded() ? NO_ERROR : CANCEL);
  }

  private bothEnded(): boolean {
    return this.stream.readableEnded && this.stream.writableFinished;
  }
}
