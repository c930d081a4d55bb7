/**
 * Basic-auth users kept as custom data (Validator `basicAuth` mode ETCD):
 * the items under one prefix, each `{key, username?, password}` (the
 * username falls back to the key; the password is an htpasswd hash or plain
 * text), followed as they change. An item without a password, or whose
 * username and key are both empty, is skipped, as in Easegress.
 *
 * @module
 */

import type { CustomDataView } from "./custom_data_view.ts";
import type { Logger } from "./filter.ts";
import { isPlainObject } from "./spec.ts";
import { PasswordBook } from "./password_book.ts";

/** Users from the custom data items under `prefix` (`<kind>/`). */
export class CustomDataUsers {
  readonly #book = new PasswordBook();
  readonly #unwatch: (() => void) | undefined;

  constructor(view: CustomDataView | undefined, prefix: string, log: Logger) {
    const load = () => {
      const users = new Map<string, string>();
      for (const [path, item] of view?.entries(prefix) ?? []) {
        // An empty password is none, as Easegress skips such items: taken as
        // plain text, it would let the user in with no password at all.
        if (!isPlainObject(item) || typeof item.password !== "string" || !item.password) {
          log.warn(`credentials ${path} skipped: no password`);
          continue;
        }
        const user = typeof item.username === "string" && item.username
          ? item.username
          : String(item.key ?? path.slice(prefix.length));
        if (!user) {
          log.warn(`credentials ${path} skipped: no username or key`);
          continue;
        }
        users.set(user, item.password);
      }
      this.#book.replace(users);
    };
    load();
    this.#unwatch = view?.watch(load);
  }

  /** How many users there are. */
  get size(): number {
    return this.#book.size;
  }

  /** Whether `user` exists and `password` is theirs. */
  verify(user: string, password: string): Promise<boolean> {
    return this.#book.verify(user, password);
  }

  /** Stops following the custom data. */
  close(): void {
    this.#unwatch?.();
  }
}

/** A custom data prefix as given in a spec: no leading "/", one trailing "/". */
export function customDataPrefix(text: string): string {
  const trimmed = text.replace(/^\/+/, "").replace(/^custom-data\//, "");
  return trimmed.endsWith("/") ? trimmed : `${trimmed}/`;
}
