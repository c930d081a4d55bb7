/**
 * The checks HTTP/2 and HTTP/3 make of a request's decoded fields (RFC 9113
 * section 8.3, RFC 9114 section 4.3.1): pseudo-header fields first, once
 * each and well-formed (:method a token, :scheme http or https, :authority
 * host[:port], :path origin-form or `*`), regular fields with lower-case
 * names, clean values and nothing connection-specific, Host agreeing with
 * :authority, cookie crumbs joined. Each protocol walks its own field list
 * through one {@linkcode RequestFieldCheck} and builds its own request
 * from what the check gathered.
 *
 * What passes here is safe to put on an HTTP/1.1 request line and head:
 * no value can carry a CR, LF or space into the upstream request, and
 * :path holds ASCII only (bytes past it escaped).
 *
 * @module
 */

import { isToken, knownFieldName } from "../../filters/header_fields.ts";
import { parseContentLength } from "../../filters/proxy/http1_parser.ts";
import {
  CONNECTION_SPECIFIC_FIELDS,
  fieldNameProblem,
  fieldValueProblem,
  isHostField,
} from "./field_rules.ts";
import { shapeAnchor } from "../../filters/shape_anchor.ts";
import { escapeHighBytes } from "../../filters/percent_encoding.ts";

/** The newest check, kept through an idle heap trim (see filters/shape_anchor.ts). */
const CHECK_SHAPE = shapeAnchor();

/**
 * One request's fields, taken in order by {@linkcode field}, then judged
 * whole by {@linkcode finish}. Each problem is thrown as the error
 * `malformed(message)` makes, the protocol's own stream error.
 */
export class RequestFieldCheck {
  /** :method ("" until seen). */
  method = "";
  /** :scheme ("" until seen, and for CONNECT). */
  scheme = "";
  /** :authority ("" when absent). */
  authority = "";
  /**
   * :path as sent, query included, its bytes past ASCII escaped once
   * {@linkcode finish} has passed it ("" until seen, and for CONNECT).
   */
  target = "";
  /** The Host field ("" when absent). */
  host = "";
  /** The cookie crumbs joined with "; " (RFC 9113 section 8.2.3), null when there were none. */
  cookie: string | null = null;
  /** Declared content-length, -1 when there is none. */
  contentLength = -1;
  /** Whether the client sent `expect: 100-continue` (it may hold the body back until a 100). */
  expectContinue = false;
  readonly #malformed: (message: string) => Error;
  #sawRegular = false;
  #sawAuthority = false;
  #sawHost = false;

  constructor(malformed: (message: string) => Error) {
    this.#malformed = malformed;
    CHECK_SHAPE.latest = this;
  }

