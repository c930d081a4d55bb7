/**
 * The template parser, a port of Go's text/template/parse/parse.go, plus
 * `{{else with}}` (Go 1.23). Errors read exactly like Go's:
 * `template: NAME:LINE: message`.
 *
 * @module
 */

import type {
  BranchNode,
  CommandNode,
  DelimNode,
  ListNode,
  Node,
  NumberNode,
  PipeNode,
  VariableNode,
} from "./ast.ts";
import { isEmptyTree, nodeString } from "./ast.ts";
import { TemplateError } from "./errors.ts";
import { sprintf } from "./fmt.ts";
import { type Item, itemString, ItemType, Lexer } from "./lexer.ts";
import { parseGoFloat, parseGoInt, parseGoUint, unquote, unquoteChar } from "./strconv.ts";

/** One named template: its parse tree. */
export interface Tree {
  readonly name: string;
  readonly root: ListNode;
}

/** What every tree of one parse shares. */
interface ParseContext {
  readonly lex: Lexer;
  readonly treeSet: Map<string, Tree>;
  readonly parseName: string;
  readonly hasFunction: (name: string) => boolean;
}

const NO_ITEM: Item = { typ: ItemType.Error, pos: 0, val: "", line: 0 };

/** Parses one template (the top level, a `define` or a `block` body). */
class TreeParser {
  name: string;
  root: ListNode | undefined;
  readonly #ctx: ParseContext;
  readonly #token: Item[] = [NO_ITEM, NO_ITEM, NO_ITEM];
  #peekCount = 0;
  #vars: string[] = ["$"];
  #actionLine = 0;
  #rangeDepth = 0;

  constructor(name: string, ctx: ParseContext) {
    this.name = name;
    this.#ctx = ctx;
  }

  // ---- token buffer ----

