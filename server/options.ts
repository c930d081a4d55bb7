/**
 * Node options: flags, a YAML config file with the same keys, and `EG_*`
 * environment variables, merged over defaults. Precedence: flag > config
 * file > environment > default.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { attachDashedValues, expandShortEquals } from "../cli/short_flags.ts";
import { readOneDocument } from "../filters/yaml_module.ts";
import { spellingOf } from "../filters/yaml_plain_scalars.ts";
import { isPlainObject, parseDuration, urlWithProtocol, yamlBoolean } from "../filters/spec.ts";
import type { Http1ServerKind } from "./httpserver/listener.ts";

/** Everything a node is started with. */
export interface NodeOptions {
  name: string;
  labels: Record<string, string>;
  apiAddr: string;
  debug: boolean;
  disableAccessLog: boolean;
  homeDir: string;
  /** Absolute or relative to homeDir. */
  dataDir: string;
  logDir: string;
  initialObjectConfigFiles: string[];
  plugins: string[];
  /** Data-plane isolates; 0 or 1 runs the data plane in the main isolate. */
  workers: number;
  /** What serves plain HTTP/1.1: our own server, or `Deno.serve`. */
  http1Server: Http1ServerKind;
  /** Quiet time after which an isolate gives its heap back ("0s": never). */
  heapTrimAfter: string;
  clusterName: string;
  clusterRole: "primary" | "secondary";
  /** Existing etcd endpoints; empty with no initialCluster means standalone. */
  etcdEndpoints: string[];
  clusterRequestTimeout: string;
  listenClientUrls: string[];
  listenPeerUrls: string[];
  advertiseClientUrls: string[];
  initialAdvertisePeerUrls: string[];
  /** name=peerURL pairs; set means built-in etcd (primaries run an etcd member). */
  initialCluster: Record<string, string>;
  stateFlag: "new" | "existing";
  /** A CPU profile of the node's life is written here at exit ("": none). */
  cpuProfileFile: string;
  /** A memory profile of the node's life is written here at exit ("": none). */
  memoryProfileFile: string;
  /** The built-in etcd member's write-ahead log dir ("": inside its data dir). */
  walDir: string;
  /** Easegress v1's member list dir; kept for config files, unused. */
  memberDir: string;
  /** Where a secondary (or a node on a standalone etcd) reaches the cluster's etcd. */
  primaryListenPeerUrls: string[];
  /** Easegress's deprecated spelling of where a secondary reaches the cluster. */
  clusterJoinUrls: string[];
  /** Largest request the etcd client sends, in bytes. */
  maxCallSendMsgSize: number;
  /** Run against an etcd of its own (a secondary of it, as Easegress does). */
  useStandaloneEtcd: boolean;
  /** Start the built-in etcd member as a new one-member cluster from its data. */
  forceNewCluster: boolean;
  /** Object statuses written at once in a status sync. */
  statusUpdateMaxBatchSize: number;
  /** Serve the admin API over HTTPS with certFile and keyFile. */
  tls: boolean;
  /** The admin API's certificate chain (PEM file), with `tls`. */
  certFile: string;
  /** The admin API's private key (PEM file), with `tls`. */
  keyFile: string;
  /** With `tls`: admin clients must present a certificate this CA (PEM file) signed. */
  clientCaFile: string;
  /** Users and their passwords the admin API asks for (HTTP basic auth); empty: none. */
  basicAuth: Record<string, string>;
}

/**
 * Most data-plane isolates a node runs. Each costs a thread and tens of MB,
 * and the shared rate-limit and breaker tables keep a claim count per
 * isolate, sized when the node starts.
 */
export const MAX_WORKERS = 256;

/** The defaults, as in Easegress. */
export const DEFAULT_OPTIONS: Readonly<NodeOptions> = Object.freeze({
  name: "eg-default-name",
  labels: {},
  apiAddr: "localhost:2381",
  debug: false,
  disableAccessLog: false,
  homeDir: "./",
  dataDir: "data",
  logDir: "log",
  initialObjectConfigFiles: [],
  plugins: [],
  // One data-plane isolate per core; the main isolate keeps the control plane.
  workers: Math.min(navigator.hardwareConcurrency, MAX_WORKERS),
  http1Server: "builtin",
  heapTrimAfter: "30s",
  clusterName: "eg-cluster-default-name",
  clusterRole: "primary",
  etcdEndpoints: [],
  clusterRequestTimeout: "10s",
  listenClientUrls: ["http://localhost:2379"],
  listenPeerUrls: ["http://localhost:2380"],
  advertiseClientUrls: ["http://localhost:2379"],
  initialAdvertisePeerUrls: ["http://localhost:2380"],
  initialCluster: {},
  stateFlag: "new",
  cpuProfileFile: "",
  memoryProfileFile: "",
  walDir: "",
  memberDir: "member",
  primaryListenPeerUrls: [],
  clusterJoinUrls: [],
  maxCallSendMsgSize: 10 * 1024 * 1024,
  useStandaloneEtcd: false,
  forceNewCluster: false,
  statusUpdateMaxBatchSize: 20,
  tls: false,
  certFile: "",
  keyFile: "",
  clientCaFile: "",
  basicAuth: {},
});

