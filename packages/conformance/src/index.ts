// @skein/conformance: the behaviours every Skein transport must show, as a vitest suite a
// third-party transport runs against itself (transportConformance), and the contract and
// scenarios behind it, which this repository's own cross-runtime matrix runs too.
export { transportConformance } from './transport-conformance.js';
export type { TransportUnderTest } from './transport-conformance.js';
export type { ScenarioName } from './expected.js';
export { Action, Calculator, DivideByZero, NotFound } from './contract.mjs';
export { conformanceDispatch } from './dispatch.mjs';
