/**
 * Send times of calls answered in order (the raw echo), in a fixed ring: no allocation per
 * call, so the baseline spends nothing a real client would not.
 */
export class TimeRing {
  constructor(capacity) {
    let size = 1;
    while (size < capacity) size *= 2;
    this.times = new Float64Array(size);
    this.mask = size - 1;
    this.head = 0;
    this.tail = 0;
  }

  push(t) {
    this.times[this.tail++ & this.mask] = t;
  }

  shift() {
    return this.times[this.head++ & this.mask];
  }
}