interface OptionDef {
  key: keyof NodeOptions;
  type: "string" | "boolean" | "list" | "map" | "number";
  short?: string;
  help: string;
}

const DEFS: Record<string, OptionDef> = {
  "name": { key: "name", type: "string", help: "member name" },
  "labels": { key: "labels", type: "map", help: "member labels, k=v,k2=v2" },
  "api-addr": { key: "apiAddr", type: "string", help: "admin API address host:port" },
  "tls": { key: "tls", type: "boolean", help: "serve the admin API over HTTPS" },
  "cert-file": { key: "certFile", type: "string", help: "admin API certificate (PEM), --tls" },
  "key-file": { key: "keyFile", type: "string", help: "admin API private key (PEM), --tls" },
  "client-ca-file": {
    key: "clientCaFile",
    type: "string",
    help: "admin clients must present a certificate from this CA (PEM), --tls",
  },
  "basic-auth": {
    key: "basicAuth",
    type: "map",
    help: "admin API users, user=password,... (HTTP basic auth)",
  },
  "debug": { key: "debug", type: "boolean", help: "debug logging" },
  "disable-access-log": { key: "disableAccessLog", type: "boolean", help: "no access log" },
  "home-dir": { key: "homeDir", type: "string", help: "home dir; other dirs are relative to it" },
  "data-dir": { key: "dataDir", type: "string", help: "data dir (embedded store, etcd data)" },
  "log-dir": { key: "logDir", type: "string", help: "log dir" },
  "initial-object-config-files": {
    key: "initialObjectConfigFiles",
    type: "list",
    help: "YAML object files created at start when absent",
  },
  "plugin": { key: "plugins", type: "list", help: "filter plugin module path or URL" },
  "workers": {
    key: "workers",
    type: "number",
    help: "data-plane isolates, one per core by default (0 or 1: all in the main isolate)",
  },
  "http1-server": {
    key: "http1Server",
    type: "string",
    help: "builtin | deno: what serves HTTP/1.1 and HTTPS (see README)",
  },
  "heap-trim-after": {
    key: "heapTrimAfter",
    type: "string",
    help: "quiet time after which an isolate gives its heap back (0s: never; see README)",
  },
  "cluster-name": { key: "clusterName", type: "string", help: "cluster name" },
  "cluster-role": { key: "clusterRole", type: "string", help: "primary | secondary" },
  "etcd-endpoints": { key: "etcdEndpoints", type: "list", help: "use an existing etcd" },
  "cluster-request-timeout": {
    key: "clusterRequestTimeout",
    type: "string",
    help: "etcd request timeout",
  },
  "listen-client-urls": { key: "listenClientUrls", type: "list", help: "built-in etcd" },
  "listen-peer-urls": { key: "listenPeerUrls", type: "list", help: "built-in etcd" },
  "advertise-client-urls": { key: "advertiseClientUrls", type: "list", help: "built-in etcd" },
  "initial-advertise-peer-urls": {
    key: "initialAdvertisePeerUrls",
    type: "list",
    help: "built-in etcd",
  },
  "initial-cluster": {
    key: "initialCluster",
    type: "map",
    help: "built-in etcd members name=peerURL,...",
  },
  "state-flag": { key: "stateFlag", type: "string", help: "new | existing" },
  "wal-dir": { key: "walDir", type: "string", help: "built-in etcd WAL dir (default: in data)" },
  "member-dir": {
    key: "memberDir",
    type: "string",
    help: "accepted for Easegress configs; unused",
  },
  "primary-listen-peer-urls": {
    key: "primaryListenPeerUrls",
    type: "list",
    help: "secondary: etcd URLs of the primaries (peer or client)",
  },
  "cluster-join-urls": {
    key: "clusterJoinUrls",
    type: "list",
    help: "deprecated in Easegress: a secondary's --primary-listen-peer-urls",
  },
  "max-call-send-msg-size": {
    key: "maxCallSendMsgSize",
    type: "number",
    help: "largest etcd request in bytes",
  },
  "use-standalone-etcd": {
    key: "useStandaloneEtcd",
    type: "boolean",
    help: "use an etcd of your own at --primary-listen-peer-urls (role: secondary)",
  },
  "force-new-cluster": {
    key: "forceNewCluster",
    type: "boolean",
    help: "restart the built-in etcd member as a one-member cluster",
  },
  "status-update-max-batch-size": {
    key: "statusUpdateMaxBatchSize",
    type: "number",
    help: "object statuses written at once",
  },
  "cpu-profile-file": {
    key: "cpuProfileFile",
    type: "string",
    help: "write a CPU profile (.cpuprofile) of the node here at exit",
  },
  "memory-profile-file": {
    key: "memoryProfileFile",
    type: "string",
    help: "write a memory profile (.heapprofile) of the node here at exit",
  },
};

