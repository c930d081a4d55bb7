/**
 * The template executor, a port of Go's text/template/exec.go over the value
 * model of values.ts. It follows Go step by step, including which node an
 * error is reported at, so messages match Go's.
 *
 * @module
 */

import type {
  BranchNode,
  ChainNode,
  CommandNode,
  FieldNode,
  IdentifierNode,
  Node,
  NumberNode,
  PipeNode,
  TemplateNode,
  VariableNode,
} from "./ast.ts";
import { nodeString } from "./ast.ts";
import { TemplateError } from "./errors.ts";
import { formatValue, sprintf, sprintStruct } from "./fmt.ts";
import type { GoFunction, ParamType } from "./functions.ts";
import { indirectInterface, paramTypeName } from "./functions.ts";
import type { Tree } from "./parser.ts";
import { quote } from "./strconv.ts";
import {
  byteLength,
  float64,
  goTypeOf,
  isFloat,
  isInt,
  isMap,
  isTrue,
  kindOf,
  mapIndex,
  methodOf,
  sortedKeys,
  stringer,
  typeName,
} from "./values.ts";

/** What the executor needs from a compiled template set. */
export interface ExecContext {
  /** The source text, for error positions. */
  readonly text: string;
  /** The top-level template name (Go's ParseName). */
  readonly parseName: string;
  /** Every template of the set by name. */
  readonly trees: ReadonlyMap<string, Tree>;
  /** Looks up a function: user functions first, then builtins. */
  findFunction(name: string): { fn: GoFunction; builtin: boolean } | undefined;
}

const MISSING = Symbol("missing");
const STACK_EXHAUSTED = Symbol("stack exhausted");
const BREAK = Symbol("break");
const CONTINUE = Symbol("continue");
const MAX_EXEC_DEPTH = 100000;

interface Variable {
  name: string;
  value: unknown;
}

function canBeNil(t: ParamType | null): boolean {
  return t === "any" || t === "value" || t === "map" || t === "slice";
}

function zeroOf(t: ParamType): unknown {
  switch (t) {
    case "map":
      return {};
    case "slice":
      return [];
    case "value":
      return undefined;
  }
  return null;
}

function assignable(v: unknown, t: ParamType): boolean {
  switch (t) {
    case "any":
    case "value":
      return true;
    case "string":
      return typeof v === "string";
    case "int":
      return isInt(v) || typeof v === "bigint";
    case "float64":
      return isFloat(v);
    case "bool":
      return typeof v === "boolean";
    case "map":
      return isMap(v) &&
        (goTypeOf(v)?.name ?? "map[string]interface {}") === "map[string]interface {}";
    case "slice":
      return Array.isArray(v) && (goTypeOf(v)?.name ?? "[]interface {}") === "[]interface {}";
  }
}

function isHexInt(s: string): boolean {
  return s.length > 2 && s[0] === "0" && (s[1] === "x" || s[1] === "X") && !/[pP]/.test(s);
}

/** What the states of one execution share. */
interface Shared {
  /** Where the JS stack ran out: reported as Go's depth error once unwound. */
  overflow?: { state: State; node: TemplateNode };
}

/** The state of one execution, like Go's `state`. */
class State {
  readonly #ctx: ExecContext;
  readonly shared: Shared;
  #tmpl: Tree;
  #node: Node | undefined;
  #vars: Variable[];
  #depth: number;
  out = "";

  constructor(ctx: ExecContext, tmpl: Tree, vars: Variable[], depth: number, shared: Shared) {
    this.#ctx = ctx;
    this.shared = shared;
    this.#tmpl = tmpl;
    this.#vars = vars;
    this.#depth = depth;
  }

  at(node: Node): void {
    this.#node = node;
  }

  errorf(format: string, ...args: unknown[]): never {
    const name = this.#tmpl.name;
    const msg = sprintf(format, args);
    const node = this.#node;
    if (!node) throw new TemplateError(`template: ${name}: ${msg}`, { name });
    const text = this.#ctx.text.slice(0, node.pos);
    const nl = text.lastIndexOf("\n");
    const column = byteLength(nl < 0 ? text : text.slice(nl + 1));
    let line = 1;
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
    const location = `${this.#ctx.parseName}:${line}:${column}`;
    throw new TemplateError(
      `template: ${location}: executing ${quote(name)} at <${nodeString(node)}>: ${msg}`,
      { name, line, column },
    );
  }

