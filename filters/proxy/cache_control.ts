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

const DELTA_SECONDS = /^[ \t]*=[ \t]*"?(\d+)"?[ \t]*(,|$)/;

/**
 * The delta-seconds `directive` gives (`max-age=60`, `s-maxage="60"`), or
 * undefined when the value lacks it or gives something else.
 */
export function directiveSeconds(control: string, directive: string): number | undefined {
  const lower = control.toLowerCase();
  for (let at = lower.indexOf(directive); at >= 0; at = lower.indexOf(directive, at + 1)) {
    const before = at === 0 ? "," : lower[at - 1];
    if (before !== "," && before !== " " && before !== "\t") continue;
    const value = DELTA_SECONDS.exec(lower.slice(at + directive.length));
    if (value !== null) return Number(value[1]);
  }
  return undefined;
}
