/**
 * Min-heap of items by their next due time (µs): the pacer touches only what is due, not
 * every publisher on every wake.
 */
export class DueHeap<T extends { readonly nextDueUs: number }> {
  private readonly items: T[] = [];
  private readonly keys: number[] = [];

  get size(): number {
    return this.items.length;
  }

  /** Due time of the earliest item, or Infinity. */
  get nextUs(): number {
    return this.keys.length > 0 ? this.keys[0]! : Infinity;
  }

  push(item: T): void {
    this.items.push(item);
    this.keys.push(item.nextDueUs);
    this.up(this.items.length - 1);
  }

  /** Removes and returns the earliest item if it is due by `nowUs`. */
  popDue(nowUs: number): T | undefined {
    if (this.keys.length === 0 || this.keys[0]! > nowUs) return undefined;
    const top = this.items[0]!;
    const lastItem = this.items.pop()!;
    const lastKey = this.keys.pop()!;
    if (this.items.length > 0) {
      this.items[0] = lastItem;
      this.keys[0] = lastKey;
      this.down(0);
    }
    return top;
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.keys[parent]! <= this.keys[i]!) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const n = this.keys.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.keys[l]! < this.keys[m]!) m = l;
      if (r < n && this.keys[r]! < this.keys[m]!) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(a: number, b: number): void {
    const it = this.items[a]!;
    this.items[a] = this.items[b]!;
    this.items[b] = it;
    const k = this.keys[a]!;
    this.keys[a] = this.keys[b]!;
    this.keys[b] = k;
  }
}
