import { ServerRequest, metadataRecord, type Metadata, type Responder } from '@skein/stream';

/**
 * A plain call (it came to the server with no head) whose metadata a dispatch in front of the
 * pool gave it, as a worker runs it: a plain ServerRequest in every other way (its signal is its
 * connection's, the connection's close answers it), so that such a dispatch changes nothing but
 * the metadata the handler reads. @skein/otel's `tracedDispatch` hands on its server span's trace
 * context so, for the worker's handler to continue the trace.
 */
export class PlainMetadataRequest extends ServerRequest {
  private readonly _metadata: Metadata;

  constructor(owner: Responder, callId: number, actionId: number, actionName: string, msg: Uint8Array, blob: Uint8Array, metadata: Metadata | undefined) {
    super(owner, callId, 0, actionId, actionName, msg, blob);
    // As WorkerRequest's: the structured clone made it an object that inherits Object.prototype.
    this._metadata = metadataRecord(metadata);
  }

  override get metadata(): Metadata {
    return this._metadata;
  }
}
