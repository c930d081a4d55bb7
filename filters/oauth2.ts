/**
 * OAuth2 bearer-token validation for the Validator filter: either RFC 7662
 * token introspection at an authorization server, or local verification of
 * an HMAC-signed JWT. On success the request gets `X-Authenticated-Userid`
 * (the token's `sub`) and `X-Authenticated-Scope` (its `scope`), each only
 * when the token has it.
 *
 * @module
 */

import { request as httpsRequest } from "node:https";
import type { HttpRequest } from "./context.ts";
import { toHeaderValue } from "./header_adapt.ts";
import { type HmacJwtSpec, JwtVerifier, readHmacJwtSpec } from "./jwt.ts";
import type { SpecReader } from "./spec.ts";

/** Where and how to introspect tokens. */
export interface TokenIntrospectSpec {
  /** The introspection endpoint, an http(s) URL. */
  endPoint: string;
  /** Sent as `client_id` in the form, with `client_secret`. */
  clientId?: string;
  /** Sent as `client_secret` when `clientId` is set. */
  clientSecret?: string;
  /** Base64 `user:password` for `Authorization: Basic`, used when `clientId` is not. */
  basicAuth?: string;
  /**
   * Whether an https endpoint's certificate goes unchecked, as Go's
   * InsecureSkipVerify (a server with a self-signed certificate, say).
   */
  insecureTls: boolean;
}

/** The `oauth2` part of a Validator spec: exactly one of the two. */
export interface OAuth2Spec {
  /** Ask an authorization server about each token. */
  tokenIntrospect?: TokenIntrospectSpec;
  /** Verify tokens as HMAC-signed JWTs. */
  jwt?: HmacJwtSpec;
}

const HTTP_URL = /^https?:\/\/[^\s/?#]+[^\s]*$/;

function readTokenIntrospect(r: SpecReader): TokenIntrospectSpec {
  const spec: TokenIntrospectSpec = {
    endPoint: r.string("endPoint", {
      required: true,
      pattern: HTTP_URL,
      patternName: "an http(s) URL",
    }) ?? "",
    insecureTls: r.bool("insecureTls", false),
  };
  const clientId = r.string("clientId");
  const clientSecret = r.string("clientSecret");
  const basicAuth = r.string("basicAuth");
  if (clientId) spec.clientId = clientId;
  if (clientSecret) spec.clientSecret = clientSecret;
  if (basicAuth) spec.basicAuth = basicAuth;
  return spec;
}

/** Reads the `oauth2` part of a Validator spec at `r`. */
export function readOAuth2Spec(r: SpecReader): OAuth2Spec {
  const spec: OAuth2Spec = {};
  const introspect = r.object("tokenIntrospect", readTokenIntrospect);
  const jwt = r.object("jwt", readHmacJwtSpec);
  if (introspect) spec.tokenIntrospect = introspect;
  if (jwt) spec.jwt = jwt;
  if (!introspect === !jwt) r.problem("", "needs exactly one of tokenIntrospect or jwt");
  return spec;
}

/** How long one introspection request may take. */
const INTROSPECT_TIMEOUT_MS = 10_000;
const BEARER = "Bearer ";

/**
 * The token of an Authorization header (its first field, as Go's
 * `Header.Get`) that starts with exactly "Bearer ", as Easegress's JWT and
 * OAuth2 validators want it: the rest as it is ("Bearer  x" gives " x", which
 * no check accepts). Undefined for any other header or none.
 */
export function bearerToken(authorization: string | null): string | undefined {
  return authorization?.startsWith(BEARER) ? authorization.slice(BEARER.length) : undefined;
}

/**
 * Why an Authorization header is not what was expected, naming only its
 * scheme: the credentials after it must never reach a log.
 */
export function unexpectedAuthorization(authorization: string | null, expected: string): string {
  if (!authorization) return `missing Authorization header, expected ${expected}`;
  const scheme = authorization.split(" ", 1)[0];
  return `unexpected Authorization scheme "${scheme.slice(0, 32)}", expected ${expected}`;
}

/** An introspection endpoint's answer: its status and body text. */
interface IntrospectAnswer {
  status: number;
  text: string;
}

/**
 * POSTs `body` to an https `url` without checking the server's certificate,
 * as Easegress's client with `insecureTls` does. `fetch` checks every
 * certificate (Deno skips checks only process-wide), the node:https client
 * can skip them for one request.
 */
function postSkippingVerification(
  url: string,
  headers: Headers,
  body: string,
  signal: AbortSignal,
): Promise<IntrospectAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, {
      method: "POST",
      headers: Object.fromEntries(headers),
      rejectUnauthorized: false,
    }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => text += chunk);
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      res.on("error", reject);
    });
    // Settled at once: the runtime's client may not end a destroyed request's
    // wait for its answer until the server sends it.
    const abort = () => {
      reject(signal.reason);
      req.destroy();
    };
    if (signal.aborted) abort();
    else signal.addEventListener("abort", abort, { once: true });
    req.on("error", reject);
    req.on("close", () => signal.removeEventListener("abort", abort));
    req.end(body);
  });
}