  /**
   * Takes the next field; true when the caller should keep it as a regular
   * field (cookies are kept back, joined, in {@linkcode cookie}).
   */
  field(name: string, value: string): boolean {
    if (name.charCodeAt(0) === 0x3a) { // ':'
      this.#pseudo(name, value);
      return false;
    }
    this.#sawRegular = true;
    // A common name as the table spells it is valid: no char-by-char check.
    if (knownFieldName(name) !== name) this.#check(fieldNameProblem(name));
    this.#check(fieldValueProblem(name, value));
    if (CONNECTION_SPECIFIC_FIELDS.has(name)) {
      throw this.#malformed(`connection-specific field "${name}"`);
    }
    if (name === "te" && value !== "trailers") {
      throw this.#malformed(`te: ${JSON.stringify(value)} is not "trailers"`);
    }
    if (name === "cookie") {
      this.cookie = this.cookie === null ? value : `${this.cookie}; ${value}`;
      return false;
    }
    if (name === "host") {
      if (this.#sawHost) throw this.#malformed("repeated host");
      this.#checkAuthority(value, "host");
      this.#sawHost = true;
      this.host = value;
    } else if (name === "content-length") {
      const length = parseContentLength(value);
      if (length < 0) {
        throw this.#malformed(`content-length ${JSON.stringify(value)} is not a number`);
      }
      if (this.contentLength >= 0 && length !== this.contentLength) {
        throw this.#malformed("conflicting content-length values");
      }
      this.contentLength = length;
    } else if (name === "expect" && value.toLowerCase() === "100-continue") {
      this.expectContinue = true;
    }
    return true;
  }

  /**
   * Checks what only the whole list can say. A CONNECT request passes with
   * its :authority alone, for the caller to refuse or serve.
   */
  finish(): void {
    const method = this.method;
    if (method === "") throw this.#malformed("missing :method");
    if (method === "CONNECT") {
      if (this.scheme !== "" || this.target !== "") {
        throw this.#malformed("CONNECT with :scheme or :path");
      }
      if (!this.#sawAuthority) throw this.#malformed("CONNECT without :authority");
      return;
    }
    if (this.scheme === "") throw this.#malformed("missing :scheme");
    if (this.scheme !== "https" && this.scheme !== "http") {
      throw this.#malformed(`unsupported :scheme ${JSON.stringify(this.scheme)}`);
    }
    const target = this.target;
    if (target === "") throw this.#malformed("missing :path");
    if (!this.#sawAuthority && !this.#sawHost) throw this.#malformed("missing :authority and host");
    if (this.#sawAuthority && this.#sawHost && this.authority !== this.host) {
      throw this.#malformed(`:authority "${this.authority}" differs from host "${this.host}"`);
    }
    if (target === "*") {
      if (method !== "OPTIONS") throw this.#malformed(`:path "*" with method ${method}`);
      return;
    }
    if (target.charCodeAt(0) !== 0x2f) {
      throw this.#malformed(`:path ${JSON.stringify(target)} does not start with "/"`);
    }
    let highBytes = false;
    for (let i = 0; i < target.length; i++) {
      const code = target.charCodeAt(i);
      if (code <= 0x20 || code === 0x7f || code === 0x23) {
        throw this.#malformed(
          `:path has a character that is not allowed (${JSON.stringify(target[i])})`,
        );
      }
      if (code > 0x7f) highBytes = true;
    }
    // Bytes past ASCII (UTF-8 sent unescaped) go on as their escapes, as over
    // HTTP/1.1 and as Go's servers take them: refused, /café failed here and
    // passed there.
    if (highBytes) this.target = escapeHighBytes(target);
  }

  #pseudo(name: string, value: string): void {
    if (this.#sawRegular) {
      throw this.#malformed(`pseudo-header ${JSON.stringify(name)} after a regular field`);
    }
    switch (name) {
      case ":method":
        if (this.method !== "") throw this.#malformed("repeated :method");
        this.#checkMethod(value);
        this.method = value;
        return;
      case ":scheme":
        if (this.scheme !== "") throw this.#malformed("repeated :scheme");
        if (value === "") throw this.#malformed("empty :scheme");
        this.scheme = value;
        return;
      case ":authority":
        if (this.#sawAuthority) throw this.#malformed("repeated :authority");
        this.#checkAuthority(value, ":authority");
        this.#sawAuthority = true;
        this.authority = value;
        return;
      case ":path":
        if (this.target !== "") throw this.#malformed("repeated :path");
        if (value === "") throw this.#malformed("empty :path");
        this.target = value;
        return;
      case ":protocol":
        throw this.#malformed(":protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL");
      case ":status":
        throw this.#malformed("response pseudo-header :status in a request");
      default:
        throw this.#malformed(`unknown pseudo-header ${JSON.stringify(name)}`);
    }
  }

  #checkMethod(method: string): void {
    if (method.length === 0) throw this.#malformed("empty :method");
    if (!isToken(method)) throw this.#malformed(`:method ${JSON.stringify(method)} is not a token`);
  }

  #checkAuthority(authority: string, field: string): void {
    if (authority === "") throw this.#malformed(`empty ${field}`);
    // An IPv6 address without brackets passes, as over HTTP/1.1 (see isHostField).
    if (!isHostField(authority)) {
      throw this.#malformed(`${field} ${JSON.stringify(authority)} is not host[:port]`);
    }
  }

  #check(problem: string | undefined): void {
    if (problem !== undefined) throw this.#malformed(problem);
  }
}
