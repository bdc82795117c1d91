/**
 * @skein/api: typed services on top of @skein/stream, with types inferred end to end.
 *
 * A service is defined once (`service('Calculator', { add: method<Arg, Result>() })`), with
 * optional schemas and typed custom errors per method. The client side is a stub
 * (`createClient(def, caller, { codec })`): each method encodes its argument with the codec and
 * sends the action `"Service.method"` through any `Caller` (a ClientStream, ConnPool or
 * FailoverPool). The server side is a `Dispatch` (`createServiceDispatch`) that finds the method,
 * decodes and checks the argument, runs the filters around the handler with a `CallContext`
 * (signal, logger, the connection), and encodes the result or the error. A cluster
 * (`createCluster`) holds clients by server type, pomelo-style: routing, broadcast, servers that
 * join and leave. A server says whether it is serving, and each of its services, through the
 * standard health service (`Health`, `skein.health.Health` on the wire: gRPC's grpc.health.v1
 * check and watch), answered by `healthService(reporter)` from what the application sets on a
 * `HealthReporter`, which says `not-serving` for good once the server begins to close.
 */

// ── Defining a service
export { method, service } from './define.js';
export { serverStream, clientStream, bidiStream } from './stream-methods.js';
export type { StreamSchemas } from './stream-methods.js';
export { withBlob } from './with-blob.js';
export type { WithBlob, Blobbed } from './with-blob.js';
export type { MethodDef, MethodBuilder, ServiceDef, MethodMap, AnyMethod, ArgOf, ResultOf, ErrorOf, OpenErrorOf, ClientArgOf, HandlerResultOf, StreamKind } from './define.js';

// ── Calling it: a typed stub over any Caller
export { createClient } from './client.js';
export type { Client, ClientMethod, ClientOptions, MethodCallOptions, CallArgs, CallError, Result } from './client.js';
// The words of a server's refusal of a streaming method called as unary, which clients match (the wire carries no more).
export { CALLED_AS_UNARY } from './called-as-unary.js';

// ── Serving it: handlers, the call context, filters around them
export { implement, createServiceDispatch } from './service-dispatch.js';
export type { Handler, Handlers, ServiceImpl, ServiceDispatchOptions } from './service-dispatch.js';
export { CallContext } from './context.js';
export { describeIssues } from './schema.js';
export type { Filter, ServerFilter, CallInfo, ServerCallInfo, Outcome } from './filters.js';
export { callLog, overloadShedding } from './builtin-filters.js';
export type { OverloadOptions, OverloadShedding } from './builtin-filters.js';
export { bearerAuth } from './bearer-auth.js';
export type { BearerCheck, BearerAuthOptions } from './bearer-auth.js';
// Its client side: a filter that sends the token bearerAuth reads.
export { bearerToken } from './bearer-token.js';
export type { BearerTokenSource, BearerTokenOptions } from './bearer-token.js';

// ── Health: is the server serving, and each service (gRPC's health checking)
export { Health, HEALTH_SERVICE_NAME } from './health-definition.js';
export { HealthReporter } from './health-reporter.js';
export type { Drainable } from './health-reporter.js';
export { healthService } from './health-service.js';
export { ServiceUnknown } from './service-unknown.js';
export { MAX_HEALTH_SERVICE_NAME } from './health-service-name.js';
export type { HealthStatus, ServingStatus } from './health-status.js';
export type { HealthRequest, HealthReply } from './health-schemas.js';
export type { StatusWatch } from './status-watch.js';

// ── Clusters: clients by server type, routing and broadcast
export { createCluster } from './cluster.js';
export type { Cluster, ClusterOptions, ClusterControl, ServerTypeConfig, Member, RouteFunction, TypeClient, BroadcastResult, CallerTarget } from './cluster.js';

// ── For library authors: a client stub or a dispatch of your own that runs Skein filters
export { withFilters, callInfo } from './filters.js';
export type { FilterWatch, CallInfoExtra } from './filters.js';
