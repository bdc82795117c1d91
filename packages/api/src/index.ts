export { method, service } from './define.js';
export type { MethodDef, MethodBuilder, ServiceDef, MethodMap, AnyMethod, ArgOf, ResultOf, ErrorOf } from './define.js';
export { createClient } from './client.js';
export type { Client, ClientMethod, ClientOptions, MethodCallOptions, CallError, Result } from './client.js';
export type { Caller, CallerOptions } from './caller.js';
export { implement, createServiceDispatch } from './service-dispatch.js';
export type { Handler, Handlers, ServiceImpl, ServiceDispatchOptions } from './service-dispatch.js';
export { CallContext } from './context.js';
export { describeIssues } from './schema.js';
