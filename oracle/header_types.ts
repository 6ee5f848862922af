/**
 * Sets of record types, matched against a type where a line header holds it (`readHeaderSpan`),
 * without a string made of it: a read decides on tens of thousands of lines by their type, and
 * keeps few. Each set's names are grouped by length; a type is compared with the names of its
 * length only, a character at a time.
 */

export class HeaderTypes {
  /** Per length, the names of that length and the bits of the sets that hold each */
  readonly #byLength: { name: string; bits: number }[][] = [];

  /** `sets[i]` answers to bit `1 << i` */
  constructor(sets: readonly ReadonlySet<string>[]) {
    for (const [i, set] of sets.entries()) {
      for (const name of set) {
        const names = this.#byLength[name.length] ??= [];
        const entry = names.find((e) => e.name === name);
        if (entry) entry.bits |= 1 << i;
        else names.push({ name, bits: 1 << i });
      }
    }
  }

  /** The bits of the sets holding the type text[from, to); 0 when none does */
  match(text: string, from: number, to: number): number {
    const names = this.#byLength[to - from];
    if (names === undefined) return 0;
    for (const { name, bits } of names) {
      let k = 0;
      while (k < name.length && text.charCodeAt(from + k) === name.charCodeAt(k)) k++;
      if (k === name.length) return bits;
    }
    return 0;
  }
}
