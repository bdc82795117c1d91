// The Calculator service of examples/calculator, copied rather than imported: examples are not
// packages, and the benchmark must not change when the demo does.
import { method, service } from '@skein/api';
import { codeErrors } from '@skein/core';

/** Thrown by `div` when b is 0; travels as custom error number 1. */
export class DivideByZero extends Error {
  name = 'DivideByZero';
  constructor() {
    super('division by zero');
  }
}

export const Calculator = service('Calculator', {
  add: method().idempotent(),
  div: method().throws(codeErrors({ 1: DivideByZero })),
  echo: method().idempotent(),
});

/** The argument every `add` benchmark sends, whatever the system, so payloads compare. */
export const ADD_ARG = { a: 1234, b: 5678 };
