import { GRPCResourceExhastedError, type Etcd3 } from 'etcd3';

/** gRPC call options as etcd3 takes them (grpc-js's CallOptions, named through etcd3's own types). */
type CallOptions = NonNullable<Parameters<Etcd3['kv']['range']>[1]>;
type Interceptor = NonNullable<CallOptions['interceptors']>[number];
type Status = { code: number; details: string };

const RESOURCE_EXHAUSTED = 8;
const FAILED_PRECONDITION = 9;

/** Said in the details of a refusal rewritten here, so that `refusedTooLarge` knows it for ours. */
const MARK = 'value too large for one gRPC message';

/**
 * Call options for a read whose answer may be too large for the client: grpc-js refuses such an
 * answer from its length prefix (RESOURCE_EXHAUSTED, "Received message larger than max"), and
 * etcd3 counts that code as a failure of the host: it retries the read twice, resets every
 * connection of the client (its watches and lease keepalives break) and, three failures in a
 * row, opens its circuit breaker, which then refuses every call of the client for 5 s. A value
 * too large is a fact about the value, not the host: this interceptor hands that refusal on as
 * FAILED_PRECONDITION, which etcd3 neither retries nor counts. Any other status passes unchanged.
 *
 * A call given these options uses them instead of the client's `defaultCallOptions.interceptors`
 * (etcd3 merges call options over the defaults key by key).
 */
export const TOO_LARGE_IS_NOT_A_FAULT: CallOptions = { interceptors: [notAFault as unknown as Interceptor] };

/** A read refused as too large, through TOO_LARGE_IS_NOT_A_FAULT (etcd3 keeps the message, not the code). */
export function refusedTooLarge(err: unknown): boolean {
  return err instanceof Error && err.message.includes(MARK);
}

/** A message past the client's receive limit (gRPC's RESOURCE_EXHAUSTED from its own check, or that refusal as TOO_LARGE_IS_NOT_A_FAULT says it). */
export function tooLarge(err: unknown): boolean {
  if (refusedTooLarge(err)) return true;
  const code = err instanceof GRPCResourceExhastedError ? 8 : (err as { code?: unknown } | null)?.code;
  // etcd answers RESOURCE_EXHAUSTED too ("too many requests", "database space exceeded").
  return code === 8 && /larger than max/.test(err instanceof Error ? err.message : '');
}

function rewrite(status: Status): Status {
  if (status.code !== RESOURCE_EXHAUSTED || !/larger than max/.test(status.details)) return status;
  return { ...status, code: FAILED_PRECONDITION, details: `${MARK}: ${status.details}` };
}

/**
 * The call as grpc-js built it, but for the status its listener hears. Proxies, not grpc-js's
 * InterceptingCall: that class is etcd3's dependency's, not ours to import, and a proxy forwards
 * every other method whatever the grpc-js version has.
 */
function notAFault(options: unknown, nextCall: (options: unknown) => object): object {
  const call = nextCall(options);
  return forwarding(call, {
    start: (metadata: unknown, listener?: { onReceiveStatus?: (s: Status) => void }) =>
      (call as { start(m: unknown, l?: object): void }).start(
        metadata,
        listener && forwarding(listener, { onReceiveStatus: (s: Status) => listener.onReceiveStatus?.(rewrite(s)) }),
      ),
  });
}

/** `target` with `own` members in place of its own; every other method bound to `target`. */
function forwarding<T extends object>(target: T, own: Record<string, unknown>): T {
  return new Proxy(target, {
    get(t, p) {
      if (typeof p === 'string' && Object.hasOwn(own, p)) return own[p];
      const v: unknown = Reflect.get(t, p);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}
