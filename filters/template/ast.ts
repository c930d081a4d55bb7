/**
 * Template parse tree nodes, shaped after Go's text/template/parse, with
 * Go's `String()` rendering (used in error messages).
 *
 * @module
 */

import { quote } from "./strconv.ts";

/** Plain text between actions. */
export interface TextNode {
  readonly type: "text";
  readonly pos: number;
  readonly text: string;
}

/** A `{{/* comment *\/}}` (kept only for completeness; the parser drops them). */
export interface CommentNode {
  readonly type: "comment";
  readonly pos: number;
  readonly text: string;
}

/** `{{pipeline}}`: prints the pipeline's value unless it declares variables. */
export interface ActionNode {
  readonly type: "action";
  readonly pos: number;
  readonly pipe: PipeNode;
}

/** `$x := cmd | cmd`: optional declarations and a list of commands. */
export interface PipeNode {
  readonly type: "pipe";
  readonly pos: number;
  isAssign: boolean;
  readonly decl: VariableNode[];
  readonly cmds: CommandNode[];
}

/** One command of a pipeline: its operands. */
export interface CommandNode {
  readonly type: "command";
  readonly pos: number;
  readonly args: Node[];
}

/** A function name. */
export interface IdentifierNode {
  readonly type: "identifier";
  readonly pos: number;
  readonly ident: string;
}

/** `$x.a.b`: a variable and optional fields. */
export interface VariableNode {
  readonly type: "variable";
  readonly pos: number;
  readonly ident: string[];
}

/** `.` */
export interface DotNode {
  readonly type: "dot";
  readonly pos: number;
}

/** `nil` */
export interface NilNode {
  readonly type: "nil";
  readonly pos: number;
}

/** `.a.b` */
export interface FieldNode {
  readonly type: "field";
  readonly pos: number;
  readonly ident: string[];
}

/** `(pipe).a.b` or `func.a` */
export interface ChainNode {
  readonly type: "chain";
  readonly pos: number;
  readonly node: Node;
  readonly field: string[];
}

/** `true` / `false` */
export interface BoolNode {
  readonly type: "bool";
  readonly pos: number;
  readonly value: boolean;
}

/** A number literal, with every Go reading of it that succeeded. */
export interface NumberNode {
  readonly type: "number";
  readonly pos: number;
  readonly text: string;
  isInt: boolean;
  isUint: boolean;
  isFloat: boolean;
  isComplex: boolean;
  int: bigint;
  uint: bigint;
  float: number;
}

/** A quoted string literal. */
export interface StringNode {
  readonly type: "string";
  readonly pos: number;
  readonly quoted: string;
  readonly text: string;
}

/** A sequence of nodes. */
export interface ListNode {
  readonly type: "list";
  readonly pos: number;
  readonly nodes: Node[];
}

/** `{{if}}`, `{{range}}` or `{{with}}` with its lists. */
export interface BranchNode {
  readonly type: "if" | "range" | "with";
  readonly pos: number;
  readonly pipe: PipeNode;
  readonly list: ListNode;
  readonly elseList: ListNode | undefined;
}

/** `{{template "name" pipe}}` (also what `{{block}}` leaves in place). */
export interface TemplateNode {
  readonly type: "template";
  readonly pos: number;
  readonly name: string;
  readonly pipe: PipeNode | undefined;
}

/** `{{break}}` / `{{continue}}` */
export interface LoopControlNode {
  readonly type: "break" | "continue";
  readonly pos: number;
}

/** `{{end}}` / `{{else}}`, seen only while parsing. */
export interface DelimNode {
  readonly type: "end" | "else";
  readonly pos: number;
}

/** Any parse tree node. */
export type Node =
  | TextNode
  | CommentNode
  | ActionNode
  | PipeNode
  | CommandNode
  | IdentifierNode
  | VariableNode
  | DotNode
  | NilNode
  | FieldNode
  | ChainNode
  | BoolNode
  | NumberNode
  | StringNode
  | ListNode
  | BranchNode
  | TemplateNode
  | LoopControlNode
  | DelimNode;

/** Go's `Node.String()`. */
export function nodeString(n: Node): string {
  switch (n.type) {
    case "text":
      return n.text;
    case "comment":
      return "{{" + n.text + "}}";
    case "action":
      return "{{" + nodeString(n.pipe) + "}}";
    case "pipe": {
      let s = "";
      if (n.decl.length) s = n.decl.map(nodeString).join(", ") + " := ";
      return s + n.cmds.map(nodeString).join(" | ");
    }
    case "command":
      return n.args.map((a) => (a.type === "pipe" ? "(" + nodeString(a) + ")" : nodeString(a)))
        .join(" ");
    case "identifier":
      return n.ident;
    case "variable":
      return n.ident.join(".");
    case "dot":
      return ".";
    case "nil":
      return "nil";
    case "field":
      return n.ident.map((i) => "." + i).join("");
    case "chain": {
      const head = n.node.type === "pipe" ? "(" + nodeString(n.node) + ")" : nodeString(n.node);
      return head + n.field.map((f) => "." + f).join("");
    }
    case "bool":
      return n.value ? "true" : "false";
    case "number":
      return n.text;
    case "string":
      return n.quoted;
    case "list":
      return n.nodes.map(nodeString).join("");
    case "if":
    case "range":
    case "with": {
      let s = "{{" + n.type + " " + nodeString(n.pipe) + "}}" + nodeString(n.list);
      if (n.elseList) s += "{{else}}" + nodeString(n.elseList);
      return s + "{{end}}";
    }
    case "template":
      return "{{template " + quote(n.name) + (n.pipe ? " " + nodeString(n.pipe) : "") + "}}";
    case "break":
      return "{{break}}";
    case "continue":
      return "{{continue}}";
    case "end":
      return "{{end}}";
    case "else":
      return "{{else}}";
  }
}

/** Go's `parse.IsEmptyTree`: only space and comments. */
export function isEmptyTree(n: Node | undefined): boolean {
  if (!n) return true;
  switch (n.type) {
    case "comment":
      return true;
    case "list":
      return n.nodes.every(isEmptyTree);
    case "text":
      return n.text.replace(/^[\s\u0085\u00a0]+|[\s\u0085\u00a0]+$/g, "").length === 0;
  }
  return false;
}
