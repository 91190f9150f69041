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
 * A domain of `crossDomainTargets` as a URL writes its host, which is what it is compared with: in
 * lower case and, for an international name, in its ASCII form (`bücher.de` is `xn--bcher-kva.de`).
 * A leading dot, as a cookie domain is written, means the same domain. A name no URL could hold is
 * kept in lower case: it matches no link, as it would match no address.
 */
export const targetHostname = (domain: string): string => {
  const bare = domain.replace(/^\./, '');
  try {
    return new URL(`http://${bare}`).hostname;
  } catch {
    return bare.toLowerCase();
  }
};

/**
 * Whether links to `hostname` (a URL's) carry the id: it is one of `targets` (as targetHostname()
 * writes them) or a subdomain of one, whatever the scheme or port. With a dot before both names, one
 * ending tests both, and `notacme.com` is not `acme.com`. null targets every host, as in moesif.
 */
export const isTarget = (hostname: string, targets: readonly string[] | null): boolean =>
  !targets || targets.some((domain) => ('.' + hostname).endsWith('.' + domain));

/** A query, and the parameter to set in it or take out of it. */
export interface QueryParameter {
  /** The query, as `location.search` gives it: '' or '?...'. */
  search: string;
  /** The parameter's name, compared as URLSearchParams decodes names. */
  name: string;
  /** Its value; undefined (or left out) takes the parameter out. */
  value?: string;
}

/**
 * The query `search` without any `name` parameter and, given a value, with `name=value` at its end.
 * The other parameters stay exactly as written: serializing them again through URLSearchParams would
 * change what a server or router reads (`%20` becomes `+`, `/` becomes `%2F`).
 */
export const withParameter = ({ search, name, value }: QueryParameter): string => {
  const pairs = search
    .slice(1)
    .split('&')
    .filter((pair) => pair && !new URLSearchParams(pair).has(name));
  if (value != null) pairs.push(new URLSearchParams({ [name]: value }).toString());
  return pairs.length ? '?' + pairs.join('&') : '';
};

/** Where a URL is decorated, and with what. */
export interface Decoration {
  /** What a relative URL is resolved against: the document's base URL, as the browser resolves it (window.open, location.assign). */
  base: string;
  /** The page's own origin, whose URLs are never touched; not the base's, which a `<base href>` may put on another site. */
  origin: string;
  /** As targetHostname() writes them; null: every other origin. */
  targets: readonly string[] | null;
  /** The parameter's name. */
  name: string;
  /** The id to set; undefined takes the parameter out (consent pending or refused). */
  id: string | undefined;
}

/**
 * `url` with the id set in the parameter when it leads over http(s) to another origin among the
 * targets; with no id, the same URL without that parameter. Undefined for any other URL: same origin,
 * `mailto:`, `tel:`, `javascript:` and the like are never touched. Throws on what is not a URL.
 */
export const decorateUrl = (url: string, { base, origin, targets, name, id }: Decoration): string | undefined => {
  const parsed = new URL(url, base);
  if (!/^https?:$/.test(parsed.protocol) || parsed.origin == origin || !isTarget(parsed.hostname, targets)) return undefined;
  parsed.search = withParameter({ search: parsed.search, name, value: id });
  return parsed.href;
};

/** A link's address, read and written: an HTML `<a>` or `<area>`, or an SVG `<a>`, whose href is an SVGAnimatedString. */
interface Link {
  /** Absolute, as the browser follows it; '' without one. */
  href: string;
  setHref(href: string): void;
}

/** `node` as a link, when it is one (a node of an event's path: text, elements, the document, window). */
const linkAt = (node: EventTarget): Link | undefined => {
  if (node instanceof HTMLAnchorElement || node instanceof HTMLAreaElement) return { href: node.href, setHref: (href) => (node.href = href) };
  // baseVal is the attribute as written (href, or xlink:href without one), so it is resolved here;
  // setting it writes href, which the browser follows over xlink:href.
  if (node instanceof SVGAElement) {
    const written = node.href.baseVal;
    return { href: written && new URL(written, node.baseURI).href, setHref: (href) => (node.href.baseVal = href) };
  }
  return undefined;
};

