/** Where an incoming request came from and what it asked for: the client's address and the URL it called. */
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { RawHeaders } from './headers.js';
import { maskUrl } from './masking.js';
import type { MoesifRequest } from './types.js';

/**
 * A header's value as one string: the first of repeated values (not joined, unlike outgoing.ts's
 * headerString and flattenHeaders), '' without one.
 */
export const firstHeaderValue = (value: unknown): string =>
  Array.isArray(value) ? String(value[0] ?? '') : value === undefined || value === null ? '' : String(value);

/**
 * Headers in which proxies and CDNs name the client (nginx's usual X-Real-IP, Cloudflare's, Fastly's,
 * Akamai's...), read after X-Forwarded-For in the order moesif-nodejs (request-ip) reads them. It
 * reads X-Client-IP first of all; no common proxy sets that one, so here it does not outrank what a
 * proxy wrote in X-Forwarded-For.
 */
const CLIENT_IP_HEADERS = [
  'x-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'true-client-ip',
  'x-real-ip',
  'x-cluster-client-ip',
  'x-forwarded',
  'forwarded-for',
  'x-appengine-user-ip',
];

/**
 * The first address in X-Forwarded-For that is one, as moesif-nodejs reads it: a proxy that cannot
 * tell writes "unknown", and Azure's front ends add the port ("203.0.113.8:54321"); both went out as
 * the client's address.
 */
function forwardedFor(header: string): string | undefined {
  for (const hop of header.split(',')) {
    let ip = hop.trim();
    const colon = ip.indexOf(':');
    // IPv4 with a port; an IPv6 address has more than one colon and is left whole.
    if (colon > 0 && ip.indexOf(':', colon + 1) < 0) ip = ip.slice(0, colon);
    if (isIP(ip)) return ip;
  }
  return undefined;
}

/**
 * The client address: the first valid one in X-Forwarded-For, then in the other proxy headers, then
 * `fallback` (for the middleware, Express's req.ip, else the socket's address: see event.ts).
 */
export function clientIp(headers: RawHeaders, fallback: string | undefined): string | undefined {
  let ip = headers['x-forwarded-for'] === undefined ? undefined : forwardedFor(firstHeaderValue(headers['x-forwarded-for']));
  for (let i = 0; ip === undefined && i < CLIENT_IP_HEADERS.length; i++) {
    const value = headers[CLIENT_IP_HEADERS[i] as string];
    if (typeof value === 'string' && isIP(value.trim())) ip = value.trim();
  }
  ip ??= fallback;
  // IPv4 clients of a dual-stack server appear as ::ffff:a.b.c.d; Moesif geolocates the plain form.
  return ip ? ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '') : undefined;
}

/**
 * The request target as the client sent it. Express, and @fastify/middie, strip a mount path from
 * req.url while the middleware under it runs, and keep the whole target in req.originalUrl: a
 * router's path, and the middleware's own (Nest's MiddlewareConsumer mounts it at '/{*path}' for
 * `forRoutes('*')`, so its req.url was '/').
 */
export const receivedUrl = (req: MoesifRequest): string | undefined => (typeof req.originalUrl === 'string' && req.originalUrl) || req.url;

export function fullUrl(req: MoesifRequest): string {
  const protocol =
    typeof req.protocol === 'string' && req.protocol
      ? req.protocol
      : (req.socket as TLSSocket | undefined)?.encrypted
        ? 'https'
        : 'http';
  // HTTP/2 has no Host header but its :authority (RFC 9113 §8.3.1).
  const host = firstHeaderValue(req.headers.host) || firstHeaderValue(req.headers[':authority']) || 'localhost';
  const path = receivedUrl(req) || '/';
  return maskUrl(`${protocol}://${host}${path}`);
}
