import { listen } from './listeners.js';
import type { Log } from './log.js';
import type { ResolvedOptions } from './options.js';

/**
 * Cross-domain tracking (moesif-browser-js 1.9/1.10, issue 20): a visitor who follows a link from
 * acme-docs.com to acme-cloud.com, two sites that share no cookie, stays one anonymous visitor
 * because the link carries the anonymous id in a query parameter (`__mt` by default), which the
 * other site's SDK adopts at init() and removes from the address bar.
 */

/**
 * moesif-browser-js's rule for an id arriving in a link (isValidAnonymousId in its
 * src/anonymousId.js), kept exactly so that each SDK accepts the other's ids: at most 200 hex
 * digits and dashes, with at least one dash. moesif's own ids are not UUIDs; ours are.
 */
export const isAcceptedId = (value: unknown): value is string =>
  typeof value == 'string' && value.length <= 200 && /^[a-f0-9-]+$/i.test(value) && value.includes('-');

/**
 * Whether links to `hostname` (a URL's, so in lower case) carry the id: it is one of `targets` or a
 * subdomain of one, whatever the scheme or port. With a dot before both names, one ending tests
 * both, and `notacme.com` is not `acme.com`. null targets every host, as in moesif.
 */
export const isTarget = (hostname: string, targets: readonly string[] | null): boolean =>
  !targets || targets.some((domain) => ('.' + hostname).endsWith('.' + domain.toLowerCase()));

/**
 * The query `search` (as `location.search` gives it, '' or '?...') without any `name` parameter
 * and, given a value, with `name=value` at its end. The other parameters stay exactly as written:
 * serializing them again through URLSearchParams would change what a server or router reads
 * (`%20` becomes `+`, `/` becomes `%2F`). Names are compared as URLSearchParams decodes them.
 */
export const withParameter = (search: string, name: string, value?: string): string => {
  const pairs = search
    .slice(1)
    .split('&')
    .filter((pair) => pair && !new URLSearchParams(pair).has(name));
  if (value != null) pairs.push(new URLSearchParams({ [name]: value }).toString());
  return pairs.length ? '?' + pairs.join('&') : '';
};

/**
 * `url` (resolved against `base`, the page's address) with the id set in parameter `name` when it
 * leads over http(s) to another origin among `targets`; with `id` undefined, the same URL without
 * that parameter (consent pending or refused). Undefined for any other URL: same origin,
 * `mailto:`, `tel:`, `javascript:` and the like are never touched. Throws on what is not a URL.
 */
export const decorateUrl = (url: string, base: string, targets: readonly string[] | null, name: string, id: string | undefined): string | undefined => {
  const parsed = new URL(url, base);
  if (!/^https?:$/.test(parsed.protocol) || parsed.origin == new URL(base).origin || !isTarget(parsed.hostname, targets)) return undefined;
  parsed.search = withParameter(parsed.search, name, id);
  return parsed.href;
};

export interface CrossDomainDependencies {
  options: Pick<ResolvedOptions, 'enableCrossDomainTracking' | 'crossDomainTargets' | 'crossDomainTrackingParameterName'>;
  /** The visitor's anonymous id now: reset() changes it, so it is read at each use. */
  anonymousId: () => string;
  /** Makes `id` the visitor's anonymous id: stored, or held in memory until consent is granted. */
  adoptAnonymousId: (id: string) => void;
  /** Whether the id may leave the site now: publishing consent is granted. */
  consented: () => boolean;
  log: Log;
}

/**
 * Reads the id a link brought (`readIncoming`, at init), and puts the visitor's id in links and
 * GET forms to the target sites at the moment they are used (`start`/`stop`), never while consent
 * is pending or refused. With `enableCrossDomainTracking` off, none does anything (decorate() warns once).
 */
