/**
 * The CertExtractor filter, as Easegress's: one name field (subject or
 * issuer) of one certificate of the client's TLS chain becomes a request
 * header, a header value for each of the field's values. `certIndex`
 * counts from the leaf (0), or from the end when negative; it wraps around
 * the chain's length. A request without client certificates (an HTTPServer
 * without `caCertBase64`) goes on unchanged.
 *
 * @module
 */

import type { Context } from "./context.ts";
import type { FilterInstance, FilterKind } from "./filter.ts";
import { NAME_FIELDS, type NameField } from "./peer_certificate.ts";
import { SpecReader } from "./spec.ts";
import { headerNameProblem, toHeaderValue } from "./header_adapt.ts";

/** The CertExtractor spec, normalized. */
export interface CertExtractorSpec {
  certIndex: number;
  target: "subject" | "issuer";
  field: NameField;
  headerKey: string;
}

function validate(raw: Record<string, unknown>): CertExtractorSpec {
  const r = SpecReader.root(raw);
  const certIndex = r.int("certIndex", { default: 0, min: -32768, max: 32767 });
  const target = r.string("target", { required: true, oneOf: ["subject", "issuer"] }) ?? "subject";
  const field = r.string("field", { required: true, oneOf: NAME_FIELDS }) ?? "CommonName";
  const headerKey = r.string("headerKey") || `tls-${target}-${field}`;
  const problem = headerNameProblem(headerKey);
  if (problem) r.problem("headerKey", problem);
  r.finish();
  r.throwIfProblems();
  return {
    certIndex,
    target: target as CertExtractorSpec["target"],
    field: field as NameField,
    headerKey,
  };
}

class CertExtractor implements FilterInstance {
  readonly #spec: CertExtractorSpec;

  constructor(spec: CertExtractorSpec) {
    this.#spec = spec;
  }

  handle(ctx: Context): string {
    const chain = ctx.peerCertificates;
    if (chain.length === 0 || ctx.request === undefined) return "";
    // Go's modulo keeps the sign: -1 % n is -1, so negative indexes count from the end.
    let index = this.#spec.certIndex % chain.length;
    if (index < 0) index += chain.length;
    const values = chain[index][this.#spec.target][this.#spec.field] ?? [];
    const headers = ctx.request.headers;
    for (const value of values) {
      if (value !== "") headers.append(this.#spec.headerKey, toHeaderValue(value));
    }
    return "";
  }
}

/** The CertExtractor filter kind. */
export const certExtractorKind: FilterKind<CertExtractorSpec> = {
  kind: "CertExtractor",
  description: "CertExtractor puts a field of the client's TLS certificate into a request header.",
  results: [],
  validate,
  create(spec: CertExtractorSpec): FilterInstance {
    return new CertExtractor(spec);
  },
};
