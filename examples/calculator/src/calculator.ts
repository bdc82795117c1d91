import { codeErrors } from '@skein/core';
import { method, service } from '@skein/api';

/** Thrown by `div` when b is 0; travels as custom error number 1. */
export class DivideByZero extends Error {
  override readonly name = 'DivideByZero';
  constructor() {
    super('division by zero');
  }
}

export const Calculator = service('Calculator', {
  add: method<{ a: number; b: number }, number>().idempotent(),
  div: method<{ a: number; b: number }, number>().throws(codeErrors({ 1: DivideByZero })),
  echo: method<Uint8Array, Uint8Array>().idempotent(),
});
