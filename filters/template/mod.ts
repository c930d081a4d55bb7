/**
 * A Go `text/template` compatible template engine: compile once, execute
 * many times, with output byte-for-byte what Go produces for the same
 * template and data. See values.ts for how JavaScript values stand for Go
 * values, and sprig.ts for the sprig function library.
 *
 * @example
 * ```ts
 * import { compileTemplate } from "./mod.ts";
 * const t = compileTemplate("Hello {{.name | printf \"%q\"}}!");
 * t.execute({ name: "Go" }); // 'Hello "Go"!'
 * ```
 *
 * @module
 */

import type { Node } from "./ast.ts";
import { TemplateError } from "./errors.ts";
import { executeTree } from "./exec.ts";
import { BUILTINS, type GoFunction, type TemplateFunction, toGoFunction } from "./functions.ts";
import { parseTemplates, type Tree } from "./parser.ts";
import { quote } from "./strconv.ts";

export { TemplateError } from "./errors.ts";
export type { TemplateErrorInfo } from "./errors.ts";
export { goFunc } from "./functions.ts";
export type { GoFunction, ParamType, TemplateFunction } from "./functions.ts";
export { float64, GoFloat, GoTime, JsonNumber, withGoType } from "./values.ts";
export type { GoType } from "./values.ts";

/** Options for {@linkcode compileTemplate}. */
export interface CompileOptions {
  /** Left action delimiter. @default {"{{"} */
  leftDelim?: string;
  /** Right action delimiter. @default {"}}"} */
  rightDelim?: string;
  /** The template's name, as error messages print it. @default {""} */
  name?: string;
  /** Functions callable from the template, added to (and overriding) the builtins. */
  funcs?: Readonly<Record<string, TemplateFunction>>;
}

/** A compiled template set: the top-level template and those it defines. */
export class Template {
  /** The top-level template's name. */
  readonly name: string;
  readonly #text: string;
  readonly #trees: Map<string, Tree>;
  readonly #funcs: Map<string, GoFunction>;
  readonly #fieldNames: Set<string>;

  constructor(
    name: string,
    text: string,
    trees: Map<string, Tree>,
    funcs: Map<string, GoFunction>,
  ) {
    this.name = name;
    this.#text = text;
    this.#trees = trees;
    this.#funcs = funcs;
    this.#fieldNames = new Set();
    for (const tree of trees.values()) collectFieldNames(tree.root, this.#fieldNames);
  }

  /** Runs the top-level template on `data`. Throws {@linkcode TemplateError}. */
  execute(data: unknown): string {
    return this.executeTemplate(this.name, data);
  }

  /** Runs the named template of this set on `data`. Throws {@linkcode TemplateError}. */
  executeTemplate(name: string, data: unknown): string {
    const tree = this.#trees.get(name);
    if (!tree) {
      throw new TemplateError(
        `template: no template ${quote(name)} associated with template ${quote(this.name)}`,
        { name },
      );
    }
    return executeTree(this, tree, data);
  }

  /** The names of the templates in this set. */
  templateNames(): string[] {
    return [...this.#trees.keys()].sort();
  }

  /** Whether any template of the set refers to a field or method called `name`. */
  usesField(name: string): boolean {
    return this.#fieldNames.has(name);
  }

  /** @internal The source text (for error positions). */
  get text(): string {
    return this.#text;
  }

  /** @internal The top-level name errors are reported against. */
  get parseName(): string {
    return this.name;
  }

  /** @internal The templates by name. */
  get trees(): ReadonlyMap<string, Tree> {
    return this.#trees;
  }

  /** @internal Function lookup: user functions shadow builtins. */
  findFunction(name: string): { fn: GoFunction; builtin: boolean } | undefined {
    const own = this.#funcs.get(name);
    if (own) return { fn: own, builtin: false };
    const builtin = BUILTINS.get(name);
    return builtin ? { fn: builtin, builtin: true } : undefined;
  }
}

function collectFieldNames(node: Node | undefined, out: Set<string>): void {
  if (!node) return;
  switch (node.type) {
    case "field":
      for (const f of node.ident) out.add(f);
      return;
    case "variable":
      for (const f of node.ident.slice(1)) out.add(f);
      return;
    case "chain":
      for (const f of node.field) out.add(f);
      collectFieldNames(node.node, out);
      return;
    case "list":
      for (const n of node.nodes) collectFieldNames(n, out);
      return;
    case "action":
      return collectFieldNames(node.pipe, out);
    case "pipe":
      for (const c of node.cmds) collectFieldNames(c, out);
      return;
    case "command":
      for (const a of node.args) collectFieldNames(a, out);
      return;
    case "if":
    case "range":
    case "with":
      collectFieldNames(node.pipe, out);
      collectFieldNames(node.list, out);
      collectFieldNames(node.elseList, out);
      return;
    case "template":
      return collectFieldNames(node.pipe, out);
  }
}

/**
 * Compiles template source (Go text/template syntax). Throws
 * {@linkcode TemplateError} with Go's message (`template: NAME:LINE: ...`).
 */
export function compileTemplate(source: string, options: CompileOptions = {}): Template {
  const { leftDelim = "", rightDelim = "", name = "", funcs = {} } = options;
  const table = new Map<string, GoFunction>();
  for (const [fname, f] of Object.entries(funcs)) {
    if (!/^[\p{L}_][\p{L}\p{Nd}_]*$/u.test(fname)) {
      throw new TypeError(`Cannot register template function "${fname}": not a valid identifier`);
    }
    table.set(fname, toGoFunction(f));
  }
  const trees = parseTemplates(name, source, {
    leftDelim,
    rightDelim,
    hasFunction: (n) => table.has(n) || BUILTINS.has(n),
  });
  return new Template(name, source, trees, table);
}