/**
 * Easegress v2's deprecated spellings of the built-in etcd's URLs, still in
 * its option.go: taken as the options they became. As in Easegress, they
 * give way to the new ones with `--initial-cluster`, and win without it; a
 * primary given them without `--initial-cluster` runs a one-member etcd
 * cluster on them, as Easegress's primaries do.
 */
const DEPRECATED_URL_FLAGS: Readonly<Record<string, string>> = {
  "cluster-listen-client-urls": "listen-client-urls",
  "cluster-listen-peer-urls": "listen-peer-urls",
  "cluster-advertise-client-urls": "advertise-client-urls",
  "cluster-initial-advertise-peer-urls": "initial-advertise-peer-urls",
};

/** The help text of `serve`. */
export function serveHelp(): string {
  const rows: [string, string][] = [
    ["-f, --config-file FILE", "YAML file with the keys below"],
    ["-c, --print-config", "print the resolved options, then start"],
    ["-s, --signal-upgrade", "refused: restart the node instead (see README)"],
  ];
  for (const [flag, def] of Object.entries(DEFS)) {
    const value = def.type === "boolean" ? "" : " VALUE";
    const dflt = DEFAULT_OPTIONS[def.key];
    const shown = Array.isArray(dflt)
      ? dflt.join(",")
      : typeof dflt === "object"
      ? ""
      : String(dflt);
    const suffix = shown && def.type !== "boolean" ? ` (default ${shown})` : "";
    rows.push([`--${flag}${value}`, `${def.help}${suffix}`]);
  }
  for (const [flag, target] of Object.entries(DEPRECATED_URL_FLAGS)) {
    rows.push([`--${flag} VALUE`, `deprecated in Easegress: --${target}`]);
  }
  rows.push(["-h, --help", "this help"], ["-v, --version", "version"]);
  // Every flag's help starts in one column, past the longest flag.
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return [
    "Usage: easegress serve [options]",
    "",
    "Runs a node. Flags override the config file, which overrides EG_* environment",
    "variables (EG_API_ADDR for --api-addr).",
    "",
    "Options:",
    ...rows.map(([left, help]) => `  ${left.padEnd(width)}${help}`),
  ].join("\n");
}

/** A bad flag, config file or environment value. */
export class OptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OptionsError";
  }
}

/** What `serve`'s arguments ask for. */
export type ServeCommand =
  | { action: "help" }
  | { action: "version" }
  /**
   * `printConfig`: show the resolved options before starting (`-c`);
   * `warnings`: what was read but not used (keys of a config file this node
   * does not know, which Easegress ignores as well).
   */
  | { action: "run"; options: NodeOptions; printConfig: boolean; warnings: string[] };

