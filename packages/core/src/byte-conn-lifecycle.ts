import { ConnLifecycle } from './conn-lifecycle.js';
import type { ByteHandlers } from './runtime.js';

/** ConnLifecycle for a runtime's ByteConn: it receives chunks, each handed to `data` whole. */
export abstract class ByteConnLifecycle extends ConnLifecycle<ByteHandlers, Uint8Array> {
  protected consume(chunk: Uint8Array): boolean {
    this.handlers!.data(chunk);
    return true;
  }
}
