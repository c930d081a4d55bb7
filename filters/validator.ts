/**
 * The Validator filter: checks the request's headers, JWT, OAuth2 token and
 * Basic credentials, in that order. The first failure answers 400 (headers)
 * or 401 (the others) with an empty body and returns `invalid`.
 *
 * @module
 */

import { type Context, type HttpRequest, HttpResponse } from "./context.ts";
import type { FilterEnv, FilterInstance, FilterKind } from "./filter.ts";
import { headerNameProblem, headerValueText, toHeaderValue } from "./header_adapt.ts";
import { HeaderFields } from "./header_fields.ts";
import { HtpasswdFile } from "./htpasswd.ts";
import { requestCookie } from "./go_cookies.ts";
import { customDataPrefix, CustomDataUsers } from "./custom_data_users.ts";
import { type JwtSpec, JwtVerifier, readJwtSpec } from "./jwt.ts";
import {
  bearerToken,
  type OAuth2Spec,
  OAuth2Validator,
  readOAuth2Spec,
  unexpectedAuthorization,
} from "./oauth2.ts";
import { readSignatureSpec, type SignatureSpec, SignatureVerifier } from "./signature.ts";
import { SpecReader } from "./spec.ts";
import { compileGoRegexp } from "./go_regexp.ts";

/** What one header must hold: one of `values`, or a match of `regexp`. */
export interface HeaderRuleSpec {
  /** Accepted values. */
  values?: string[];
  /** A Go regular expression the value must match (anywhere). */
  regexp?: string;
}

/**
 * The `jwt` part: tokens from a cookie or an `Authorization: Bearer` header,
 * checked with a secret (HS algorithms) or a public key (RS, ES, EdDSA).
 */
export type JwtValidatorSpec = JwtSpec & {
  /** Take the token from this cookie when present. */
  cookieName?: string;
};

/** The `basicAuth` part: users from an htpasswd file, or from custom data. */
export type BasicAuthSpec =
  | {
    mode: "FILE";
    /** The htpasswd file. @default {"/etc/apache2/.htpasswd"} */
    userFile: string;
  }
  | {
    mode: "ETCD";
    /** The custom data items holding `{key, username?, password}`, as `<kind>/`. @default {"credentials/"} */
    etcdPrefix: string;
  };

/** The Validator spec, normalized: absent methods are not checked. */
export interface ValidatorSpec {
  /** Header name to rule; a missing header fails. */
  headers?: Record<string, HeaderRuleSpec>;
  /** JWT validation. */
  jwt?: JwtValidatorSpec;
  /** AWS SigV4-style request signature verification. */
  signature?: SignatureSpec;
  /** OAuth2 bearer-token validation. */
  oauth2?: OAuth2Spec;
  /** HTTP Basic authentication. */
  basicAuth?: BasicAuthSpec;
}

/** The request failed a check; a 400 or 401 response was built. */
export const RESULT_INVALID = "invalid";

/** The default htpasswd file, as in Easegress. */
export const DEFAULT_USER_FILE = "/etc/apache2/.htpasswd";
/** How often the htpasswd file is checked for changes. */
const USER_FILE_POLL_MS = 5_000;

function readHeaderRule(r: SpecReader, name: string): HeaderRuleSpec {
  const problem = headerNameProblem(name);
  if (problem) r.problem("", problem);
  const rule: HeaderRuleSpec = {};
  const values = r.stringArray("values");
  const regexp = r.regexp("regexp");
  if (values?.length) rule.values = values;
  if (regexp) rule.regexp = regexp;
  if (!rule.values && !rule.regexp) r.problem("", "needs values or regexp");
  return rule;
}

function readJwt(r: SpecReader): JwtValidatorSpec {
  const spec: JwtValidatorSpec = readJwtSpec(r);
  const cookieName = r.string("cookieName");
  if (cookieName) spec.cookieName = cookieName;
  return spec;
}