/** Parses `serve` arguments, reading the config file and environment. */
export async function parseServeArgs(
  args: string[],
  env: Record<string, string> = Deno.env.toObject(),
): Promise<ServeCommand> {
  const parseOptions: Record<
    string,
    { type: "string" | "boolean"; multiple?: boolean; short?: string }
  > = {
    "config-file": { type: "string", short: "f" },
    "print-config": { type: "boolean", short: "c" },
    // `-s` as in Easegress, so its short form is refused with the reason too.
    "signal-upgrade": { type: "boolean", short: "s" },
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "v" },
  };
  for (const [flag, def] of Object.entries(DEFS)) {
    parseOptions[flag] = def.type === "boolean"
      ? { type: "boolean" }
      : { type: "string", multiple: def.type === "list" || def.type === "map" };
  }
  for (const flag of Object.keys(DEPRECATED_URL_FLAGS)) {
    parseOptions[flag] = { type: "string", multiple: true };
  }
  // Go's flags take a value for a switch too (`--debug=false`), which parseArgs refuses.
  const switchValues = new Map<string, boolean>();
  const spelled = attachDashedValues(expandShortEquals(args, parseOptions), parseOptions);
  const rest = spelled.filter((arg, i) => {
    if (spelled.slice(0, i).includes("--")) return true;
    const m = /^--([^=]+)=(.*)$/s.exec(arg);
    if (!m || parseOptions[m[1]]?.type !== "boolean") return true;
    const on = goBool(m[2]);
    if (on === undefined) {
      throw new OptionsError(`--${m[1]}: must be true or false, got ${JSON.stringify(m[2])}`);
    }
    switchValues.set(m[1], on);
    return false;
  });
  refuseSpacedSwitchValue(rest, parseOptions);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: parseOptions,
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new OptionsError(`${(e as Error).message}; see easegress serve --help`);
  }
  const values = parsed.values as Record<string, string | string[] | boolean | undefined>;
  for (const [flag, on] of switchValues) values[flag] = on;
  if (values.help) return { action: "help" };
  if (values.version) return { action: "version" };
  if (values["signal-upgrade"]) {
    throw new OptionsError(
      "--signal-upgrade: handing the listeners to a new binary is not supported; restart the " +
        "node instead (in a cluster, the other nodes serve meanwhile)",
    );
  }

  const options: NodeOptions = structuredClone(DEFAULT_OPTIONS) as NodeOptions;
  const given: Given = { flags: new Map(), deprecated: new Map() };
  for (const [flag, def] of Object.entries(DEFS)) {
    const envValue = env[envName(flag)];
    // Set but empty counts as unset, as with Easegress (viper).
    if (envValue !== undefined && envValue !== "") {
      setOption(options, def, envValue, `environment ${envName(flag)}`);
      given.flags.set(flag, `environment ${envName(flag)}`);
    }
  }
  for (const flag of Object.keys(DEPRECATED_URL_FLAGS)) {
    const envValue = env[envName(flag)];
    if (envValue !== undefined && envValue !== "") {
      given.deprecated.set(flag, { value: envValue, where: `environment ${envName(flag)}` });
    }
  }
  const configFile = values["config-file"];
  const warnings: string[] = [];
  if (typeof configFile === "string") {
    await applyConfigFile(options, configFile, warnings, given);
  }
  for (const [flag, def] of Object.entries(DEFS)) {
    const v = values[flag];
    if (v === undefined) continue;
    setOption(options, def, v, `--${flag}`);
    given.flags.set(flag, `--${flag}`);
  }
  for (const flag of Object.keys(DEPRECATED_URL_FLAGS)) {
    const v = values[flag];
    if (v !== undefined) given.deprecated.set(flag, { value: v, where: `--${flag}` });
  }
  const legacyEtcd = applyDeprecatedUrls(options, given, warnings);
  try {
    checkOptions(options, legacyEtcd, warnings);
  } catch (e) {
    throw e instanceof OptionsError ? namingSource(e, given) : e;
  }
  return { action: "run", options, printConfig: values["print-config"] === true, warnings };
}

/**
 * `--debug false` is refused with the spelling that works: a switch takes a
 * value only after "=", so Go's flags (and Easegress) set `--debug` and drop
 * the "false", and parseArgs would only call it an unexpected argument.
 */
function refuseSpacedSwitchValue(
  args: readonly string[],
  options: Readonly<Record<string, { type: string }>>,
): void {
  const end = args.indexOf("--");
  for (let i = 1; i < args.length && (end < 0 || i < end); i++) {
    const flag = /^--([^=]+)$/.exec(args[i - 1])?.[1];
    if (flag && options[flag]?.type === "boolean" && goBool(args[i]) !== undefined) {
      throw new OptionsError(
        `--${flag} takes its value after "=": write --${flag}=${args[i]}, not --${flag} ${args[i]}`,
      );
    }
  }
}

/**
 * `e`, a refusal naming a flag, named after where the value came from: an
 * `EG_*` variable or a config file key. "--api-addr: ..." sent a user who
 * had set EG_API_ADDR (or api-addr in the file) looking for a flag never
 * given.
 */
function namingSource(e: OptionsError, given: Given): OptionsError {
  const flag = /^--([a-z0-9-]+): /.exec(e.message)?.[1];
  const where = flag === undefined ? undefined : given.flags.get(flag);
  if (where === undefined || where === `--${flag}`) return e;
  return new OptionsError(`${where}${e.message.slice(flag!.length + 2)}`);
}

/** What was given, beyond the defaults: the options' flag names, and deprecated ones. */
interface Given {
  /** Flag -> where its value came from (the last, by precedence). */
  flags: Map<string, string>;
  /** Deprecated flag -> its value and where it came from (the last, by precedence). */
  deprecated: Map<string, { value: unknown; where: string }>;
}

function envName(flag: string): string {
  return `EG_${flag.toUpperCase().replaceAll("-", "_")}`;
}

/**
 * Takes Easegress's deprecated `cluster-*-urls` as the options they became,
 * with a note each, as Easegress's option.go reads them: with an initial
 * cluster it uses the new options (a deprecated one then fills only an
 * option not given), without one the deprecated ones. Returns whether any
 * is in use, i.e. the node was configured the old way.
 */
