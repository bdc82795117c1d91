import type { ServerRequest } from '@skein/stream';
import type { HandlerEndsMessage } from './messages.js';

/** Little-endian u32 of a request's seq bytes: in a worker, the pool's call id (README, "Not carried"). */
const callIdOf = (req: ServerRequest): number => {
  const b = req.seqBytes;
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
};

/**
 * A worker's handlers that run on past their call's answer (the pool's cancel answered it, or
 * the dispatch's own handler timeout), as its connections' Responder counts them
 * (`abandonedRunning`, `abandonedEnded`): each is told to the pool, which has the server count it
 * against the real connection until this worker says it ended. Without this a client that
 * abandons every call it makes ran any number of handlers in a worker at once: each answer here
 * freed the call's places, and nothing counted the handler left running. Only a dispatch that
 * tells when its handlers end takes part (`handlerEndToldBy`); rare paths only: nothing per call.
 */
export class HandlersRunningOn {
  private readonly tokens = new Map<ServerRequest, number>();
  private lastToken = 0;
  private ids: number[] = [];
  private started: number[] = [];
  private endedTokens: number[] = [];

  constructor(
    /** Whether the worker's dispatch tells when `req`'s handler ends. */
    private readonly tells: (req: ServerRequest) => boolean,
    /** Something is to be sent: the worker flushes it this turn, before its answers. */
    private readonly wake: () => void,
  ) {}

  /** `req` is about to be answered while its handler runs on: true when it is counted until it ends. */
  runsOn(req: ServerRequest): boolean {
    if (!this.tells(req)) return false;
    const token = ++this.lastToken;
    this.tokens.set(req, token);
    this.ids.push(callIdOf(req));
    this.started.push(token);
    this.wake();
    return true;
  }

  /** The handler of a request counted by `runsOn` ended. */
  handlerEnded(req: ServerRequest): void {
    const token = this.tokens.get(req);
    if (token === undefined) return;
    this.tokens.delete(req);
    this.endedTokens.push(token);
    this.wake();
  }

  /** What to tell the pool, if anything; emptied. */
  take(): HandlerEndsMessage | undefined {
    if (this.started.length === 0 && this.endedTokens.length === 0) return undefined;
    const m: HandlerEndsMessage = { t: 'handlers', ids: this.ids, tokens: this.started, ended: this.endedTokens };
    this.ids = [];
    this.started = [];
    this.endedTokens = [];
    return m;
  }
}
