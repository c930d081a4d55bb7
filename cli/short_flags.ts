/**
 * Go's flag package (pflag, which Easegress and egctl use) reads some
 * arguments unlike node:util's parseArgs; these rewrite them into the
 * spelling parseArgs reads the same way.
 *
 * @module
 */

type Options = Readonly<Record<string, { type: string; short?: string }>>;

/**
 * Rewrites each `-x=VALUE` whose `x` is the short form of an option in
 * `options` as `--long=VALUE` (pflag takes a short flag's value after `=`,
 * `-f=config.yaml`, where parseArgs would read "=config.yaml"); arguments
 * after `--` are left as they are.
 */
export function expandShortEquals(args: readonly string[], options: Options): string[] {
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

/**
 * Rewrites `--long VALUE` and `-x VALUE` as `--long=VALUE` where the option
 * takes a value and VALUE starts with "-": pflag takes the next argument
 * whatever it is (so `--workers -1` is refused as a count, naming the flag),
 * where parseArgs stops at "argument is ambiguous". A lone "-" (stdin) and
 * arguments after `--` are left as they are.
 */
export function attachDashedValues(args: readonly string[], options: Options): string[] {
  const longOf = new Map<string, string>();
  for (const [long, option] of Object.entries(options)) {
    longOf.set(`--${long}`, long);
    if (option.short) longOf.set(`-${option.short}`, long);
  }
  const end = args.indexOf("--");
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const long = longOf.get(args[i]);
    const next = args[i + 1];
    const beforeEnd = end < 0 || i + 1 < end;
    if (
      long !== undefined && options[long].type === "string" && beforeEnd &&
      next !== undefined && next.startsWith("-") && next !== "-"
    ) {
      out.push(`--${long}=${next}`);
      i++;
    } else {
      out.push(args[i]);
    }
  }
  return out;
}

/** The first argument that is neither a flag nor the value of one taking a value. */
export function firstPositional(args: readonly string[], options: Options): string | undefined {
  const takesValue = new Set<string>();
  for (const [long, option] of Object.entries(options)) {
    if (option.type !== "string") continue;
    takesValue.add(`--${long}`);
    if (option.short) takesValue.add(`-${option.short}`);
  }
  for (let i = 0; i < args.length; i++) {
    if (!args[i].startsWith("-")) return args[i];
    if (takesValue.has(args[i])) i++;
  }
  return undefined;
}