function applyDeprecatedUrls(options: NodeOptions, given: Given, warnings: string[]): boolean {
  const withInitialCluster = Object.keys(options.initialCluster).length > 0;
  let used = false;
  for (const [flag, { value, where }] of given.deprecated) {
    const target = DEPRECATED_URL_FLAGS[flag];
    const def = DEFS[target];
    const before = options[def.key];
    setOption(options, def, value, where);
    const urls = options[def.key] as string[];
    for (const url of urls) {
      if (!isHttpUrl(url)) {
        throw new OptionsError(
          `${where}: "${url}" is not an http(s) URL such as http://10.0.0.1:2380`,
        );
      }
    }
    if (withInitialCluster && given.flags.has(target)) {
      options[def.key] = before as never;
      warnings.push(
        `${where} is deprecated and ignored: --${target} is given, which goes with ` +
          `--initial-cluster (as in Easegress)`,
      );
      continue;
    }
    used = true;
    warnings.push(
      `${where} is deprecated: taken as --${target} ${urls.join(",")}; give --${target} ` +
        `(with --initial-cluster) instead`,
    );
  }
  return used;
}

async function applyConfigFile(
  options: NodeOptions,
  file: string,
  warnings: string[],
  given: Given,
): Promise<void> {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (e) {
    throw new OptionsError(`Cannot read config file ${file}: ${(e as Error).message}`);
  }
  const read = await readOneDocument(text);
  if ("problem" in read) throw new OptionsError(`Config file ${file} ${read.problem}`);
  const doc = read.value;
  if (doc === null || doc === undefined) return;
  if (!isPlainObject(doc)) throw new OptionsError(`Config file ${file}: must be a YAML map`);
  // Easegress nests the etcd options under "cluster"; accept both shapes.
  const flat: Record<string, unknown> = asWritten(doc);
  if ("cluster" in doc) {
    // Empty (its keys all commented out) is no cluster option, as in Easegress;
    // anything but a map is refused there too.
    if (doc.cluster !== null && !isPlainObject(doc.cluster)) {
      throw new OptionsError(`config file ${file}: cluster: must be a map of etcd options`);
    }
    delete flat.cluster;
    if (doc.cluster !== null) Object.assign(flat, asWritten(doc.cluster));
  }
  for (const [key, value] of Object.entries(flat)) {
    // `plugins` is how `-c` and `member list` show the `plugin` flags.
    const flag = key === "plugins" ? "plugin" : key;
    const def = DEFS[flag];
    if (key in DEPRECATED_URL_FLAGS) {
      if (value !== null) {
        given.deprecated.set(key, { value, where: `config file ${file}: ${key}` });
      }
      continue;
    }
    if (!def) {
      // Easegress ignores what its config struct lacks, so files written for a
      // later release still start a node; a typo is told, not fatal.
      warnings.push(`config file ${file}: unknown key "${key}" ignored`);
      continue;
    }
    // `cpu-profile-file:` with nothing after it, as Easegress's examples have: the default.
    if (value === null) continue;
    // Go's YAML reads YAML 1.1's `yes`, `no`, `on` and `off` into a bool, as objects take them;
    // the YAML 1.2 reader here leaves them text, which a flag's spelling would refuse.
    const taken = def.type === "boolean" ? yamlBoolean(value) ?? value : value;
    setOption(options, def, taken, `config file ${file}: ${key}`);
    given.flags.set(flag, `config file ${file}: ${key}`);
  }
}

/**
 * The entries of a map read from YAML, its unquoted numbers and booleans as
 * written: a text option keeps `name: 0123` as Go does, and a number or
 * switch option reads the text as it reads a flag's.
 */
function asWritten(map: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, spellingOf(map, k) ?? v]));
}

/** A boolean as Go's strconv.ParseBool reads it (1, t, TRUE, True, ...), or undefined. */
function goBool(text: string): boolean | undefined {
  if (["1", "t", "T", "true", "TRUE", "True"].includes(text)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(text)) return false;
  return undefined;
}

