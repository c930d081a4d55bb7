/**
 * Go's flag package (pflag, which Easegress and egctl use) takes a short
 * flag's value after `=` too (`-f=config.yaml`, `-o=json`); node:util's
 * parseArgs would read that value as "=config.yaml".
 *
 * @module
 */

/**
 * Rewrites each `-x=VALUE` whose `x` is the short form of an option in
 * `options` as `--long=VALUE`; arguments after `--` are left as they are.
 */
export function expandShortEquals(
  args: readonly string[],
  options: Readonly<Record<string, { type: string; short?: string }>>,
): string[] {
  const longOf = new Map<string, string>();
  for (const [long, option] of Object.entries(options)) {
    if (option.short) longOf.set(option.short, long);
  }
  const end = args.indexOf("--");
  return args.map((arg, i) => {
    if (end >= 0 && i > end) return arg;
    const m = /^-([^-])=(.*)$/s.exec(arg);
    const long = m ? longOf.get(m[1]) : undefined;
    return long === undefined ? arg : `--${long}=${m![2]}`;
  });
}
