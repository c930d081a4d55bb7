/**
 * Go's `http.DetectContentType` (the WHATWG MIME sniffing subset Go's
 * net/http implements) and the rule by which Go's server applies it: a
 * response with a body but no Content-Type (nor Content-Encoding or
 * Transfer-Encoding) gets the sniffed type, as Easegress's clients see it
 * for a Mock, a ResponseBuilder or a Fallback that sets none.
 *
 * @module
 */

import type { HttpResponse } from "./context.ts";
import { isBodilessStatus } from "./status_text.ts";

/** How many leading bytes are looked at. */
const SNIFF_LEN = 512;

const bytesOf = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

type Sig = (data: Uint8Array, firstNonWS: number) => string;

function exact(sig: string, ct: string): Sig {
  const pat = bytesOf(sig);
  return (data) => {
    if (data.length < pat.length) return "";
    for (let i = 0; i < pat.length; i++) if (data[i] !== pat[i]) return "";
    return ct;
  };
}

function masked(mask: string, sig: string, ct: string, skipWS = false): Sig {
  const m = bytesOf(mask);
  const pat = bytesOf(sig);
  return (data, firstNonWS) => {
    const from = skipWS ? firstNonWS : 0;
    if (data.length - from < pat.length) return "";
    for (let i = 0; i < pat.length; i++) if ((data[from + i] & m[i]) !== pat[i]) return "";
    return ct;
  };
}

const isTagEnd = (b: number) => b === 0x20 || b === 0x3e; // " " or ">"

function html(sig: string): Sig {
  const pat = bytesOf(sig);
  return (data, firstNonWS) => {
    if (data.length - firstNonWS < pat.length + 1) return "";
    for (let i = 0; i < pat.length; i++) {
      const b = pat[i];
      let db = data[firstNonWS + i];
      if (b >= 0x41 && b <= 0x5a) db &= 0xdf; // the pattern's letters match either case
      if (b !== db) return "";
    }
    return isTagEnd(data[firstNonWS + pat.length]) ? "text/html; charset=utf-8" : "";
  };
}

const mp4: Sig = (data) => {
  if (data.length < 12) return "";
  const boxSize = new DataView(data.buffer, data.byteOffset, 4).getUint32(0);
  if (data.length < boxSize || boxSize % 4 !== 0) return "";
  // The box type must be "ftyp".
  if (data[4] !== 0x66 || data[5] !== 0x74 || data[6] !== 0x79 || data[7] !== 0x70) return "";
  for (let st = 8; st < boxSize; st += 4) {
    if (st === 12) continue; // the major brand's version
    if (data[st] === 0x6d && data[st + 1] === 0x70 && data[st + 2] === 0x34) return "video/mp4";
  }
  return "";
};

const text: Sig = (data, firstNonWS) => {
  for (let i = firstNonWS; i < data.length; i++) {
    const b = data[i];
    if (b <= 0x08 || b === 0x0b || (b >= 0x0e && b <= 0x1a) || (b >= 0x1c && b <= 0x1f)) return "";
  }
  return "text/plain; charset=utf-8";
};

// Go's sniffSignatures, in its order.
const SIGNATURES: readonly Sig[] = [
  ...[
    "<!DOCTYPE HTML",
    "<HTML",
    "<HEAD",
    "<SCRIPT",
    "<IFRAME",
    "<H1",
    "<DIV",
    "<FONT",
    "<TABLE",
    "<A",
    "<STYLE",
    "<TITLE",
    "<B",
    "<BODY",
    "<BR",
    "<P",
    "<!--",
  ].map(html),
  masked("\xFF\xFF\xFF\xFF\xFF", "<?xml", "text/xml; charset=utf-8", true),
  exact("%PDF-", "application/pdf"),
  exact("%!PS-Adobe-", "application/postscript"),
  masked("\xFF\xFF\x00\x00", "\xFE\xFF\x00\x00", "text/plain; charset=utf-16be"),
  masked("\xFF\xFF\x00\x00", "\xFF\xFE\x00\x00", "text/plain; charset=utf-16le"),
  masked("\xFF\xFF\xFF\x00", "\xEF\xBB\xBF\x00", "text/plain; charset=utf-8"),
  exact("\x00\x00\x01\x00", "image/x-icon"),
  exact("\x00\x00\x02\x00", "image/x-icon"),
  exact("BM", "image/bmp"),
  exact("GIF87a", "image/gif"),
  exact("GIF89a", "image/gif"),
  masked(
    "\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF\xFF\xFF",
    "RIFF\x00\x00\x00\x00WEBPVP",
    "image/webp",
  ),
  exact("\x89PNG\x0D\x0A\x1A\x0A", "image/png"),
  exact("\xFF\xD8\xFF", "image/jpeg"),
  masked("\xFF\xFF\xFF\xFF", ".snd", "audio/basic"),
  masked(
    "\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF",
    "FORM\x00\x00\x00\x00AIFF",
    "audio/aiff",
  ),
  masked("\xFF\xFF\xFF", "ID3", "audio/mpeg"),
  masked("\xFF\xFF\xFF\xFF\xFF", "OggS\x00", "application/ogg"),
  masked("\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF", "MThd\x00\x00\x00\x06", "audio/midi"),
  masked(
    "\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF",
    "RIFF\x00\x00\x00\x00AVI ",
    "video/avi",
  ),
  masked(
    "\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF",
    "RIFF\x00\x00\x00\x00WAVE",
    "audio/wave",
  ),
  mp4,
  exact("\x1A\x45\xDF\xA3", "video/webm"),
  masked("\x00".repeat(34) + "\xFF\xFF", "\x00".repeat(34) + "LP", "application/vnd.ms-fontobject"),
  exact("\x00\x01\x00\x00", "font/ttf"),
  exact("OTTO", "font/otf"),
  exact("ttcf", "font/collection"),
  exact("wOFF", "font/woff"),
  exact("wOF2", "font/woff2"),
  exact("\x1F\x8B\x08", "application/x-gzip"),
  exact("PK\x03\x04", "application/zip"),
  exact("Rar!\x1A\x07\x00", "application/x-rar-compressed"),
  exact("Rar!\x1A\x07\x01\x00", "application/x-rar-compressed"),
  exact("\x00\x61\x73\x6D", "application/wasm"),
  text,
];

const isWS = (b: number) => b === 0x09 || b === 0x0a || b === 0x0c || b === 0x0d || b === 0x20;

/** Go's `http.DetectContentType`: the media type of `data`, "application/octet-stream" at worst. */
export function detectContentType(data: Uint8Array): string {
  if (data.length > SNIFF_LEN) data = data.subarray(0, SNIFF_LEN);
  let firstNonWS = 0;
  while (firstNonWS < data.length && isWS(data[firstNonWS])) firstNonWS++;
  for (const sig of SIGNATURES) {
    const ct = sig(data, firstNonWS);
    if (ct) return ct;
  }
  return "application/octet-stream";
}

/**
 * Sets the sniffed Content-Type on a response Go's server would sniff: no
 * Content-Type, Content-Encoding or Transfer-Encoding, a status with a body,
 * and a non-empty body in memory. A streamed body is left alone: sniffing
 * it would hold its first bytes back.
 */
export function setSniffedContentType(response: HttpResponse): void {
  const headers = response.rawHeaders;
  if (headers.has("content-type") || isBodilessStatus(response.status)) return;
  if (headers.get("content-encoding") || headers.has("transfer-encoding")) return;
  const body = response.bufferedBody;
  if (body === undefined || body.length === 0) return;
  response.headers.set("content-type", detectContentType(body));
}
