/**
 * Cross-site request forgery defence for the dashboard's actions, two layers deep:
 * - same origin: a POST whose `Origin` (or, without it, `Sec-Fetch-Site`) names another site is
 *   refused before its form is read;
 * - a signed double-submit token: every page sets an HttpOnly, SameSite=Strict cookie holding
 *   `<nonce>.<HMAC(secret, nonce)>` and puts the same value in its forms; a POST must carry both,
 *   equal, with a valid signature. Another site can neither read the value nor plant a cookie
 *   that verifies (a sibling subdomain can set cookies, but not sign them).
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export const CSRF_COOKIE = "catga-dashboard-csrf";
export const CSRF_FIELD = "csrf";

export class CsrfTokens {
  private readonly secret: Uint8Array;

  constructor(secret: string | Uint8Array | undefined) {
    this.secret = secret === undefined ? randomBytes(32) : Buffer.from(secret);
  }

  private sign(nonce: string): string {
    return createHmac("sha256", this.secret).update(nonce).digest("base64url");
  }

  /** A fresh token. */
  mint(): string {
    const nonce = randomBytes(18).toString("base64url");
    return `${nonce}.${this.sign(nonce)}`;
  }

  /** Whether `token` was minted with this secret. */
  valid(token: string | undefined): token is string {
    if (token === undefined) return false;
    const dot = token.indexOf(".");
    if (dot <= 0) return false;
    const expected = Buffer.from(this.sign(token.slice(0, dot)));
    const given = Buffer.from(token.slice(dot + 1));
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  /** The request's valid cookie token, if it has one. */
  fromCookie(request: IncomingMessage): string | undefined {
    const token = cookie(request, CSRF_COOKIE);
    return this.valid(token) ? token : undefined;
  }

  /** Whether a POST carries the same valid token in its cookie and in its form. */
  accepts(request: IncomingMessage, formToken: string | null): boolean {
    const fromCookie = this.fromCookie(request);
    if (fromCookie === undefined || formToken === null) return false;
    const a = Buffer.from(fromCookie);
    const b = Buffer.from(formToken);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** The `set-cookie` value storing `token` for pages under `path`. */
  cookieHeader(token: string, path: string, request: IncomingMessage): string {
    const secure = isHttps(request) ? "; Secure" : "";
    return `${CSRF_COOKIE}=${token}; Path=${path}; HttpOnly; SameSite=Strict${secure}`;
  }
}

/**
 * Why a state-changing request is not from the dashboard's own pages, or undefined when it may
 * be. Browsers send `Origin` on every POST; `Sec-Fetch-Site` covers the few that omit it. A client
 * sending neither is no browser, so no ambient credentials are at stake: the token still applies.
 */
export function crossOrigin(request: IncomingMessage): string | undefined {
  const host = header(request, "x-forwarded-host") ?? header(request, "host");
  const origin = header(request, "origin");
  if (origin !== undefined) {
    let same = false;
    try {
      const from = new URL(origin);
      // The Host header read with the origin's scheme, so a default port compares equal either way.
      same = host !== undefined && from.host === new URL(`${from.protocol}//${host}`).host;
    } catch {
      same = false;
    }
    return same ? undefined : `the request comes from another origin (${origin})`;
  }
  const site = header(request, "sec-fetch-site");
  if (site !== undefined && site !== "same-origin") return `the request comes from another site (${site})`;
  return undefined;
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function isHttps(request: IncomingMessage): boolean {
  return (
    (request.socket as { encrypted?: boolean } | undefined)?.encrypted === true ||
    header(request, "x-forwarded-proto") === "https"
  );
}

/** One cookie's value from the `Cookie` header (the first of that name). */
function cookie(request: IncomingMessage, name: string): string | undefined {
  const raw = header(request, "cookie");
  if (raw === undefined) return undefined;
  for (const part of raw.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
