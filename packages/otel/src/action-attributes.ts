import type { Attributes, SpanKind, SpanOptions } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ATTR_RPC_METHOD, ATTR_RPC_SERVICE, ATTR_RPC_SYSTEM, RPC_SYSTEM } from './semconv.js';

/** What every call of one action shares: its span name and the attributes its metrics carry. */
export interface ActionNames {
  /** `Service/method`, as the conventions name RPC spans. */
  readonly spanName: string;
  /** `rpc.system`, `rpc.service`, `rpc.method`: frozen, shared by every call of the action. */
  readonly attributes: Attributes;
  /** The same with `error.type`, per error type: made once per (action, type). */
  readonly failed: Map<string, Attributes>;
  /** What a span of the action starts with, for one side: no options object per call. */
  readonly spanOptions: SpanOptions;
  /** A server answered it other than `Method`/`Service` at least once: the server has it. */
  served: boolean;
  /**
   * A server trusts it before any answer vouched for it (one of its bounded few): its calls go
   * under its own name meanwhile. Set on a name the cache keeps, never on a made-per-call one.
   */
  provisional: boolean;
  /** The cache keeps it: a flag set on it lasts (past the cap, names are made per call). */
  readonly kept: boolean;
  /**
   * Its `in_flight` series exists: set when a call ends that was never counted in flight (a
   * handler that answered before the dispatch returned), which then adds 0 once to make it.
   */
  idleShown: boolean;
}

/** `rpc.method` of actions a server does not have, as the conventions name unknown methods. */
export const OTHER_METHOD = '_OTHER';

/** Past this many distinct actions, names are made per call and not kept: a peer minting actions cannot grow the cache. */
const MAX_ACTIONS = 1024;

/**
 * Names and attribute sets per action, made on the first call of each and reused: a call's
 * metrics then allocate no attribute object.
 */
export class ActionNameCache {
  private readonly byAction = new Map<string | number, ActionNames>();
  /**
   * Where a server's metrics put calls of actions it does not have: any peer can name new
   * ones, and a series per name would grow with calls (and push real ones into the SDK's overflow).
   */
  readonly other: ActionNames;

  constructor(private readonly kind: SpanKind) {
    this.other = actionNames(OTHER_METHOD, kind, true);
  }

  of(action: string | number): ActionNames {
    const known = this.byAction.get(action);
    if (known) return known;
    const kept = this.byAction.size < MAX_ACTIONS;
    const names = actionNames(action, this.kind, kept);
    if (kept) this.byAction.set(action, names);
    return names;
  }

  /** The action's attributes with `error.type`. */
  failedAttributes(names: ActionNames, type: string): Attributes {
    let a = names.failed.get(type);
    if (!a) {
      a = Object.freeze({ ...names.attributes, [ATTR_ERROR_TYPE]: type });
      if (names.failed.size < 32) names.failed.set(type, a);
    }
    return a;
  }
}

/**
 * `Service.method` is @skein/api's wire action: the service is the part before the last dot, as
 * the server's dispatch reads it (a method name never has a dot; a service's may: Skein's own
 * `skein.health.Health`, and OpenTelemetry's `rpc.service` is the full name, as gRPC's
 * `pkg.Service`). A string without one, or a numeric action, has no service: the whole action is
 * the method.
 */
function actionNames(action: string | number, kind: SpanKind, kept: boolean): ActionNames {
  const text = typeof action === 'number' ? String(action) : action;
  const dot = typeof action === 'string' ? action.lastIndexOf('.') : -1;
  const service = dot > 0 ? text.slice(0, dot) : undefined;
  const method = dot > 0 ? text.slice(dot + 1) : text;
  const attributes: Attributes = { [ATTR_RPC_SYSTEM]: RPC_SYSTEM, [ATTR_RPC_METHOD]: method };
  if (service !== undefined) attributes[ATTR_RPC_SERVICE] = service;
  Object.freeze(attributes);
  return { spanName: service !== undefined ? `${service}/${method}` : method, attributes, failed: new Map(), spanOptions: Object.freeze({ kind, attributes }), served: false, provisional: false, kept, idleShown: false };
}