export function createCrossDomain({ options, anonymousId, adoptAnonymousId, consented, log }: CrossDomainDependencies) {
  const { enableCrossDomainTracking: enabled, crossDomainTargets: targets, crossDomainTrackingParameterName: name } = options;

  /** The id links carry now; undefined without consent, which also takes out an id put in a link before a revoke. */
  const idToShare = (): string | undefined => (consented() ? anonymousId() : undefined);

  // composedPath() rather than target.closest('a'): the target may be a text node, the document, or
  // an element inside a shadow root, none of which has closest() on the right tree.
  const decorateLink = (event: Event): void => {
    try {
      const link = event.composedPath().find((node): node is HTMLAnchorElement => node instanceof HTMLAnchorElement);
      if (!link?.href) return;
      const decorated = decorateUrl(link.href, location.href, targets, name, idToShare());
      if (decorated && decorated != link.href) link.href = decorated;
    } catch {
      // An href that is no URL: the browser cannot follow it either.
    }
  };

  // A GET form replaces its action's query with its fields, so the id goes in a hidden field.
  // POST forms are left alone: their server may check what they carry, and the next page's script cannot read a body.
  const decorateForm = (event: Event): void => {
    try {
      const form = event.target;
      // decorateUrl() only answers here whether the action is a target: the browser drops its query.
      if (!(form instanceof HTMLFormElement) || form.method != 'get' || !decorateUrl(form.action, location.href, targets, name, undefined)) return;
      // Found by name as moesif finds it, also when the page put it there.
      let field = [...form.elements].find((element): element is HTMLInputElement => element instanceof HTMLInputElement && element.name == name);
      const id = idToShare();
      if (!id) {
        field?.remove();
        return;
      }
      if (!field) {
        field = document.createElement('input');
        field.type = 'hidden';
        field.name = name;
        form.append(field);
      }
      field.value = id;
    } catch {
      // An action that is no URL: the browser cannot submit there either.
    }
  };

  // The events that come before a link is followed, opened in a new tab or copied (keyboard
  // activation, Enter, is a click), and a form's submission.
  const listeners = { mousedown: decorateLink, click: decorateLink, auxclick: decorateLink, contextmenu: decorateLink, touchstart: decorateLink, submit: decorateForm };
  /** Removes the listeners, while they are added. */
  let stopListening: (() => void) | undefined;

  return {
    /**
     * At init(), before anything reads the address: adopts the id in the parameter when moesif's
     * rule accepts it (given twice, it is ambiguous and ignored), and takes the parameter out of the
     * address bar in every case, keeping the path, the other parameters as written, the hash and
     * `history.state` (a router's state lives there).
     */
    readIncoming(): void {
      if (!enabled) return;
      try {
        const values = new URLSearchParams(location.search).getAll(name);
        if (!values.length) return;
        if (values.length == 1 && isAcceptedId(values[0])) adoptAnonymousId(values[0]);
        history.replaceState(history.state, '', location.pathname + withParameter(location.search, name) + location.hash);
      } catch {
        // replaceState throws in sandboxed documents: the parameter stays in view, and nothing else changes.
      }
    },

    /** Listens for links and forms being used; idempotent (the listeners are never added twice). */
    start(): void {
      // Capture phase, so the link is decorated before any handler of the page navigates; passive, so touches scroll at once.
      if (enabled && !stopListening) stopListening = listen(window, listeners, { capture: true, passive: true });
    },
    stop(): void {
      stopListening?.();
      stopListening = undefined;
    },

    /**
     * `cdtUrlDecorator(url, overrideCDTTargets)`: the URL with the id for a target (for any other
     * origin with the override), for the app's own navigations (window.open, location.assign). A URL
     * object is read as its address, as moesif-browser-js reads it. Anything else is given back as it
     * came: same-origin URLs, no consent, no URL at all (which resolves to this page, or throws).
     */
    decorate(url: string, overrideTargets?: boolean): string {
      try {
        if (!enabled) log.warn('cdtUrlDecorator(): enableCrossDomainTracking is off');
        else if (consented()) return decorateUrl(url, location.href, overrideTargets ? null : targets, name, anonymousId()) ?? url;
      } catch {
        // Not a URL: given back unchanged, as the method promises.
      }
      return url;
    },
  };
}

export type CrossDomain = ReturnType<typeof createCrossDomain>;
