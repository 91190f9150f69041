/**
 * Who may read: the query API and the dashboard show captured headers (Authorization included),
 * bodies and session tokens. A page the developer visits could reach them through DNS rebinding
 * (its own name resolving to 127.0.0.1), so they answer only for an expected Host; and, when a read
 * token is set (always beyond loopback), only with it.
 */
import type express from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { CollectorConfig } from '../config.js';

const READ_COOKIE = 'usertrail_read_token';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

function cookieToken(req: express.Request): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name !== READ_COOKIE) continue;
    try {
      return decodeURIComponent(value.join('='));
    } catch {
      // Not percent-encoding, so not the cookie this collector set: no token (401), not a 500.
      return undefined;
    }
  }
  return undefined;
}

/** A Host header's name, without its port, lower case. */
const hostName = (host: string): string => (host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '')).toLowerCase();

export function createReadGuard({ config }: { config: Pick<CollectorConfig, 'allowedHosts' | 'readToken' | 'log'> }): express.RequestHandler {
  const expected = config.readToken === undefined ? undefined : digest(config.readToken);
  const tokenMatches = (given: string | undefined): boolean => expected !== undefined && given !== undefined && timingSafeEqual(digest(given), expected);

  return (req, res, next) => {
    if (!config.allowedHosts.has(hostName(req.get('host') ?? ''))) {
      config.log(`${req.method} ${req.path} 403 host`);
      return void res.status(403).json({ error: 'this Host is not one the collector answers for; add it to USERTRAIL_ALLOWED_HOSTS' });
    }
    if (expected === undefined) return next();
    const bearer = /^Bearer (.+)$/i.exec(req.get('authorization') ?? '')?.[1];
    const fromQuery = typeof req.query.token === 'string' ? req.query.token : undefined;
    if (fromQuery !== undefined && tokenMatches(fromQuery) && req.method === 'GET') {
      // The dashboard opened as /?token=...: keep the token in a cookie for its own requests, and
      // take it out of the address bar (and of the history).
      res.cookie(READ_COOKIE, fromQuery, { httpOnly: true, sameSite: 'lax', secure: req.secure, path: '/' });
      const rest = new URLSearchParams(req.query as Record<string, string>);
      rest.delete('token');
      return void res.redirect(303, `${req.path}${rest.size ? `?${rest}` : ''}`);
    }
    if (tokenMatches(bearer) || tokenMatches(cookieToken(req))) return next();
    config.log(`${req.method} ${req.path} 401`);
    res.status(401).json({ error: 'the query API and the dashboard need the read token: Authorization: Bearer <token>, or open the dashboard at /?token=<token>' });
  };
}