  // ---- variables ----

  mark(): number {
    return this.#vars.length;
  }

  pop(mark: number): void {
    this.#vars.length = mark;
  }

  push(name: string, value: unknown): void {
    this.#vars.push({ name, value });
  }

  setVar(name: string, value: unknown): void {
    for (let i = this.#vars.length - 1; i >= 0; i--) {
      if (this.#vars[i].name === name) {
        this.#vars[i].value = value;
        return;
      }
    }
    this.errorf("undefined variable: %s", name);
  }

  setTopVar(n: number, value: unknown): void {
    this.#vars[this.#vars.length - n].value = value;
  }

  varValue(name: string): unknown {
    for (let i = this.#vars.length - 1; i >= 0; i--) {
      if (this.#vars[i].name === name) return this.#vars[i].value;
    }
    this.errorf("undefined variable: %s", name);
  }

  // ---- walking ----

  walk(dot: unknown, node: Node): void {
    this.at(node);
    switch (node.type) {
      case "action": {
        const val = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node, val);
        return;
      }
      case "break":
        throw BREAK;
      case "continue":
        throw CONTINUE;
      case "comment":
        return;
      case "if":
      case "with":
        return this.walkIfOrWith(dot, node);
      case "list":
        for (const n of node.nodes) this.walk(dot, n);
        return;
      case "range":
        return this.walkRange(dot, node);
      case "template":
        return this.walkTemplate(dot, node);
      case "text":
        this.out += node.text;
        return;
    }
    this.errorf("unknown node: %s", nodeString(node));
  }

  walkIfOrWith(dot: unknown, node: BranchNode): void {
    const mark = this.mark();
    try {
      const val = this.evalPipeline(dot, node.pipe);
      if (isTrue(indirectInterface(val))) {
        this.walk(node.type === "with" ? val : dot, node.list);
      } else if (node.elseList) this.walk(dot, node.elseList);
    } finally {
      this.pop(mark);
    }
  }

  walkRange(dot: unknown, r: BranchNode): void {
    this.at(r);
    const outer = this.mark();
    try {
      const val = this.evalPipeline(dot, r.pipe);
      const mark = this.mark();
      const decls = r.pipe.decl.length;
      const oneIteration = (index: unknown, elem: unknown) => {
        if (decls > 0) this.setTopVar(1, elem);
        if (decls > 1) this.setTopVar(2, index);
        try {
          this.walk(elem, r.list);
        } catch (e) {
          if (e !== CONTINUE) throw e;
        } finally {
          this.pop(mark);
        }
      };
      switch (kindOf(val)) {
        case "slice": {
          const a = val as ArrayLike<unknown>;
          if (a.length === 0) break;
          for (let i = 0; i < a.length; i++) {
            const elem = a[i];
            oneIteration(i, elem === undefined ? null : elem);
          }
          return;
        }
        case "map": {
          const m = val as Record<string, unknown>;
          const keys = sortedKeys(m);
          if (keys.length === 0) break;
          for (const k of keys) oneIteration(k, mapIndex(m, k));
          return;
        }
        case "invalid":
          break;
        default:
          this.errorf(
            "range can't iterate over %v",
            kindOf(val) === "ptr" ? structValue(val) : val,
          );
      }
      if (r.elseList) this.walk(dot, r.elseList);
    } catch (e) {
      if (e !== BREAK) throw e;
    } finally {
      this.pop(outer);
    }
  }

  walkTemplate(dot: unknown, t: TemplateNode): void {
    this.at(t);
    const tmpl = this.#ctx.trees.get(t.name);
    if (!tmpl) this.errorf("template %q not defined", t.name);
    if (this.#depth === MAX_EXEC_DEPTH) {
      this.errorf("exceeded maximum template depth (%v)", MAX_EXEC_DEPTH);
    }
    const newDot = this.evalPipeline(dot, t.pipe);
    const inner = new State(
      this.#ctx,
      tmpl,
      [{ name: "$", value: newDot }],
      this.#depth + 1,
      this.shared,
    );
    try {
      inner.walk(newDot, tmpl.root);
    } catch (e) {
      // JS runs out of stack long before Go's depth limit; report Go's error
      // once the stack has unwound (building it here could overflow again).
      if (e instanceof RangeError) {
        this.shared.overflow ??= { state: this, node: t };
        throw STACK_EXHAUSTED;
      }
      throw e;
    } finally {
      this.out += inner.out;
    }
  }

