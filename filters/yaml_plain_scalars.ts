/**
 * Plain YAML scalars that read as numbers or booleans, kept with the text
 * they were written as: Go's YAML decoder gives a string field that text
 * (`X-Version: 1.10` is "1.10", `0123` keeps its zero, `12345678901234567890`
 * every digit), a number field the number.
 *
 * @module
 */

/** A plain scalar read as a number or boolean, with its source text. */
export class PlainScalar {
  constructor(readonly value: number | bigint | boolean, readonly source: string) {}
}

/**
 * A visitor for the YAML module's `visit` that makes each plain number or
 * boolean value (not a key) of a document a {@linkcode PlainScalar}.
 */
export const keepPlainSource = {
  Scalar(key: unknown, node: { type?: string; value: unknown; source?: string }) {
    if (key === "key" || node.type !== "PLAIN" || node.source === undefined) return;
    const v = node.value;
    if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") {
      node.value = new PlainScalar(v, node.source);
    }
  },
};

/** Source texts that differ from the value's own spelling, by the map or list holding them. */
const spellings = new WeakMap<object, Map<string, string>>();

/**
 * A reviver for the YAML module's `toJS` that puts each {@linkcode PlainScalar}'s
 * value in its place and remembers its source text for {@linkcode spellingOf}.
 */
export function unwrapPlainScalar(this: unknown, key: unknown, value: unknown): unknown {
  if (!(value instanceof PlainScalar)) return value;
  if (value.source !== String(value.value) && typeof this === "object" && this !== null) {
    let texts = spellings.get(this);
    if (texts === undefined) spellings.set(this, texts = new Map());
    texts.set(String(key), value.source);
  }
  return value.value;
}

/**
 * The text a number or boolean of `container[key]` was written as, when
 * read by a reviver of {@linkcode unwrapPlainScalar} and spelled otherwise
 * than `String(value)`; undefined otherwise.
 */
export function spellingOf(container: object, key: string): string | undefined {
  return spellings.get(container)?.get(key);
}