/** Where a form's submission goes, and how: a submitter's formaction and formmethod win over its form's. */
const submissionOf = (event: Event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return undefined;
  // Read through the prototype: a field named "action", "method" or "elements" hides the form's own
  // property of that name (form.action is then the <input>), and `<input name="action">` is common.
  const own = <K extends 'action' | 'method' | 'elements'>(key: K): HTMLFormElement[K] => Reflect.get(HTMLFormElement.prototype, key, form);
  // submitter: the button clicked or given to requestSubmit(); null for requestSubmit() alone and Enter with no button.
  const submitter = (event as SubmitEvent).submitter;
  const button = submitter instanceof HTMLButtonElement || submitter instanceof HTMLInputElement ? submitter : undefined;
  return {
    form,
    fields: own('elements'),
    // formAction gives the page's address when the attribute is absent, so its presence is asked first.
    action: button?.hasAttribute('formaction') ? button.formAction : own('action'),
    method: button?.hasAttribute('formmethod') ? button.formMethod : own('method'),
  };
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
  const { enableCrossDomainTracking: enabled, crossDomainTrackingParameterName: name } = options;
  const targets = options.crossDomainTargets?.map(targetHostname) ?? null;
  /** Where links are decorated now, with `id` (undefined takes it out). */
  const decoration = (id: string | undefined, overrideTargets = false): Decoration => ({
    base: document.baseURI,
    origin: location.origin,
    targets: overrideTargets ? null : targets,
    name,
    id,
  });

  /** The id links carry now; undefined without consent, which also takes out an id put in a link before a revoke. */
  const idToShare = (): string | undefined => (consented() ? anonymousId() : undefined);

  // composedPath() rather than target.closest('a'): the target may be a text node, the document, or
  // an element inside a shadow root, none of which has closest() on the right tree.
  const decorateLink = (event: Event): void => {
    try {
      let link: Link | undefined;
      for (const node of event.composedPath()) if ((link = linkAt(node))) break;
      if (!link?.href) return;
      const decorated = decorateUrl(link.href, decoration(idToShare()));
      if (decorated && decorated != link.href) link.setHref(decorated);
    } catch {
      // An href that is no URL: the browser cannot follow it either.
    }
  };

  // A GET form replaces its action's query with its fields, so the id goes in a hidden field.
  // POST forms are left alone: their server may check what they carry, and the next page's script cannot read a body.
  const decorateForm = (event: Event): void => {
    try {
      const submission = submissionOf(event);
      // decorateUrl() only answers here whether the action is a target: the browser drops its query.
      if (submission?.method != 'get' || !decorateUrl(submission.action, decoration(undefined))) return;
      // Found by name as moesif finds it, also when the page put it there.
      let field = [...submission.fields].find((element): element is HTMLInputElement => element instanceof HTMLInputElement && element.name == name);
      const id = idToShare();
      if (!id) {
        field?.remove();
        return;
      }
      if (!field) {
        field = document.createElement('input');
        field.type = 'hidden';
        field.name = name;
        submission.form.append(field);
      }
      field.value = id;
    } catch {
      // An action that is no URL: the browser cannot submit there either.
    }
  };

  // The events that come before a link is followed, opened in a new tab or copied (keyboard
  // activation, Enter, is a click), and a form's submission. In the capture phase, so the link is
  // decorated before any handler of the page navigates; passive, so touches scroll at once.
  const beforePage = { mousedown: decorateLink, click: decorateLink, auxclick: decorateLink, contextmenu: decorateLink, touchstart: decorateLink, submit: decorateForm };
  // And again once the page's own handlers have run (bubbling back to window), which may have
  // rewritten the link's address as it is followed (outbound-link scripts, routers).
  const afterPage = { click: decorateLink, auxclick: decorateLink };
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
        // The whole address: a relative one is resolved against the document's base, which a
        // `<base href>` may put on another origin, where replaceState refuses to go.
        const address = new URL(location.href);
        address.search = withParameter({ search: address.search, name });
        history.replaceState(history.state, '', address.href);
      } catch {
        // replaceState refused (the page replaced it with one that throws): the parameter stays in view, and nothing else changes.
      }
    },

    /** Listens for links and forms being used; idempotent (the listeners are never added twice). */
    start(): void {
      if (!enabled || stopListening) return;
      const stopBefore = listen(window, beforePage, { capture: true, passive: true });
      const stopAfter = listen(window, afterPage, { passive: true });
      stopListening = () => {
        stopBefore();
        stopAfter();
      };
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
        else if (consented()) return decorateUrl(url, decoration(anonymousId(), overrideTargets)) ?? url;
      } catch {
        // Not a URL: given back unchanged, as the method promises.
      }
      return url;
    },
  };
}

export type CrossDomain = ReturnType<typeof createCrossDomain>;
