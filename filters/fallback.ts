/**
 * The Fallback filter, as Easegress's: the active namespace's response
 * becomes a fixed one (`mockCode`, `mockHeaders` set over its headers,
 * `mockBody`), typically after a Proxy result such as `shortCircuited`
 * jumps here. It always returns `fallback`, so the flow ends unless the
 * result is mapped.
 *
 * @module
 */

import { type Context, HttpResponse } from "./context.ts";
import type { FilterInstance, FilterKind } from "./filter.ts";
import { fixContentLength } from "./gzip.ts";
import { readHeaderMap, toHeaderValue } from "./header_adapt.ts";
import { SpecReader } from "./spec.ts";
import { isBodilessStatus } from "./status_text.ts";

/** The Fallback spec, normalized. */
export interface FallbackSpec {
  /** The status the response gets, 100..599. */
  mockCode: number;
  /** Headers set on the response. */
  mockHeaders?: Record<string, string>;
  /** The body the response gets ("" for none). */
  mockBody: string;
}

/** The response was replaced. */
export const RESULT_FALLBACK = "fallback";
/** Declared as Easegress does; never returned: with no response, one is made. */
export const RESULT_RESPONSE_NOT_FOUND = "responseNotFound";

function validate(raw: Record<string, unknown>): FallbackSpec {
  const r = SpecReader.root(raw);
  const spec: FallbackSpec = {
    mockCode: r.int("mockCode", { required: true, min: 100, max: 599 }) ?? 0,
    mockBody: r.string("mockBody") ?? "",
  };
  const headers = readHeaderMap(r, "mockHeaders");
  if (headers && Object.keys(headers).length) spec.mockHeaders = headers;
  r.finish();
  r.throwIfProblems();
  return spec;
}

class Fallback implements FilterInstance {
  readonly #code: number;
  readonly #headers: readonly (readonly [string, string])[];
  readonly #body: Uint8Array | null;

  constructor(spec: FallbackSpec) {
    this.#code = spec.mockCode;
    this.#headers = Object.entries(spec.mockHeaders ?? {}).map(
      ([name, value]) => [name, toHeaderValue(value)] as const,
    );
    this.#body = isBodilessStatus(spec.mockCode) ? null : new TextEncoder().encode(spec.mockBody);
  }

  handle(ctx: Context): string {
    // Easegress fails here without a response; the fallback answer is what is wanted.
    const response = ctx.response ??= new HttpResponse(this.#code);
    response.status = this.#code;
    const old = response.body;
    if (old instanceof ReadableStream) old.cancel().catch(() => {});
    response.body = this.#body;
    const headers = response.headers;
    // The new body is plain: what described the old one's coding goes with it.
    headers.delete("content-encoding");
    for (const [name, value] of this.#headers) headers.set(name, value);
    if (this.#body === null) {
      headers.delete("content-length");
      headers.delete("transfer-encoding");
    } else fixContentLength(response);
    return RESULT_FALLBACK;
  }
}

/** The Fallback filter kind. */
export const fallbackKind: FilterKind<FallbackSpec> = {
  kind: "Fallback",
  description: "Fallback replaces the response with a fixed one.",
  results: [RESULT_FALLBACK, RESULT_RESPONSE_NOT_FOUND],
  validate,
  create(spec: FallbackSpec): FilterInstance {
    return new Fallback(spec);
  },
};
