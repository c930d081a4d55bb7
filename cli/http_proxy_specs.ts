/**
 * `create httpproxy NAME --port PORT --rule HOST/PATH=URL,URL ...`, as egctl
 * of Easegress v2.1 and later makes it: an HTTPServer `NAME-server` whose
 * rules route each `--rule` to a Pipeline `NAME-pipeline-N` with one Proxy
 * filter over the rule's URLs (round robin). A path ending in `*` is a
 * prefix; rules with the same host share one server rule.
 *
 * @module
 */

import type { OwnFlags } from "./commands.ts";
import { CtlError, fileErrorReason, UsageError } from "./errors.ts";
import { keyPairProblems, pemProblem } from "../filters/pem.ts";

type Spec = Record<string, unknown>;

/** One `--rule`, parsed. */
export interface ProxyRule {
  readonly host: string;
  /** `path` for an exact path, `pathPrefix` for one ending in `*`. */
  readonly match: { path: string } | { pathPrefix: string };
  readonly urls: readonly string[];
}

/** Parses `HOST/PATH=URL,URL`; throws {@linkcode UsageError} naming what is wrong. */
export function parseProxyRule(rule: string): ProxyRule {
  const equals = rule.indexOf("=");
  const format = `should be HOST/PATH=URL1,URL2 (HOST may be empty; PATH* is a prefix)`;
  if (equals < 0) throw new UsageError(`--rule "${rule}" has no "=": it ${format}`);
  const target = rule.slice(0, equals);
  const slash = target.indexOf("/");
  if (slash < 0) throw new UsageError(`--rule "${rule}" has no path: it ${format}`);
  const host = target.slice(0, slash);
  const path = target.slice(slash);
  const urls = rule.slice(equals + 1).split(",").filter((url) => url !== "");
  if (urls.length === 0) throw new UsageError(`--rule "${rule}" has no URL: it ${format}`);
  for (const url of urls) {
    if (!/^https?:\/\/[^/]/.test(url)) {
      throw new UsageError(`--rule "${rule}": "${url}" is not an http:// or https:// URL`);
    }
  }
  const match = path.endsWith("*") ? { pathPrefix: path.slice(0, -1) } : { path };
  return { host, match, urls };
}

/** The port as a number; throws {@linkcode UsageError} when it is missing or not a port. */
function portOf(value: string | undefined): number {
  if (value === undefined) throw new UsageError("--port is required");
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) {
    throw new UsageError(`--port "${value}" is not a port (1-65535)`);
  }
  return port;
}

/** What is read from files for TLS, base64 encoded, keyed as egctl keys them. */
interface TlsFiles {
  readonly certs: Record<string, string>;
  readonly keys: Record<string, string>;
  readonly caCertBase64?: string;
}

async function readTlsFiles(flags: OwnFlags): Promise<TlsFiles> {
  if (flags.certFile.length !== flags.keyFile.length) {
    throw new UsageError(
      `--cert-file and --key-file go in pairs: ${flags.certFile.length} against ` +
        `${flags.keyFile.length}`,
    );
  }
  const read = async (path: string) => {
    try {
      return await Deno.readFile(path);
    } catch (error) {
      throw new CtlError(`cannot read ${path}: ${fileErrorReason(error)}`);
    }
  };
  // Checked before anything is sent: the node would refuse the HTTPServer only after
  // its Pipelines were created.
  const problems: string[] = [];
  const certs: Record<string, string> = {};
  const keys: Record<string, string> = {};
  for (const [i, certFile] of flags.certFile.entries()) {
    const cert = await read(certFile);
    const key = await read(flags.keyFile[i]);
    const pair = keyPairProblems(
      `--cert-file ${certFile}`,
      new TextDecoder().decode(cert),
      `--key-file ${flags.keyFile[i]}`,
      new TextDecoder().decode(key),
    );
    problems.push(...pair.map(([file, problem]) => `${file} ${problem}`));
    certs[certFile] = cert.toBase64();
    keys[certFile] = key.toBase64();
  }
  let caCertBase64: string | undefined;
  if (flags.caCertFile !== undefined) {
    const ca = await read(flags.caCertFile);
    const problem = pemProblem(new TextDecoder().decode(ca), "certificate");
    if (problem !== undefined) problems.push(`--ca-cert-file ${flags.caCertFile} ${problem}`);
    caCertBase64 = ca.toBase64();
  }
  if (problems.length > 0) throw new CtlError(`${problems.join("; ")}; nothing was sent`);
  return { certs, keys, caCertBase64 };
}

/** The HTTPServer and Pipelines `create httpproxy NAME` makes from its flags. */
export async function httpProxySpecs(
  name: string,
  flags: OwnFlags,
): Promise<{ server: Spec; pipelines: Spec[] }> {
  const port = portOf(flags.port);
  if (flags.rule.length === 0) throw new UsageError("at least one --rule is required");
  const rules = flags.rule.map(parseProxyRule);
  const tlsAsked = flags.tls || flags.autoCert || flags.certFile.length > 0;
  if (tlsAsked && !flags.tls) {
    throw new UsageError("--auto-cert, --cert-file and --key-file need --tls");
  }
  if (flags.tls && !flags.autoCert && flags.certFile.length === 0) {
    // The node would refuse the HTTPServer only after its Pipelines were created.
    throw new UsageError("--tls needs a certificate: --cert-file with --key-file, or --auto-cert");
  }
  const pipelines = rules.map((rule, i) => ({
    name: `${name}-pipeline-${i}`,
    kind: "Pipeline",
    filters: [{
      name: "proxy",
      kind: "Proxy",
      pools: [{
        servers: rule.urls.map((url) => ({ url })),
        loadBalance: { policy: "roundRobin" },
      }],
    }],
  }));
  const serverRules: { host?: string; paths: Spec[] }[] = [];
  rules.forEach((rule, i) => {
    const path = { ...rule.match, backend: pipelines[i].name };
    const last = serverRules.at(-1);
    if (last && (last.host ?? "") === rule.host) last.paths.push(path);
    else serverRules.push({ ...(rule.host ? { host: rule.host } : {}), paths: [path] });
  });
  const server: Spec = { name: `${name}-server`, kind: "HTTPServer", port, rules: serverRules };
  if (flags.tls) {
    const files = await readTlsFiles(flags);
    server.https = true;
    if (flags.autoCert) server.autoCert = true;
    if (files.caCertBase64) server.caCertBase64 = files.caCertBase64;
    server.certs = files.certs;
    server.keys = files.keys;
  }
  return { server, pipelines };
}