function setOption(options: NodeOptions, def: OptionDef, value: unknown, where: string): void {
  const target = options as unknown as Record<string, unknown>;
  const asList = (v: unknown): string[] => {
    const items = Array.isArray(v) ? v : [v];
    return items.flatMap((item) => {
      if (typeof item !== "string") throw new OptionsError(`${where}: must be text`);
      return item.split(",").map((s) => s.trim()).filter(Boolean);
    });
  };
  switch (def.type) {
    case "boolean":
      if (typeof value === "boolean") target[def.key] = value;
      else if (typeof value === "string" && goBool(value) !== undefined) {
        target[def.key] = goBool(value);
      } else throw new OptionsError(`${where}: must be true or false`);
      return;
    case "number": {
      // Number("") is 0: an empty `--workers=` must be refused, as Go's flags refuse it;
      // and Number([4]) is 4: a list is no number either.
      const blank = typeof value === "string" && value.trim() === "";
      const n = typeof value === "number"
        ? value
        : blank || typeof value !== "string"
        ? NaN
        : Number(value);
      if (!Number.isInteger(n) || n < 0) {
        throw new OptionsError(`${where}: must be a whole number, got ${JSON.stringify(value)}`);
      }
      target[def.key] = n;
      return;
    }
    case "string":
      if (typeof value !== "string" && typeof value !== "number") {
        throw new OptionsError(`${where}: must be text`);
      }
      target[def.key] = String(value);
      return;
    case "list":
      target[def.key] = asList(value);
      return;
    case "map": {
      // As written: a basic-auth password 0123 is "0123", not "123", as in Go.
      const entries = (map: Record<string, unknown>) =>
        Object.entries(asWritten(map)).map(([k, v]) => [k, mapValue(v, `${where}: ${k}`)]);
      if (isPlainObject(value)) {
        target[def.key] = Object.fromEntries(entries(value));
        return;
      }
      // Easegress's config files list `initial-cluster` as one-entry maps: `- machine-1: URL`.
      if (Array.isArray(value) && value.length > 0 && value.every(isPlainObject)) {
        target[def.key] = Object.fromEntries(value.flatMap(entries));
        return;
      }
      const map: Record<string, string> = {};
      for (const pair of asList(value)) {
        const eq = pair.indexOf("=");
        if (eq <= 0) throw new OptionsError(`${where}: "${pair}" is not name=value`);
        map[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      target[def.key] = map;
      return;
    }
  }
}

/**
 * A value of a map option read from YAML as text. One left empty (`admin:`)
 * is "", as Go's YAML decodes it: String(null) made it "null", a basic-auth
 * password anyone could guess, where an empty one is refused.
 */
function mapValue(value: unknown, where: string): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") throw new OptionsError(`${where}: must be text`);
  return String(value);
}

const NAME = /^[A-Za-z0-9\-_.~]{1,253}$/;

/**
 * The name of a node given none, as Easegress makes it: the host name and the
 * admin API address, with `,`, `:` and `=` made dashes (and the brackets of an
 * IPv6 address left out, which Easegress would then refuse).
 */
export function generatedMemberName(apiAddr: string, hostname = Deno.hostname()): string {
  return `${hostname}-${apiAddr}`.replace(/[[\]]/g, "").replace(/[,:=]/g, "-");
}

/**
 * `legacyEtcd`: the deprecated `cluster-*-urls` are in use; `warnings`
 * gets what was changed as Easegress changes it.
 */
function checkOptions(o: NodeOptions, legacyEtcd = false, warnings: string[] = []): void {
  if (o.name === "") o.name = generatedMemberName(o.apiAddr);
  if (!NAME.test(o.name)) {
    throw new OptionsError(`--name: "${o.name}" must be 1-253 letters, digits or -_.~`);
  }
  if (!NAME.test(o.clusterName)) {
    throw new OptionsError(`--cluster-name: "${o.clusterName}" must be letters, digits or -_.~`);
  }
  splitHostPort(o.apiAddr, "--api-addr");
  // As in Easegress: an empty one would put the store in / or in the home dir itself.
  if (o.homeDir === "") throw new OptionsError("--home-dir: must not be empty");
  if (o.dataDir === "") throw new OptionsError("--data-dir: must not be empty");
  const timeout = parseDuration(o.clusterRequestTimeout);
  if (timeout === undefined || !(timeout > 0)) {
    throw new OptionsError(
      `--cluster-request-timeout: "${o.clusterRequestTimeout}" is not a positive duration ` +
        "like 10s or 500ms",
    );
  }
  if (o.clusterRole !== "primary" && o.clusterRole !== "secondary") {
    // Easegress v1 spellings.
    const legacy = o.clusterRole as string;
    if (legacy === "writer") o.clusterRole = "primary";
    else if (legacy === "reader") o.clusterRole = "secondary";
    else throw new OptionsError(`--cluster-role: must be primary or secondary, got "${legacy}"`);
  }
  if (o.workers > MAX_WORKERS) {
    throw new OptionsError(
      `--workers: at most ${MAX_WORKERS} data-plane isolates, got ${o.workers}`,
    );
  }
  if (o.http1Server !== "builtin" && o.http1Server !== "deno") {
    throw new OptionsError(`--http1-server: must be builtin or deno, got "${o.http1Server}"`);
  }
  if (!(heapTrimAfterMs(o) >= 0)) {
    throw new OptionsError(
      `--heap-trim-after: "${o.heapTrimAfter}" is not a duration like 30s or 2m (0s: never)`,
    );
  }
  // As in Easegress: a node on an etcd of its own runs no member of it.
  if (o.useStandaloneEtcd) o.clusterRole = "secondary";
  if (o.forceNewCluster && o.clusterRole === "secondary") {
    throw new OptionsError("--force-new-cluster: a secondary runs no etcd member to force");
  }
  if (o.tls && (o.certFile === "" || o.keyFile === "")) {
    throw new OptionsError(
      "--tls: give the admin API's certificate and key, --cert-file and --key-file",
    );
  }
  if (!o.tls && (o.certFile || o.keyFile || o.clientCaFile)) {
    const given = o.clientCaFile ? "--client-ca-file" : o.certFile ? "--cert-file" : "--key-file";
    throw new OptionsError(`${given}: the admin API serves plain HTTP unless --tls is given too`);
  }
  for (const [user, password] of Object.entries(o.basicAuth)) {
    if (user === "" || user.includes(":") || typeof password !== "string" || password === "") {
      throw new OptionsError(
        `--basic-auth: "${user}" needs a password and a name without ":" (user=password)`,
      );
    }
  }
  if (o.statusUpdateMaxBatchSize < 1) {
    throw new OptionsError("--status-update-max-batch-size: must be at least 1");
  }
  if (o.maxCallSendMsgSize < 1024) {
    throw new OptionsError("--max-call-send-msg-size: must be at least 1024 bytes");
  }
  if (o.stateFlag !== "new" && o.stateFlag !== "existing") {
    throw new OptionsError(`--state-flag: must be new or existing, got "${o.stateFlag}"`);
  }
  const withInitialCluster = Object.keys(o.initialCluster).length > 0;
  if (o.clusterRole === "primary" && !withInitialCluster && o.etcdEndpoints.length === 0) {
    // As Easegress's option.go adjusts it: a primary "joining" its own peer URL is the first.
    const [joinUrl] = o.clusterJoinUrls;
    const self = joinUrl !== undefined &&
      o.initialAdvertisePeerUrls.some((url) => url.toLowerCase() === joinUrl.toLowerCase());
    if (self) {
      warnings.push(
        `cluster-join-urls ${o.clusterJoinUrls.join(",")} changed to empty because it tries ` +
          "to join itself (as in Easegress)",
      );
      o.clusterJoinUrls = [];
    }
    // Easegress's primaries without an initial cluster run a one-member etcd on those URLs.
    if ((legacyEtcd || self) && o.clusterJoinUrls.length === 0) {
      o.initialCluster = { [o.name]: o.initialAdvertisePeerUrls[0] };
      warnings.push(
        `no --initial-cluster: this primary runs a one-member built-in etcd cluster, ` +
          `--initial-cluster ${o.name}=${o.initialAdvertisePeerUrls[0]}, as Easegress does with ` +
          "its deprecated cluster-* URLs; list every primary in --initial-cluster to grow it",
      );
    }
  }
  // Easegress v1 primaries joined by adding themselves to the etcd cluster;
  // here primaries are listed up front, so only a secondary can follow URLs.
  if (o.clusterJoinUrls.length > 0 && o.clusterRole === "primary") {
    throw new OptionsError(
      Object.keys(o.initialCluster).length > 0
        ? "--initial-cluster and --cluster-join-urls are both defined; give only --initial-cluster"
        : "--cluster-join-urls: a primary joins by --initial-cluster (with --state-flag existing " +
          "to join a running cluster); a secondary follows --primary-listen-peer-urls",
    );
  }
  // etcd's own clients take endpoints without a scheme too ("10.0.0.1:2379").
  const endpoints = o.etcdEndpoints.map((e) => e.includes("://") ? e : `http://${e}`);
  o.etcdEndpoints.forEach((given, i) => {
    if (!isHttpUrl(endpoints[i])) {
      throw new OptionsError(`--etcd-endpoints: "${given}" is not host:port or an http(s) URL`);
    }
    if (!namesPort(endpoints[i])) {
      throw new OptionsError(`--etcd-endpoints: "${given}" has no port, such as 10.0.0.1:2379`);
    }
  });
  o.etcdEndpoints = endpoints;
  const urlLists: [string, string[]][] = [
    ["--listen-client-urls", o.listenClientUrls],
    ["--advertise-client-urls", o.advertiseClientUrls],
    ["--listen-peer-urls", o.listenPeerUrls],
    ["--initial-advertise-peer-urls", o.initialAdvertisePeerUrls],
    ["--primary-listen-peer-urls", o.primaryListenPeerUrls],
    ["--cluster-join-urls", o.clusterJoinUrls],
  ];
  for (const [flag, urls] of urlLists) {
    for (const url of urls) {
      if (!isHttpUrl(url) || !namesPort(url)) {
        throw new OptionsError(
          `${flag}: "${url}" is not an http(s) URL with a port, such as http://10.0.0.1:2379`,
        );
      }
    }
  }
  // Checked here, not left to etcd: its refusal comes late, in its own log, naming no flag.
  for (const [name, url] of Object.entries(o.initialCluster)) {
    if (!isHttpUrl(url) || !namesPort(url)) {
      throw new OptionsError(
        `--initial-cluster: "${name}=${url}" is not name=URL, such as m1=http://10.0.0.1:2380`,
      );
    }
  }
}

function isHttpUrl(text: string): boolean {
  return urlWithProtocol(text, ["http:", "https:"]) !== undefined;
}

/**
 * Whether a URL names its port. etcd's URLs must: etcd refuses to listen on
 * one without, and its gRPC clients would go to port 443 whatever the
 * scheme. Read from the text, as URL drops a scheme's default port.
 */
function namesPort(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/(?:\[[^\]]*\]|[^/?#:@]*):\d+(?:[/?#]|$)/i.test(url);
}

/** Splits "host:port" (also "[::1]:port" and ":port"); throws naming `what`. */
export function splitHostPort(addr: string, what: string): { hostname: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(addr);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new OptionsError(`${what}: "${addr}" must be host:port`);
  let hostname = m[1];
  if (hostname.startsWith("[")) hostname = hostname.slice(1, -1);
  return { hostname: hostname || "0.0.0.0", port };
}

/**
 * How many worker isolates serve the data plane: none when one data plane is
 * asked for, which the main isolate runs. A worker isolate of its own would
 * cost about 20 MB of RSS and a thread, while the control plane sharing its
 * event loop is idle nearly all the time.
 */
export function workerIsolates(options: Pick<NodeOptions, "workers">): number {
  return options.workers > 1 ? options.workers : 0;
}

/** `--heap-trim-after` in milliseconds; NaN when it is not a duration. */
export function heapTrimAfterMs(options: Pick<NodeOptions, "heapTrimAfter">): number {
  return parseDuration(options.heapTrimAfter) ?? NaN;
}

/** Resolves a dir option against the home dir. */
export function resolveDir(options: NodeOptions, dir: string): string {
  if (dir.startsWith("/")) return dir;
  const home = options.homeDir.endsWith("/") ? options.homeDir : options.homeDir + "/";
  return home + dir;
}

/** The options document shown by `member list`, with Easegress's key names. */
export function optionsDocument(o: NodeOptions): Record<string, unknown> {
  return {
    name: o.name,
    labels: o.labels,
    "api-addr": o.apiAddr,
    tls: o.tls,
    "cert-file": o.certFile,
    "key-file": o.keyFile,
    "client-ca-file": o.clientCaFile,
    // Users only: member documents are readable by every admin client.
    "basic-auth": Object.fromEntries(Object.keys(o.basicAuth).map((user) => [user, "******"])),
    debug: o.debug,
    "disable-access-log": o.disableAccessLog,
    "initial-object-config-files": o.initialObjectConfigFiles,
    "cluster-name": o.clusterName,
    "cluster-role": o.clusterRole,
    "cluster-request-timeout": o.clusterRequestTimeout,
    "use-standalone-etcd": o.useStandaloneEtcd,
    cluster: {
      "etcd-endpoints": o.etcdEndpoints,
      "listen-client-urls": o.listenClientUrls,
      "listen-peer-urls": o.listenPeerUrls,
      "advertise-client-urls": o.advertiseClientUrls,
      "initial-advertise-peer-urls": o.initialAdvertisePeerUrls,
      "initial-cluster": o.initialCluster,
      "state-flag": o.stateFlag,
      "primary-listen-peer-urls": o.primaryListenPeerUrls,
      "cluster-join-urls": o.clusterJoinUrls,
      "max-call-send-msg-size": o.maxCallSendMsgSize,
    },
    "home-dir": o.homeDir,
    "data-dir": o.dataDir,
    "wal-dir": o.walDir,
    "log-dir": o.logDir,
    "member-dir": o.memberDir,
    "cpu-profile-file": o.cpuProfileFile,
    "memory-profile-file": o.memoryProfileFile,
    "status-update-max-batch-size": o.statusUpdateMaxBatchSize,
    workers: o.workers,
    "http1-server": o.http1Server,
    "heap-trim-after": o.heapTrimAfter,
    plugins: o.plugins,
  };
}