  // ---- evaluation ----

  evalPipeline(dot: unknown, pipe: PipeNode | undefined): unknown {
    if (!pipe) return undefined;
    this.at(pipe);
    let value: unknown = MISSING;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, value);
      // Go digs a value out of its interface{}; a nil interface becomes invalid.
      if (value === null) value = undefined;
    }
    for (const v of pipe.decl) {
      if (pipe.isAssign) this.setVar(v.ident[0], value);
      else this.push(v.ident[0], value);
    }
    return value;
  }

  notAFunction(args: Node[], final: unknown): void {
    if (args.length > 1 || final !== MISSING) {
      this.errorf("can't give argument to non-function %s", nodeString(args[0]));
    }
  }

  evalCommand(dot: unknown, cmd: CommandNode, final: unknown): unknown {
    const first = cmd.args[0];
    switch (first.type) {
      case "field":
        return this.evalFieldNode(dot, first, cmd.args, final);
      case "chain":
        return this.evalChainNode(dot, first, cmd.args, final);
      case "identifier":
        return this.evalFunction(dot, first, cmd, cmd.args, final);
      case "pipe":
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case "variable":
        return this.evalVariableNode(dot, first, cmd.args, final);
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.type) {
      case "bool":
        return first.value;
      case "dot":
        return dot;
      case "nil":
        this.errorf("nil is not a command");
        break;
      case "number":
        return this.idealConstant(first);
      case "string":
        return first.text;
    }
    this.errorf("can't evaluate command %q", nodeString(first));
  }

  idealConstant(c: NumberNode): unknown {
    this.at(c);
    if (c.isFloat && !isHexInt(c.text) && c.text[0] !== "'" && /[.eEpP]/.test(c.text)) {
      return float64(c.float);
    }
    if (c.isInt) {
      const n = Number(c.int);
      return Number.isSafeInteger(n) ? n : c.int;
    }
    if (c.isUint) this.errorf("%s overflows int", c.text);
    return undefined;
  }

  evalFieldNode(dot: unknown, field: FieldNode, args: Node[] | null, final: unknown): unknown {
    this.at(field);
    return this.evalFieldChain(dot, dot, field, field.ident, args, final);
  }

  evalChainNode(dot: unknown, chain: ChainNode, args: Node[] | null, final: unknown): unknown {
    this.at(chain);
    if (chain.node.type === "nil") {
      this.errorf("indirection through explicit nil in %s", nodeString(chain));
    }
    const pipe = this.evalArg(dot, null, chain.node);
    return this.evalFieldChain(dot, pipe, chain, chain.field, args, final);
  }

  evalVariableNode(
    dot: unknown,
    variable: VariableNode,
    args: Node[] | null,
    final: unknown,
  ): unknown {
    this.at(variable);
    const value = this.varValue(variable.ident[0]);
    if (variable.ident.length === 1) {
      if (args) this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, variable, variable.ident.slice(1), args, final);
  }

  evalFieldChain(
    dot: unknown,
    receiver: unknown,
    node: Node,
    ident: string[],
    args: Node[] | null,
    final: unknown,
  ): unknown {
    const n = ident.length;
    let viaInterface = false;
    for (let i = 0; i < n - 1; i++) {
      receiver = this.evalField(dot, ident[i], node, null, MISSING, receiver, viaInterface);
      viaInterface = this.#resultViaInterface;
    }
    return this.evalField(dot, ident[n - 1], node, args, final, receiver, viaInterface);
  }

  /** Whether the last evalField result came out of an interface{} (for Go's type names in errors). */
  #resultViaInterface = false;

  evalFunction(
    dot: unknown,
    node: IdentifierNode,
    cmd: Node,
    args: Node[] | null,
    final: unknown,
  ): unknown {
    this.at(node);
    const found = this.#ctx.findFunction(node.ident);
    if (!found) this.errorf("%q is not a defined function", node.ident);
    return this.evalCall(dot, found.fn, found.builtin, cmd, node.ident, args, final);
  }

  evalField(
    dot: unknown,
    fieldName: string,
    node: Node,
    args: Node[] | null,
    final: unknown,
    receiver: unknown,
    viaInterface: boolean,
  ): unknown {
    this.#resultViaInterface = false;
    if (receiver === undefined) return undefined;
    if (receiver === null) this.errorf("nil pointer evaluating %s.%s", "interface {}", fieldName);
    const typ = viaInterface ? "interface {}" : typeName(receiver);
    const method = methodOf(receiver, fieldName);
    if (method) {
      const fn: GoFunction = {
        params: new Array(method.length).fill("any"),
        fn: method as GoFunction["fn"],
        returnsInterface: (method as { returnsInterface?: boolean }).returnsInterface,
      };
      const result = this.evalCall(dot, fn, false, node, fieldName, args, final);
      this.#resultViaInterface = fn.returnsInterface === true;
      return result;
    }
    const hasArgs = (args !== null && args.length > 1) || final !== MISSING;
    switch (kindOf(receiver)) {
      case "map": {
        if (hasArgs) this.errorf("%s is not a method but has arguments", fieldName);
        const type = goTypeOf(receiver as object);
        this.#resultViaInterface = !type;
        return mapIndex(receiver as Record<string, unknown>, fieldName);
      }
      case "ptr": {
        const obj = receiver as Record<string, unknown>;
        if (fieldName in obj) {
          if (!/^\p{Lu}/u.test(fieldName)) {
            this.errorf("%s is an unexported field of struct type %s", fieldName, typ);
          }
          if (hasArgs) this.errorf("%s has arguments but cannot be invoked as function", fieldName);
          let value: unknown;
          try {
            value = obj[fieldName];
          } catch (e) {
            this.errorf("%s", (e as Error).message);
          }
          return value === undefined ? null : value;
        }
      }
    }
    this.errorf("can't evaluate field %s in type %s", fieldName, typ);
  }

  evalCall(
    dot: unknown,
    fun: GoFunction,
    isBuiltin: boolean,
    node: Node,
    name: string,
    args: Node[] | null,
    final: unknown,
  ): unknown {
    const callArgs = args ? args.slice(1) : [];
    const params = fun.params;
    let numIn = callArgs.length;
    if (final !== MISSING) numIn++;
    let numFixed = callArgs.length;
    if (fun.variadic) {
      numFixed = params.length;
      if (numIn < numFixed) {
        this.errorf(
          "wrong number of args for %s: want at least %d got %d",
          name,
          params.length,
          callArgs.length,
        );
      }
    } else if (numIn !== params.length) {
      this.errorf("wrong number of args for %s: want %d got %d", name, params.length, numIn);
    }

    if (isBuiltin && (name === "and" || name === "or")) {
      let v: unknown;
      for (const arg of callArgs) {
        v = this.evalArg(dot, "value", arg);
        if (isTrue(indirectInterface(v)) === (name === "or")) return v;
      }
      if (final !== MISSING) v = this.validateType(final, "value");
      return v;
    }

    const argv: unknown[] = new Array(numIn);
    let i = 0;
    for (; i < numFixed && i < callArgs.length; i++) {
      argv[i] = this.evalArg(dot, params[i], callArgs[i]);
    }
    if (fun.variadic) {
      for (; i < callArgs.length; i++) argv[i] = this.evalArg(dot, fun.variadic, callArgs[i]);
    }
    if (final !== MISSING) {
      let t: ParamType = params[params.length - 1];
      if (fun.variadic) t = numIn - 1 < numFixed ? params[numIn - 1] : fun.variadic;
      argv[i] = this.validateType(final, t);
    }
    let result: unknown;
    try {
      result = (fun.fn as (...a: unknown[]) => unknown)(...argv);
    } catch (e) {
      if (e === BREAK || e === CONTINUE) throw e;
      this.at(node);
      const message = e instanceof Error ? e.message : String(e);
      this.errorf("error calling %s: %s", name, message);
    }
    return result === undefined ? null : result;
  }

  validateType(value: unknown, t: ParamType | null): unknown {
    if (value === undefined) {
      if (t === null) return undefined;
      if (canBeNil(t)) return zeroOf(t);
      this.errorf("invalid value; expected %s", paramTypeName(t));
    }
    if (t === null || t === "value" || t === "any") return value;
    if (!assignable(value, t)) {
      const got = value === null ? "interface {}" : typeName(value);
      this.errorf("wrong type for value; expected %s; got %s", paramTypeName(t), got);
    }
    return value;
  }

  evalArg(dot: unknown, t: ParamType | null, n: Node): unknown {
    this.at(n);
    switch (n.type) {
      case "dot":
        return this.validateType(dot, t);
      case "nil":
        if (t !== null && canBeNil(t)) return zeroOf(t);
        if (t === null) return undefined;
        this.errorf("cannot assign nil to %s", paramTypeName(t));
        break;
      case "field":
        return this.validateType(this.evalFieldNode(dot, n, [n], MISSING), t);
      case "variable":
        return this.validateType(this.evalVariableNode(dot, n, null, MISSING), t);
      case "pipe":
        return this.validateType(this.evalPipeline(dot, n), t);
      case "identifier":
        return this.validateType(this.evalFunction(dot, n, n, null, MISSING), t);
      case "chain":
        return this.validateType(this.evalChainNode(dot, n, null, MISSING), t);
    }
    switch (t) {
      case "bool":
        this.at(n);
        if (n.type === "bool") return n.value;
        this.errorf("expected bool; found %s", nodeString(n));
        break;
      case "float64":
        this.at(n);
        if (n.type === "number" && n.isFloat) return float64(n.float);
        this.errorf("expected float; found %s", nodeString(n));
        break;
      case "int":
        this.at(n);
        if (n.type === "number" && n.isInt) {
          const v = Number(n.int);
          return Number.isSafeInteger(v) ? v : n.int;
        }
        this.errorf("expected integer; found %s", nodeString(n));
        break;
      case "any":
      case "value":
      case null:
        return this.evalEmptyInterface(dot, n);
      case "string":
        this.at(n);
        if (n.type === "string") return n.text;
        this.errorf("expected string; found %s", nodeString(n));
    }
    this.errorf("can't handle %s for arg of type %s", nodeString(n), paramTypeName(t as ParamType));
  }

  evalEmptyInterface(dot: unknown, n: Node): unknown {
    this.at(n);
    switch (n.type) {
      case "bool":
        return n.value;
      case "dot":
        return dot;
      case "field":
        return this.evalFieldNode(dot, n, null, MISSING);
      case "identifier":
        return this.evalFunction(dot, n, n, null, MISSING);
      case "number":
        return this.idealConstant(n);
      case "string":
        return n.text;
      case "variable":
        return this.evalVariableNode(dot, n, null, MISSING);
      case "pipe":
        return this.evalPipeline(dot, n);
    }
    this.errorf("can't handle assignment of %s to empty interface argument", nodeString(n));
  }

  printValue(n: Node, v: unknown): void {
    this.at(n);
    if (v === undefined) {
      this.out += "<no value>";
      return;
    }
    const kind = kindOf(v);
    if (kind === "func") this.errorf("can't print %s of type %s", nodeString(n), typeName(v));
    this.out += kind === "ptr" ? structValue(v) : formatValue(v);
  }
}

/** How a pointer to a struct prints once dereferenced: its String() or `{fields}`. */
function structValue(v: unknown): string {
  const s = stringer(v);
  return s ? s() : sprintStruct(v as object);
}

/** Runs a template of a compiled set on `data`, returning the output. */
export function executeTree(ctx: ExecContext, tree: Tree, data: unknown): string {
  const dot = data === null ? undefined : data;
  const shared: Shared = {};
  const state = new State(ctx, tree, [{ name: "$", value: dot }], 0, shared);
  try {
    state.walk(dot, tree.root);
  } catch (e) {
    if (e !== STACK_EXHAUSTED || !shared.overflow) throw e;
    const { state: at, node } = shared.overflow;
    at.at(node);
    at.errorf("exceeded maximum template depth (%v)", MAX_EXEC_DEPTH);
  }
  return state.out;
}