function readBasicAuth(r: SpecReader): BasicAuthSpec {
  const mode = r.string("mode", { default: "FILE", oneOf: ["FILE", "ETCD"] });
  const userFile = r.string("userFile") || DEFAULT_USER_FILE;
  const etcdPrefix = r.string("etcdPrefix");
  if (mode === "ETCD") return { mode, etcdPrefix: customDataPrefix(etcdPrefix || "credentials/") };
  if (etcdPrefix) r.problem("etcdPrefix", "is only used with mode ETCD");
  return { mode: "FILE", userFile };
}

function validate(raw: Record<string, unknown>): ValidatorSpec {
  const r = SpecReader.root(raw);
  const spec: ValidatorSpec = {};
  const headers = r.map("headers", readHeaderRule);
  if (headers) {
    if (Object.keys(headers).length) spec.headers = headers;
    else r.problem("headers", "must name at least one header");
  }
  const jwt = r.object("jwt", readJwt);
  if (jwt) spec.jwt = jwt;
  const signature = r.object("signature", readSignatureSpec);
  if (signature) spec.signature = signature;
  const oauth2 = r.object("oauth2", readOAuth2Spec);
  if (oauth2) spec.oauth2 = oauth2;
  const basicAuth = r.object("basicAuth", readBasicAuth);
  if (basicAuth) spec.basicAuth = basicAuth;
  if (!Object.keys(spec).length && !r.problems.length) {
    r.problem("", "needs at least one of headers, jwt, signature, oauth2, basicAuth");
  }
  r.finish();
  r.throwIfProblems();
  return spec;
}

/** One compiled header rule. */
interface HeaderCheck {
  /** As the spec spells it, for messages. */
  readonly name: string;
  /** Lower case, as header lookups want it: lowered once here, not per request. */
  readonly key: string;
  readonly values: ReadonlySet<string>;
  readonly regexp: RegExp | undefined;
}

function valuePasses(check: HeaderCheck, raw: string): boolean {
  // Go compares the UTF-8 bytes; the spec's values and regexp are text.
  const value = headerValueText(raw);
  return check.values.has(value) || (check.regexp !== undefined && check.regexp.test(value));
}

/**
 * Why the headers fail `checks`, or "" when they pass. As in Easegress,
 * the first of repeated fields decides (an empty one is checked like any
 * other). Web Headers, which join repeated fields with ", ", pass when the
 * joined value or else its first part does.
 */
function headersProblem(checks: readonly HeaderCheck[], headers: Headers): string {
  const fields = headers instanceof HeaderFields ? headers : undefined;
  for (const check of checks) {
    const value = fields ? fields.first(check.key) : headers.get(check.key);
    if (value === null) return `header ${check.name} not found`;
    if (valuePasses(check, value)) continue;
    const comma = fields ? -1 : value.indexOf(", ");
    if (comma >= 0 && valuePasses(check, value.slice(0, comma))) continue;
    return `header ${check.name} is invalid`;
  }
  return "";
}

const BASIC = /^basic +/i;
const utf8 = new TextDecoder();

/** The user and password of an `Authorization: Basic` header; throws when malformed. */
export function basicCredentials(authorization: string | null): [string, string] {
  const m = authorization ? BASIC.exec(authorization) : null;
  if (!m) throw new Error(unexpectedAuthorization(authorization, "Basic"));
  let decoded: string;
  try {
    decoded = utf8.decode(Uint8Array.fromBase64(authorization!.slice(m[0].length).trim()));
  } catch {
    throw new Error("credentials are not base64");
  }
  // RFC 7617: the user ends at the first colon; the password may hold more.
  const colon = decoded.indexOf(":");
  if (colon < 0) throw new Error("credentials are not user:password");
  return [decoded.slice(0, colon), decoded.slice(colon + 1)];
}

/** A failed check: the status to answer and the tag to log. */
class Invalid extends Error {
  constructor(readonly status: number, readonly tag: string) {
    super(tag);
  }
}

function fail(ctx: Context, status: number, tag: string): string {
  ctx.response = new HttpResponse(status);
  ctx.addTag(tag);
  return RESULT_INVALID;
}

