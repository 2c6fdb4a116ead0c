// A min-heap of timed items, ties in insertion order: changes that arrive late (a slot held
// from before the event that reveals it) are still applied in the order they happened.

export interface Timed {
  t: number;
}

export class TimeHeap<T extends Timed> {
  private readonly items: { item: T; seq: number }[] = [];
  private seq = 0;

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0]?.item;
  }

  push(item: T): void {
    const a = this.items;
    a.push({ item, seq: this.seq++ });
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      [a[i], a[parent]] = [a[parent], a[i]];
      i = parent;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(l, m)) m = l;
        if (r < a.length && this.less(r, m)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top?.item;
  }

  private less(i: number, j: number): boolean {
    const a = this.items[i];
    const b = this.items[j];
    return a.item.t < b.item.t || (a.item.t === b.item.t && a.seq < b.seq);
  }
}
