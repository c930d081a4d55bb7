/**
 * Filter plugins: TypeScript modules written against `mod.ts` alone, loaded
 * by path or URL at start. A module exports its kinds as the default export
 * (one kind or a list) or as named exports.
 *
 * @module
 */

import type { FilterKind, FilterRegistry } from "../filters/filter.ts";
import { toFileUrl } from "./paths.ts";

function looksLikeKind(value: unknown): value is FilterKind {
  if (!value || typeof value !== "object") return false;
  const k = value as Record<string, unknown>;
  return typeof k.kind === "string" && typeof k.validate === "function" &&
    typeof k.create === "function";
}

/** Imports each plugin and registers its filter kinds; throws naming the plugin on failure. */
export async function loadPlugins(
  specifiers: string[],
  registry: FilterRegistry,
): Promise<string[]> {
  const loaded: string[] = [];
  for (const specifier of specifiers) {
    const url = /^[a-z][a-z0-9+.-]*:/i.test(specifier) ? specifier : toFileUrl(specifier);
    let mod: Record<string, unknown>;
    try {
      mod = await import(url);
    } catch (e) {
      throw new Error(`Cannot load plugin ${specifier}: ${(e as Error).message}`);
    }
    const candidates = [
      ...(Array.isArray(mod.default) ? mod.default : [mod.default]),
      ...Object.entries(mod).filter(([k]) => k !== "default").map(([, v]) => v),
    ];
    const kinds = [...new Set(candidates.filter(looksLikeKind))];
    if (!kinds.length) {
      throw new Error(
        `Cannot load plugin ${specifier}: it exports no filter kind (an object with kind, validate and create)`,
      );
    }
    for (const kind of kinds) {
      try {
        registry.register(kind);
      } catch (e) {
        throw new Error(`Cannot load plugin ${specifier}: ${(e as Error).message}`);
      }
      loaded.push(kind.kind);
    }
  }
  return loaded;
}
