// @skein/conformance: the behaviours every Skein transport and codec must show, as vitest suites
// a third-party transport or codec runs against itself, and the contract and scenarios behind the
// transport suite, which this repository's own cross-runtime matrix runs too.

// ── For library authors: the suites a third-party transport or codec runs
export { transportConformance } from './transport-conformance.js';
export type { TransportUnderTest } from './transport-conformance.js';
export type { ScenarioName } from './expected.js';
export type { OwnScheme } from './other-transport-addresses.js';
export { codecConformance } from './codec-conformance.js';
export type { CodecExpectations, CodecUnderTest } from './codec-conformance.js';

// ── The transport suite's contract, for the cross-runtime matrix
export { Action, Calculator, DivideByZero, NotFound } from './contract.mjs';
export { conformanceDispatch } from './dispatch.mjs';