/** What a valid token says about its owner. */
interface TokenInfo {
  subject: string;
  scope: string;
}

function stringClaim(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/**
 * Sets `name` to `value`, or, as Easegress sets it only with a value,
 * deletes it when `value` is empty: the upstream gets no empty field, and
 * never one the client sent in its place.
 */
function setOrDelete(headers: Headers, name: string, value: string): void {
  if (value) headers.set(name, toHeaderValue(value));
  else headers.delete(name);
}

/** Validates bearer tokens as an {@linkcode OAuth2Spec} says. */
export class OAuth2Validator {
  readonly #introspect: TokenIntrospectSpec | undefined;
  readonly #jwt: JwtVerifier | undefined;

  /** Prepares `spec` (read by {@linkcode readOAuth2Spec}); JWT keys are imported once. */
  constructor(spec: OAuth2Spec) {
    this.#introspect = spec.tokenIntrospect;
    this.#jwt = spec.jwt ? JwtVerifier.fromSpec(spec.jwt) : undefined;
  }

  /**
   * Checks the request's bearer token and, when it is valid, sets the
   * authenticated user and scope headers. Throws an Error saying why not.
   * `signal` aborts an introspection in flight.
   */
  async validate(req: HttpRequest, signal: AbortSignal): Promise<void> {
    const authorization = req.firstHeader("authorization");
    const token = bearerToken(authorization);
    if (token === undefined) {
      throw new Error(unexpectedAuthorization(authorization, "Bearer"));
    }
    const info = this.#jwt ? await this.#byJwt(token) : await this.#byIntrospection(token, signal);
    const headers = req.headers;
    setOrDelete(headers, "X-Authenticated-Userid", info.subject);
    setOrDelete(headers, "X-Authenticated-Scope", info.scope);
  }

  async #byJwt(token: string): Promise<TokenInfo> {
    const claims = await this.#jwt!.verify(token);
    return { subject: stringClaim(claims.sub), scope: stringClaim(claims.scope) };
  }

  async #byIntrospection(token: string, signal: AbortSignal): Promise<TokenInfo> {
    const spec = this.#introspect!;
    const form = new URLSearchParams({ token });
    const headers = new Headers({ "content-type": "application/x-www-form-urlencoded" });
    if (spec.clientId) {
      form.set("client_id", spec.clientId);
      form.set("client_secret", spec.clientSecret ?? "");
    } else if (spec.basicAuth) {
      headers.set("authorization", `Basic ${spec.basicAuth}`);
    }
    const timeout = new AbortController();
    const timer = setTimeout(
      () => timeout.abort(new Error("token introspection timed out")),
      INTROSPECT_TIMEOUT_MS,
    );
    let body: unknown;
    try {
      const either = AbortSignal.any([signal, timeout.signal]);
      let answer: IntrospectAnswer;
      if (spec.insecureTls && spec.endPoint.startsWith("https:")) {
        answer = await postSkippingVerification(spec.endPoint, headers, form.toString(), either);
      } else {
        const response = await fetch(spec.endPoint, {
          method: "POST",
          headers,
          body: form,
          signal: either,
        });
        if (!response.ok) await response.body?.cancel();
        answer = { status: response.status, text: response.ok ? await response.text() : "" };
      }
      if (answer.status < 200 || answer.status > 299) {
        throw new Error(`token introspection answered ${answer.status}`);
      }
      body = JSON.parse(answer.text);
    } finally {
      clearTimeout(timer);
    }
    if (typeof body !== "object" || body === null) {
      throw new Error("token introspection answered no JSON object");
    }
    const info = body as Record<string, unknown>;
    if (info.error !== undefined && info.error !== null && info.error !== "") {
      const description = stringClaim(info.error_description);
      throw new Error(
        `token introspection error: ${String(info.error)}${description ? `: ${description}` : ""}`,
      );
    }
    if (info.active !== true) throw new Error("token is not active");
    return { subject: stringClaim(info.sub), scope: stringClaim(info.scope) };
  }
}
