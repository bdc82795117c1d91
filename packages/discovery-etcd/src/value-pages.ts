import type { Etcd3, IKeyValue } from 'etcd3';
import type { CallOptions } from './attempt-deadline.js';
import { TOO_LARGE_IS_NOT_A_FAULT, tooLarge } from './too-large-call.js';

/** Keys whose values are read in one call at most: as many as a page of the listing. */
const MAX_PAGE = 1000;
/**
 * Keys in the first page, their values' sizes unknown: small entries (~100 bytes) are one
 * small call, and 64 of the largest a registrar writes (128 KiB) one refusal from fitting.
 */
const FIRST_PAGE = 64;
/** grpc-js's receive limit unless the client's `grpcOptions` set another. */
const DEFAULT_RECEIVE_LIMIT = 4 << 20;
/** A key-value's bytes in a range answer beyond its key and value (revisions, version, lease, framing). */
const KV_OVERHEAD = 48;

/**
 * Reads the values of listed keys, all at one revision, a page of consecutive keys per range call:
 * one call per key cost ~0.5 ms a key, and a listing of 20,000 servers outlasted a CLI's timeout.
 * A page is sized from the values read so far so that its answer is a quarter of the client's
 * receive limit, so that the memory one call takes is bounded by that limit whatever is under the
 * prefix. A page refused as too large all the same (gRPC refuses it from its length prefix,
 * before buffering it) is read again as two halves, down to a single key, whose value is then too
 * large by itself: it is handed to `onTooLarge` and left out. Every call carries
 * TOO_LARGE_IS_NOT_A_FAULT, so that no refusal counts with etcd3 as a failure of the host.
 */
export class ValuePages {
  /** Keys in the next page. */
  private size = FIRST_PAGE;
  private readonly targetBytes: number;

  constructor(
    private readonly client: Etcd3,
    private readonly revision: string,
    private readonly bound: () => CallOptions,
    private readonly onTooLarge: (listed: IKeyValue) => void,
  ) {
    this.targetBytes = receiveLimit(client) / 4;
  }

  /** Appends to `out` the values of `run`: keys listed one after another (none between them left out), in order. */
  async read(run: readonly IKeyValue[], out: IKeyValue[]): Promise<void> {
    for (let i = 0; i < run.length; ) {
      const page = run.slice(i, i + this.size);
      i += page.length;
      await this.page(page, out);
    }
  }

  private async page(keys: readonly IKeyValue[], out: IKeyValue[]): Promise<void> {
    let kvs: IKeyValue[];
    try {
      kvs = await this.range(keys);
    } catch (err) {
      if (!tooLarge(err)) throw err;
      if (keys.length === 1) return this.onTooLarge(keys[0]!);
      const half = Math.ceil(keys.length / 2);
      // The pages after it no larger than its halves: those were refused with it.
      this.size = Math.min(this.size, half);
      await this.page(keys.slice(0, half), out);
      await this.page(keys.slice(half), out);
      return;
    }
    for (const kv of kvs) out.push(kv);
    this.fit(kvs);
  }

  /**
   * One key is read as a key (no range end); a page as the range from its first key to just past
   * its last, which at the listing's revision holds exactly the keys listed between them.
   */
  private async range(keys: readonly IKeyValue[]): Promise<IKeyValue[]> {
    const first = keys[0]!.key;
    const last = keys.at(-1)!.key;
    const bound = this.bound();
    const options = { ...bound, interceptors: [...(bound.interceptors ?? []), ...TOO_LARGE_IS_NOT_A_FAULT.interceptors!] };
    const req = keys.length === 1 ? { key: first, revision: this.revision } : { key: first, range_end: Buffer.concat([last, Buffer.from([0])]), limit: keys.length, revision: this.revision };
    return (await this.client.kv.range(req, options)).kvs;
  }

  /** Sizes the next page from the bytes this one's keys took on average. */
  private fit(kvs: readonly IKeyValue[]): void {
    if (kvs.length === 0) return;
    let bytes = 0;
    for (const kv of kvs) bytes += kv.key.length + kv.value.length + KV_OVERHEAD;
    this.size = Math.max(1, Math.min(MAX_PAGE, Math.floor(this.targetBytes / (bytes / kvs.length))));
  }
}

/** The largest message the client takes (its `grpc.max_receive_message_length`; -1, none, counts as the default). */
function receiveLimit(client: Etcd3): number {
  const set = (client as unknown as { options?: { grpcOptions?: Record<string, unknown> } }).options?.grpcOptions?.['grpc.max_receive_message_length'];
  return typeof set === 'number' && set > 0 ? set : DEFAULT_RECEIVE_LIMIT;
}