class Validator implements FilterInstance {
  readonly #headers: readonly HeaderCheck[];
  readonly #jwt: JwtVerifier | undefined;
  readonly #cookieName: string | undefined;
  readonly #signature: SignatureVerifier | undefined;
  readonly #oauth2: OAuth2Validator | undefined;
  readonly #users: HtpasswdFile | CustomDataUsers | undefined;
  readonly #needsAsync: boolean;

  constructor(spec: ValidatorSpec, env: FilterEnv) {
    this.#headers = Object.entries(spec.headers ?? {}).map(([name, rule]) => ({
      name,
      key: name.toLowerCase(),
      values: new Set(rule.values ?? []),
      regexp: rule.regexp === undefined ? undefined : compileGoRegexp(rule.regexp),
    }));
    this.#jwt = spec.jwt ? JwtVerifier.fromSpec(spec.jwt) : undefined;
    this.#cookieName = spec.jwt?.cookieName;
    this.#signature = spec.signature ? new SignatureVerifier(spec.signature) : undefined;
    this.#oauth2 = spec.oauth2 ? new OAuth2Validator(spec.oauth2) : undefined;
    if (spec.basicAuth?.mode === "FILE") {
      const file = this.#users = new HtpasswdFile(spec.basicAuth.userFile, env.log);
      file.watch(USER_FILE_POLL_MS);
    } else if (spec.basicAuth?.mode === "ETCD") {
      this.#users = new CustomDataUsers(env.customData, spec.basicAuth.etcdPrefix, env.log);
    }
    this.#needsAsync = !!(this.#jwt || this.#signature || this.#oauth2 || this.#users);
  }

  handle(ctx: Context): string | Promise<string> {
    const req = ctx.request;
    if (this.#headers.length) {
      const problem = headersProblem(this.#headers, req.rawHeaders);
      if (problem) return fail(ctx, 400, `header validator: ${problem}`);
    }
    return this.#needsAsync ? this.#handleAuth(ctx, req) : "";
  }

  async #handleAuth(ctx: Context, req: HttpRequest): Promise<string> {
    try {
      if (this.#jwt) await this.#checkJwt(req);
      if (this.#signature) await this.#check("signature validator", this.#signature.verify(req));
      if (this.#oauth2) {
        await this.#check("oauth2 validator", this.#oauth2.validate(req, ctx.signal));
      }
      if (this.#users) await this.#checkBasicAuth(req);
    } catch (e) {
      if (e instanceof Invalid) return fail(ctx, e.status, e.tag);
      throw e;
    }
    return "";
  }

  async #check(name: string, check: Promise<unknown>): Promise<void> {
    try {
      await check;
    } catch (e) {
      throw new Invalid(401, `${name}: ${(e as Error).message}`);
    }
  }

  #checkJwt(req: HttpRequest): Promise<void> {
    let token = this.#cookieName ? requestCookie(req.cookieHeader(), this.#cookieName) : "";
    if (!token) {
      const authorization = req.firstHeader("authorization");
      const bearer = bearerToken(authorization);
      if (bearer === undefined) {
        const tag = `JWT validator: ${unexpectedAuthorization(authorization, "Bearer")}`;
        return Promise.reject(new Invalid(401, tag));
      }
      token = bearer;
    }
    return this.#check("JWT validator", this.#jwt!.verify(token));
  }

  async #checkBasicAuth(req: HttpRequest): Promise<void> {
    const name = "http basic validator";
    let user: string, password: string;
    try {
      [user, password] = basicCredentials(req.firstHeader("authorization"));
    } catch (e) {
      throw new Invalid(401, `${name}: ${(e as Error).message}`);
    }
    if (!await this.#users!.verify(user, password)) throw new Invalid(401, `${name}: unauthorized`);
    req.headers.set("X-AUTH-USER", toHeaderValue(user));
  }

  async close(): Promise<void> {
    await this.#users?.close();
  }
}

/** The Validator filter kind. */
export const validatorKind: FilterKind<ValidatorSpec> = {
  kind: "Validator",
  description: "Validator checks request headers, JWT, OAuth2 tokens and Basic credentials.",
  results: [RESULT_INVALID],
  validate,
  create(spec: ValidatorSpec, env: FilterEnv): FilterInstance {
    return new Validator(spec, env);
  },
};
