/**
 * Which row element (its key) each drawn row takes. A row still in view keeps its element, so a
 * slow stream's draw adds the new row and leaves the others untouched; a row new to the view takes
 * the element of a row that left, in the order those stood in the document, so under a flood
 * (every row new on each draw) each element gets new text where it is and none is made, moved or
 * removed (issue 19: keyed by the row's place in the list, the first draw of a flood made every
 * row's elements again, the longest frame of the flood). The elements stay in the rows' order,
 * which is what tests and screen readers read.
 */
export class RowSlots {
  private byItem = new Map<number, number>();
  private order: number[] = [];
  private next = 0;

  /**
   * Keys for the items drawn, in the order drawn (`items`: their absolute indices), and the keys
   * of the spare elements that make up `pool` elements in all: a view's worth of rows is there
   * before a flood's first draw, which then sets their text instead of making them (issue 19).
   */
  assign(items: readonly number[], pool = 0): { keys: number[]; spare: number[] } {
    const keys = new Array<number>(items.length);
    const kept = new Set<number>();
    for (let j = 0; j < items.length; j++) {
      const k = this.byItem.get(items[j]!);
      if (k !== undefined) {
        keys[j] = k;
        kept.add(k);
      }
    }
    const free = this.order.filter((k) => !kept.has(k));
    let f = 0;
    const byItem = new Map<number, number>();
    for (let j = 0; j < items.length; j++) {
      if (keys[j] === undefined) keys[j] = f < free.length ? free[f++]! : this.next++;
      byItem.set(items[j]!, keys[j]!);
    }
    const spare = free.slice(f);
    while (keys.length + spare.length < pool) spare.push(this.next++);
    this.byItem = byItem;
    this.order = [...keys, ...spare];
    return { keys, spare };
  }
}
