/**
 * The custom data items a data plane holds, by their path under the store's
 * `/custom-data/` (`<kind>/<id>`), as the admin API wrote them; filters read
 * them by path or prefix and hear of every change.
 *
 * @module
 */

/** Custom data items, replaced whole on each change. */
export class CustomDataView {
  #items: Record<string, unknown> = {};
  #text = "{}";
  readonly #watchers = new Set<() => void>();

  /** Takes `items` as the current data; watchers hear of it when it differs. */
  replace(items: Record<string, unknown>): void {
    const text = JSON.stringify(items);
    if (text === this.#text) return;
    this.#items = items;
    this.#text = text;
    for (const watcher of this.#watchers) watcher();
  }

  /** The item at `path` (`<kind>/<id>`), or undefined. */
  get(path: string): unknown {
    return Object.hasOwn(this.#items, path) ? this.#items[path] : undefined;
  }

  /** Every item whose path starts with `prefix`, with its path. */
  entries(prefix: string): [path: string, item: unknown][] {
    return Object.entries(this.#items).filter(([path]) => path.startsWith(prefix));
  }

  /** Calls `onChange` after every change until the returned function is called. */
  watch(onChange: () => void): () => void {
    this.#watchers.add(onChange);
    return () => this.#watchers.delete(onChange);
  }
}
