/**
 * The error the template engine throws for parse and execution failures.
 *
 * @module
 */

/** Where a {@linkcode TemplateError} happened. */
export interface TemplateErrorInfo {
  /** The template name as Go prints it (the top-level name for parse errors). */
  readonly name: string;
  /** 1-based line, when known. */
  readonly line?: number;
  /** 0-based byte column within the line (execution errors only, as in Go). */
  readonly column?: number;
}

/**
 * A template failed to parse or to execute. The message is Go's, e.g.
 * `template: t:1: function "foo" not defined` or
 * `template: t:1:7: executing "t" at <.a.b>: nil pointer evaluating interface {}.b`.
 */
export class TemplateError extends Error {
  /** The template name. */
  readonly templateName: string;
  /** 1-based line, when known. */
  readonly line: number | undefined;
  /** 0-based byte column (execution errors only). */
  readonly column: number | undefined;

  constructor(message: string, info: TemplateErrorInfo) {
    super(message);
    this.name = "TemplateError";
    this.templateName = info.name;
    this.line = info.line;
    this.column = info.column;
  }
}
