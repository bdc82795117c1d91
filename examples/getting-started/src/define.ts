// A service is a name and its methods; the same object drives the server and the client.
import { codeErrors } from '@skein/core';
import { method, service } from '@skein/api';

export class OutOfStock extends Error {
  override readonly name = 'OutOfStock';
}

export const Shop = service('Shop', {
  price: method<{ sku: string }, number>().idempotent(),
  buy: method<{ sku: string; qty: number }, { orderId: string }>().throws(codeErrors({ 1: OutOfStock })),
});
