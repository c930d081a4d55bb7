/**
 * Reading Cache-Control values (RFC 9111 section 5.2): which directives a
 * response or request carries.
 *
 * @module
 */

/** Whether a Cache-Control value has `directive` (as a whole name, with or without an argument). */
export function hasDirective(control: string, directive: string): boolean {
  const lower = control.toLowerCase();
  for (let at = lower.indexOf(directive); at >= 0; at = lower.indexOf(directive, at + 1)) {
    const before = at === 0 ? "," : lower[at - 1];
    const after = lower[at + directive.length] ?? ",";
    if ((before === "," || before === " " || before === "\t") && /[,= \t]/.test(after)) {
      return true;
    }
  }
  return false;
}
