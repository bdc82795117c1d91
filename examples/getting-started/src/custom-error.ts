// A method's own error arrives as an instance of its class; or take it typed with .result().
import { RpcError } from '@skein/core';
import type { Client } from '@skein/api';
import { OutOfStock, type Shop } from './define.js';

export async function buyTea(shop: Client<typeof Shop>): Promise<string> {
  try {
    const { orderId } = await shop.buy({ sku: 'tea', qty: 10 });
    return orderId;
  } catch (err) {
    if (err instanceof OutOfStock) return 'sold out';
    if (err instanceof RpcError && err.retry === 'safe') return 'try another server';
    throw err;
  }
}

export async function buyTeaTyped(shop: Client<typeof Shop>): Promise<string> {
  const r = await shop.buy.result({ sku: 'tea', qty: 1 });
  if (r.ok) return r.value.orderId;
  return r.error instanceof OutOfStock ? 'sold out' : `failed: ${r.error.message}`;
}
