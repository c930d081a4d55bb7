/**
 * The AutoCertManager object: certificates from an ACME certificate
 * authority (Let's Encrypt by default) for the domains it lists, served by
 * HTTPServers with `autoCert: true` and renewed before they expire
 * (Easegress v2's spec).
 *
 * @module
 */

import { parseDuration, type SpecReader, urlWithProtocol } from "../../filters/spec.ts";

/** A domain the manager keeps a certificate for. */
export interface AutoCertDomainSpec {
  name: string;
}

/** A normalized AutoCertManager spec. */
export interface AutoCertManagerSpec {
  name: string;
  kind: "AutoCertManager";
  email: string;
  directoryURL: string;
  renewBefore: string;
  enableHTTP01: boolean;
  enableTLSALPN01: boolean;
  enableDNS01: boolean;
  domains: AutoCertDomainSpec[];
}

/** Let's Encrypt's production directory, Easegress's default. */
export const LETS_ENCRYPT_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory";

/**
 * The AutoCertManager that runs among `specs` (other kinds skipped): the
 * first by name, as only one runs; undefined when there is none.
 */
export function runningAutoCertManager(
  specs: readonly { kind: string; name: string }[],
): AutoCertManagerSpec | undefined {
  let first: AutoCertManagerSpec | undefined;
  for (const spec of specs) {
    if (spec.kind !== "AutoCertManager") continue;
    if (first === undefined || spec.name < first.name) first = spec as AutoCertManagerSpec;
  }
  return first;
}

const DNS_NAME =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Reads an AutoCertManager spec at `r` (name and kind already read). */
export function readAutoCertManagerSpec(r: SpecReader, name: string): AutoCertManagerSpec {
  const spec: AutoCertManagerSpec = {
    name,
    kind: "AutoCertManager",
    email: r.string("email", { required: true }) ?? "",
    directoryURL: r.string("directoryURL", { default: LETS_ENCRYPT_DIRECTORY }),
    renewBefore: r.duration("renewBefore", { default: "720h" }),
    enableHTTP01: r.bool("enableHTTP01", true),
    enableTLSALPN01: r.bool("enableTLSALPN01", true),
    enableDNS01: r.bool("enableDNS01", true),
    domains: r.array("domains", readDomain) ?? [],
  };
  if (spec.email !== "" && !/^[^@\s]+@[^@\s]+$/.test(spec.email)) {
    r.problem("email", `must be an email address, got "${spec.email}"`);
  }
  if (!urlWithProtocol(spec.directoryURL, ["https:", "http:"])) {
    r.problem("directoryURL", `must be an http(s) URL, got "${spec.directoryURL}"`);
  }
  if ((parseDuration(spec.renewBefore) ?? 0) <= 0) {
    r.problem("renewBefore", "must be a positive duration such as 720h");
  }
  if (!spec.enableHTTP01) {
    r.problem(
      "enableHTTP01",
      "is the only challenge this node answers (TLS-ALPN-01 and DNS-01 are not supported): " +
        "it cannot be false",
    );
  }
  return spec;
}

function readDomain(r: SpecReader): AutoCertDomainSpec {
  const name = (r.string("name", { required: true }) ?? "").toLowerCase();
  if (name.startsWith("*.")) {
    r.problem(
      "name",
      `"${name}": wildcard names need the DNS-01 challenge, which is not supported`,
    );
  } else if (name !== "" && !DNS_NAME.test(name)) {
    r.problem("name", `"${name}" is not a DNS name`);
  }
  if (r.has("dnsProvider")) {
    r.problem("dnsProvider", "DNS-01 is not supported: domains are proven by HTTP-01");
    r.ignore("dnsProvider");
  }
  return { name };
}