  next(): Item {
    if (this.#peekCount > 0) this.#peekCount--;
    else this.#token[0] = this.#ctx.lex.nextItem();
    return this.#token[this.#peekCount];
  }

  backup(): void {
    this.#peekCount++;
  }

  backup2(t1: Item): void {
    this.#token[1] = t1;
    this.#peekCount = 2;
  }

  backup3(t2: Item, t1: Item): void {
    this.#token[1] = t1;
    this.#token[2] = t2;
    this.#peekCount = 3;
  }

  peek(): Item {
    if (this.#peekCount > 0) return this.#token[this.#peekCount - 1];
    this.#peekCount = 1;
    this.#token[0] = this.#ctx.lex.nextItem();
    return this.#token[0];
  }

  nextNonSpace(): Item {
    let token: Item;
    do token = this.next(); while (token.typ === ItemType.Space);
    return token;
  }

  peekNonSpace(): Item {
    const token = this.nextNonSpace();
    this.backup();
    return token;
  }

  // ---- errors ----

  errorf(format: string, ...args: unknown[]): never {
    this.root = undefined;
    const msg = sprintf(format, args);
    const line = this.#token[0].line;
    throw new TemplateError(`template: ${this.#ctx.parseName}:${line}: ${msg}`, {
      name: this.#ctx.parseName,
      line,
    });
  }

  expect(expected: ItemType, context: string): Item {
    const token = this.nextNonSpace();
    if (token.typ !== expected) this.unexpected(token, context);
    return token;
  }

  unexpected(token: Item, context: string): never {
    if (token.typ === ItemType.Error) {
      let extra = "";
      if (this.#actionLine !== 0 && this.#actionLine !== token.line) {
        extra = ` in action started at ${this.#ctx.parseName}:${this.#actionLine}`;
        if (token.val.endsWith(" action")) extra = extra.slice(" in action".length);
      }
      this.errorf("%s%s", itemString(token), extra);
    }
    this.errorf("unexpected %s in %s", itemString(token), context);
  }

  // ---- grammar ----

  add(): void {
    const set = this.#ctx.treeSet;
    const tree = set.get(this.name);
    if (!tree || isEmptyTree(tree.root)) {
      set.set(this.name, { name: this.name, root: this.root! });
      return;
    }
    if (!isEmptyTree(this.root)) {
      this.errorf("template: multiple definition of template %q", this.name);
    }
  }

  /** The top level: like itemList, but also `{{define}}`, and runs to EOF. */
  parse(): void {
    this.root = { type: "list", pos: this.peek().pos, nodes: [] };
    while (this.peek().typ !== ItemType.EOF) {
      if (this.peek().typ === ItemType.LeftDelim) {
        const delim = this.next();
        if (this.nextNonSpace().typ === ItemType.Define) {
          const def = new TreeParser("definition", this.#ctx);
          def.parseDefinition();
          continue;
        }
        this.backup2(delim);
      }
      const n = this.textOrAction();
      if (n.type === "end" || n.type === "else") this.errorf("unexpected %s", nodeString(n));
      else this.root.nodes.push(n);
    }
  }

  parseDefinition(): void {
    const context = "define clause";
    const name = this.nextNonSpace();
    if (name.typ !== ItemType.String && name.typ !== ItemType.RawString) {
      this.unexpected(name, context);
    }
    this.name = this.unquote(name.val);
    this.expect(ItemType.RightDelim, context);
    const [list, end] = this.itemList();
    this.root = list;
    if (end.type !== "end") this.errorf("unexpected %s in %s", nodeString(end), context);
    this.add();
  }

  itemList(): [ListNode, DelimNode] {
    const list: ListNode = { type: "list", pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().typ !== ItemType.EOF) {
      const n = this.textOrAction();
      if (n.type === "end" || n.type === "else") return [list, n];
      list.nodes.push(n);
    }
    this.errorf("unexpected EOF");
  }

  textOrAction(): Node {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case ItemType.Text:
        return { type: "text", pos: token.pos, text: token.val };
      case ItemType.LeftDelim: {
        this.#actionLine = token.line;
        try {
          return this.action();
        } finally {
          this.#actionLine = 0;
        }
      }
      case ItemType.Comment:
        return { type: "comment", pos: token.pos, text: token.val };
    }
    this.unexpected(token, "input");
  }

  action(): Node {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case ItemType.Block:
        return this.blockControl();
      case ItemType.Break:
      case ItemType.Continue: {
        const word = token.typ === ItemType.Break ? "break" : "continue";
        const t = this.nextNonSpace();
        if (t.typ !== ItemType.RightDelim) this.unexpected(t, `{{${word}}}`);
        if (this.#rangeDepth === 0) this.errorf("{{%s}} outside {{range}}", word);
        return { type: word, pos: token.pos };
      }
      case ItemType.Else:
        return this.elseControl();
      case ItemType.End:
        return { type: "end", pos: this.expect(ItemType.RightDelim, "end").pos };
      case ItemType.If:
        return this.branch("if");
      case ItemType.Range:
        return this.branch("range");
      case ItemType.Template:
        return this.templateControl();
      case ItemType.With:
        return this.branch("with");
    }
    this.backup();
    const start = this.peek();
    return { type: "action", pos: start.pos, pipe: this.pipeline("command", ItemType.RightDelim) };
  }

  pipeline(context: string, end: ItemType): PipeNode {
    const token = this.peekNonSpace();
    const pipe: PipeNode = { type: "pipe", pos: token.pos, isAssign: false, decl: [], cmds: [] };
    decls: for (;;) {
      const v = this.peekNonSpace();
      if (v.typ === ItemType.Variable) {
        this.next();
        const tokenAfterVariable = this.peek();
        const next = this.peekNonSpace();
        if (next.typ === ItemType.Assign || next.typ === ItemType.Declare) {
          pipe.isAssign = next.typ === ItemType.Assign;
          this.nextNonSpace();
          pipe.decl.push(newVariable(v.pos, v.val));
          this.#vars.push(v.val);
        } else if (next.typ === ItemType.Char && next.val === ",") {
          this.nextNonSpace();
          pipe.decl.push(newVariable(v.pos, v.val));
          this.#vars.push(v.val);
          if (context === "range" && pipe.decl.length < 2) {
            const t = this.peekNonSpace().typ;
            if (t === ItemType.Variable || t === ItemType.RightDelim || t === ItemType.RightParen) {
              continue decls;
            }
            this.errorf("range can only initialize variables");
          }
          this.errorf("too many declarations in %s", context);
        } else if (tokenAfterVariable.typ === ItemType.Space) {
          this.backup3(v, tokenAfterVariable);
        } else {
          this.backup2(v);
        }
      }
      break;
    }
    for (;;) {
      const token = this.nextNonSpace();
      switch (token.typ) {
        case end:
          this.checkPipeline(pipe, context);
          return pipe;
        case ItemType.Bool:
        case ItemType.CharConstant:
        case ItemType.Complex:
        case ItemType.Dot:
        case ItemType.Field:
        case ItemType.Identifier:
        case ItemType.Number:
        case ItemType.Nil:
        case ItemType.RawString:
        case ItemType.String:
        case ItemType.Variable:
        case ItemType.LeftParen:
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(token, context);
      }
    }
  }

  checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.errorf("missing value for %s", context);
    for (let i = 1; i < pipe.cmds.length; i++) {
      switch (pipe.cmds[i].args[0].type) {
        case "bool":
        case "dot":
        case "nil":
        case "number":
        case "string":
          this.errorf("non executable command in pipeline stage %d", i + 1);
      }
    }
  }

  branch(context: "if" | "range" | "with"): BranchNode {
    const mark = this.#vars.length;
    try {
      const pipe = this.pipeline(context, ItemType.RightDelim);
      if (context === "range") this.#rangeDepth++;
      let [list, next] = this.itemList();
      if (context === "range") this.#rangeDepth--;
      let elseList: ListNode | undefined;
      if (next.type === "else") {
        // "{{else if}}" in an if and "{{else with}}" in a with nest a branch
        // that shares this one's {{end}}.
        const chained = (context === "if" && this.peek().typ === ItemType.If) ||
          (context === "with" && this.peek().typ === ItemType.With);
        if (chained) {
          this.next();
          elseList = { type: "list", pos: next.pos, nodes: [this.branch(context)] };
        } else {
          [elseList, next] = this.itemList();
          if (next.type !== "end") this.errorf("expected end; found %s", nodeString(next));
        }
      }
      return { type: context, pos: pipe.pos, pipe, list, elseList };
    } finally {
      this.#vars.length = mark;
    }
  }

  elseControl(): Node {
    const peek = this.peekNonSpace();
    if (peek.typ === ItemType.If || peek.typ === ItemType.With) {
      return { type: "else", pos: peek.pos };
    }
    const token = this.expect(ItemType.RightDelim, "else");
    return { type: "else", pos: token.pos };
  }

  blockControl(): Node {
    const context = "block clause";
    const token = this.nextNonSpace();
    const name = this.parseTemplateName(token, context);
    const pipe = this.pipeline(context, ItemType.RightDelim);
    const block = new TreeParser(name, this.#ctx);
    const [list, end] = block.itemList();
    block.root = list;
    if (end.type !== "end") this.errorf("unexpected %s in %s", nodeString(end), context);
    block.add();
    return { type: "template", pos: token.pos, name, pipe };
  }

  templateControl(): Node {
    const context = "template clause";
    const token = this.nextNonSpace();
    const name = this.parseTemplateName(token, context);
    let pipe: PipeNode | undefined;
    if (this.nextNonSpace().typ !== ItemType.RightDelim) {
      this.backup();
      pipe = this.pipeline(context, ItemType.RightDelim);
    }
    return { type: "template", pos: token.pos, name, pipe };
  }

  parseTemplateName(token: Item, context: string): string {
    if (token.typ === ItemType.String || token.typ === ItemType.RawString) {
      return this.unquote(token.val);
    }
    this.unexpected(token, context);
  }

  command(): CommandNode {
    const cmd: CommandNode = { type: "command", pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const token = this.next();
      if (token.typ === ItemType.Space) continue;
      if (token.typ === ItemType.RightDelim || token.typ === ItemType.RightParen) this.backup();
      else if (token.typ !== ItemType.Pipe) this.unexpected(token, "operand");
      break;
    }
    if (cmd.args.length === 0) this.errorf("empty command");
    return cmd;
  }

  operand(): Node | undefined {
    const node = this.term();
    if (!node) return undefined;
    if (this.peek().typ !== ItemType.Field) return node;
    const pos = this.peek().pos;
    const fields: string[] = [];
    while (this.peek().typ === ItemType.Field) fields.push(this.next().val.slice(1));
    switch (node.type) {
      case "field":
        return { type: "field", pos, ident: [...node.ident, ...fields] };
      case "variable":
        return { type: "variable", pos, ident: [...node.ident, ...fields] };
      case "bool":
      case "string":
      case "number":
      case "nil":
      case "dot":
        this.errorf("unexpected . after term %q", nodeString(node));
    }
    return { type: "chain", pos, node, field: fields };
  }

  term(): Node | undefined {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case ItemType.Identifier:
        if (!this.#ctx.hasFunction(token.val)) this.errorf("function %q not defined", token.val);
        return { type: "identifier", pos: token.pos, ident: token.val };
      case ItemType.Dot:
        return { type: "dot", pos: token.pos };
      case ItemType.Nil:
        return { type: "nil", pos: token.pos };
      case ItemType.Variable:
        return this.useVar(token.pos, token.val);
      case ItemType.Field:
        return { type: "field", pos: token.pos, ident: token.val.slice(1).split(".") };
      case ItemType.Bool:
        return { type: "bool", pos: token.pos, value: token.val === "true" };
      case ItemType.CharConstant:
      case ItemType.Complex:
      case ItemType.Number:
        return this.newNumber(token.pos, token.val, token.typ);
      case ItemType.LeftParen:
        return this.pipeline("parenthesized pipeline", ItemType.RightParen);
      case ItemType.String:
      case ItemType.RawString:
        return { type: "string", pos: token.pos, quoted: token.val, text: this.unquote(token.val) };
    }
    this.backup();
    return undefined;
  }

  useVar(pos: number, name: string): VariableNode {
    const v = newVariable(pos, name);
    if (this.#vars.includes(v.ident[0])) return v;
    this.errorf("undefined variable %q", v.ident[0]);
  }

  unquote(s: string): string {
    try {
      return unquote(s);
    } catch (e) {
      this.errorf("%s", (e as Error).message);
    }
  }

  newNumber(pos: number, text: string, typ: ItemType): NumberNode {
    const n: NumberNode = {
      type: "number",
      pos,
      text,
      isInt: false,
      isUint: false,
      isFloat: false,
      isComplex: false,
      int: 0n,
      uint: 0n,
      float: 0,
    };
    if (typ === ItemType.CharConstant) {
      let r: { value: number; tail: string };
      try {
        r = unquoteChar(text.slice(1), text[0]);
      } catch (e) {
        this.errorf("%s", (e as Error).message);
      }
      if (r.tail !== "'") this.errorf("malformed character constant: %s", text);
      n.int = n.uint = BigInt(r.value);
      n.float = r.value;
      n.isInt = n.isUint = n.isFloat = true;
      return n;
    }
    if (
      typ === ItemType.Complex ||
      (text.endsWith("i") && parseGoFloat(text.slice(0, -1)) !== undefined)
    ) {
      this.errorf("complex number %s is not supported", text);
    }
    const u = parseGoUint(text);
    if (u !== undefined) {
      n.isUint = true;
      n.uint = u;
    }
    const i = parseGoInt(text);
    if (i !== undefined) {
      n.isInt = true;
      n.int = i;
      if (i === 0n) {
        n.isUint = true;
        n.uint = u ?? 0n;
      }
    }
    if (n.isInt) {
      n.isFloat = true;
      n.float = Number(n.int);
    } else if (n.isUint) {
      n.isFloat = true;
      n.float = Number(n.uint);
    } else {
      const f = parseGoFloat(text);
      if (f !== undefined) {
        if (!/[.eEpP]/.test(text)) this.errorf("integer overflow: %q", text);
        n.isFloat = true;
        n.float = f;
        if (Number.isInteger(f) && f >= -(2 ** 63) && f < 2 ** 63) {
          n.isInt = true;
          n.int = BigInt(f);
        }
        if (Number.isInteger(f) && f >= 0 && f < 2 ** 64) {
          n.isUint = true;
          n.uint = BigInt(f);
        }
      }
    }
    if (!n.isInt && !n.isUint && !n.isFloat) this.errorf("illegal number syntax: %q", text);
    return n;
  }
}

function newVariable(pos: number, ident: string): VariableNode {
  return { type: "variable", pos, ident: ident.split(".") };
}

/** Options for {@linkcode parseTemplates}. */
export interface ParseOptions {
  /** Left action delimiter. @default {"{{"} */
  leftDelim?: string;
  /** Right action delimiter. @default {"}}"} */
  rightDelim?: string;
  /** Whether a function of this name exists (builtins and user functions). */
  hasFunction: (name: string) => boolean;
}

/**
 * Parses template source into its named trees: the top-level one called
 * `name` and one per `{{define}}` / `{{block}}`. Throws {@linkcode TemplateError}.
 */
export function parseTemplates(
  name: string,
  text: string,
  options: ParseOptions,
): Map<string, Tree> {
  const ctx: ParseContext = {
    lex: new Lexer(
      text,
      options.leftDelim ?? "",
      options.rightDelim ?? "",
      !options.hasFunction("break"),
      !options.hasFunction("continue"),
    ),
    treeSet: new Map(),
    parseName: name,
    hasFunction: options.hasFunction,
  };
  const top = new TreeParser(name, ctx);
  top.parse();
  top.add();
  return ctx.treeSet;
}
