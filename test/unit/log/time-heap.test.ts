// The heap that puts late-revealed pool changes back in time order.
import { describe, expect, it } from 'vitest';
import { TimeHeap } from '../../../src/log/time-heap.js';

describe('TimeHeap', () => {
  it('pops by time, ties in the order they were pushed', () => {
    const heap = new TimeHeap<{ t: number; id: string }>();
    const items = [5, 1, 3, 3, 9, 0, 3, 7].map((t, i) => ({ t, id: `${t}/${i}` }));
    for (const item of items) heap.push(item);
    expect(heap.size).toBe(8);
    const out: string[] = [];
    for (let item = heap.pop(); item; item = heap.pop()) out.push(item.id);
    expect(out).toEqual(['0/5', '1/1', '3/2', '3/3', '3/6', '5/0', '7/7', '9/4']);
    expect(heap.peek()).toBeUndefined();
  });

  it('stays ordered when pushes and pops interleave', () => {
    const heap = new TimeHeap<{ t: number }>();
    let seed = 3;
    const random = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const popped: number[] = [];
    let floor = 0;
    for (let i = 0; i < 5000; i++) {
      heap.push({ t: floor + Math.floor(random() * 100) });
      if (random() < 0.5) {
        const t = heap.pop()?.t ?? 0;
        popped.push(t);
        floor = t;
      }
    }
    for (let i = 1; i < popped.length; i++) expect(popped[i]).toBeGreaterThanOrEqual(popped[i - 1]);
  });
});
