/**
 * Every listener the SDK adds to the page, it removes: an instance that is disposed leaves window and
 * document as it found them. Counted by wrapping their addEventListener and removeEventListener.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCapture } from '../src/capture';
import { createInstance } from '../src/moesif';

interface Listening {
  target: 'window' | 'document';
  type: string;
  listener: unknown;
  capture: boolean;
}

/** The listeners added to window and document and not removed since `watch()` began. */
function watch(): { live: Listening[]; restore(): void } {
  const live: Listening[] = [];
  const restores: Array<() => void> = [];
  for (const [name, target] of [['window', window], ['document', document]] as const) {
    const add = target.addEventListener;
    const remove = target.removeEventListener;
    const same = (entry: Listening, type: string, listener: unknown, options?: boolean | EventListenerOptions) =>
      entry.target == name && entry.type == type && entry.listener == listener && entry.capture == (typeof options == 'boolean' ? options : !!options?.capture);
    target.addEventListener = function (type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions) {
      if (!live.some((entry) => same(entry, type, listener, options))) {
        live.push({ target: name, type, listener, capture: typeof options == 'boolean' ? options : !!options?.capture });
      }
      return add.call(this, type, listener, options);
    };
    target.removeEventListener = function (type: string, listener: EventListenerOrEventListenerObject, options?: boolean | EventListenerOptions) {
      const index = live.findIndex((entry) => same(entry, type, listener, options));
      if (index >= 0) live.splice(index, 1);
      return remove.call(this, type, listener, options);
    };
    restores.push(() => {
      target.addEventListener = add;
      target.removeEventListener = remove;
    });
  }
  return { live, restore: () => restores.forEach((restore) => restore()) };
}

let watching: ReturnType<typeof watch>;
beforeEach(() => {
  watching = watch();
});
afterEach(() => {
  watching.restore();
  localStorage.clear();
});

const summary = (live: Listening[]) => live.map(({ target, type, capture }) => `${target} ${type}${capture ? ' (capture)' : ''}`).sort();

describe('listeners', () => {
  it('an instance with cookies, delivery, capture and page views removes every listener it added when disposed', async () => {
    const { instance, dispose } = createInstance(createCapture);
    instance.init({ applicationId: 'listeners-app', host: 'http://127.0.0.1:9', trackPageViews: true, persistence: 'cookie' });
    instance.start();
    instance.identifyUser('user-1');
    instance.track('Counted');
    history.pushState(null, '', '/elsewhere');
    expect(summary(watching.live)).toEqual([
      'document usertrail:cookies',
      'document visibilitychange',
      'document visibilitychange',
      'document visibilitychange',
      'window hashchange',
      'window online',
      'window pagehide',
      'window pagehide',
      'window pagehide (capture)',
      'window pageshow',
      'window pageshow',
      'window popstate',
      'window visibilitychange (capture)',
    ]);
    dispose();
    expect(summary(watching.live)).toEqual([]);
    history.replaceState(null, '', '/');
  });

  it("cross-domain tracking's link and form listeners come off with stop(), back with start(), and off with dispose()", () => {
    const { instance, dispose } = createInstance(createCapture);
    instance.init({ applicationId: 'listeners-app', host: 'http://127.0.0.1:9', enableCrossDomainTracking: true, crossDomainTargets: ['acme-cloud.com'] });
    // Before the page's handlers (capture), and links clicked again after them (bubbling).
    const linksAndForms = [...['auxclick', 'click', 'contextmenu', 'mousedown', 'submit', 'touchstart'].map((type) => `window ${type} (capture)`), 'window auxclick', 'window click'].sort();
    const crossDomain = () => summary(watching.live).filter((entry) => linksAndForms.includes(entry));
    expect(crossDomain()).toEqual(linksAndForms);
    instance.stop();
    expect(crossDomain()).toEqual([]);
    instance.start();
    instance.start();
    expect(crossDomain()).toEqual(linksAndForms);
    dispose();
    expect(summary(watching.live)).toEqual([]);
  });

  it('a disposed instance puts back what it patched: history, fetch and XMLHttpRequest', () => {
    const before = { pushState: history.pushState, replaceState: history.replaceState, fetch: window.fetch, send: XMLHttpRequest.prototype.send };
    const { instance, dispose } = createInstance(createCapture);
    instance.init({ applicationId: 'listeners-app', host: 'http://127.0.0.1:9', trackPageViews: true });
    instance.start();
    expect(history.pushState).not.toBe(before.pushState);
    dispose();
    expect({ pushState: history.pushState, replaceState: history.replaceState, fetch: window.fetch, send: XMLHttpRequest.prototype.send }).toEqual(before);
  });

  it('an instance that was never initialized adds none', () => {
    createInstance(createCapture).instance.track('Before init');
    expect(watching.live).toEqual([]);
  });
});
