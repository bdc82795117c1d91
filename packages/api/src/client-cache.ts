import type { Codec, Logger } from '@skein/core';
import type { Caller } from '@skein/stream';
import type { ServiceDef } from './define.js';

/** The options a client is made with, as far as they tell two clients apart. */
interface Made {
  readonly def: ServiceDef;
  readonly codec: Codec;
  readonly timeoutMs: number | undefined;
  readonly logger: Logger | undefined;
  readonly client: object;
}

/** Clients kept per caller: past it, the oldest kept is replaced (a caller is used with few definitions). */
const PER_CALLER = 8;

/**
 * The clients made over each caller, handed out again when one is asked for with the same
 * definition, codec, timeout and logger and no filters: a handler that calls its client back makes
 * `createClient(Def, ctx.caller, { codec })` per call, and a client of five methods is some fifty
 * objects that live as long as its call, which made ~3.7 µs a call of a worker's collections and
 * construction (docs/benchmarks.md, "A client made per call"). Two such clients could not be told
 * apart: a client is frozen, and its methods keep no state but whether a reply has decoded yet
 * (the hint a codec mismatch's error gives), which is then shared. Clients with filters are made
 * anew: filters are usually given as an array made for the call, and may keep state of their own.
 * Kept weakly, by caller: a client goes with its caller.
 */
export class ClientCache {
  private readonly byCaller = new WeakMap<Caller, Made[]>();

  /** The client made before over `caller` with the same definition and options, if any. */
  find(caller: Caller, def: ServiceDef, codec: Codec, timeoutMs: number | undefined, logger: Logger | undefined): object | undefined {
    const made = this.byCaller.get(caller);
    if (made === undefined) return undefined;
    for (const m of made) if (m.def === def && m.codec === codec && m.timeoutMs === timeoutMs && m.logger === logger) return m.client;
    return undefined;
  }

  keep(caller: Caller, made: Made): void {
    let list = this.byCaller.get(caller);
    if (list === undefined) this.byCaller.set(caller, (list = []));
    if (list.length === PER_CALLER) list.shift();
    list.push(made);
  }
}
