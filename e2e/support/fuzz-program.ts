/**
 * Small random programs of fetch and XMLHttpRequest usage, for e2e/capture-differential.spec.ts: a
 * seeded generator (`generate`, plain data) and the interpreter that runs one in a page (`runProgram`,
 * passed to page.evaluate) and returns what the app observed.
 */

/** The API's answer (see fuzz-api.ts). */
export interface Answer {
  s?: number;
  r?: number;
  rc?: number;
  t: 'json' | 'text' | 'bin' | 'xml' | 'html' | 'empty';
  slow?: boolean;
  hang?: 'headers' | 'body';
  close?: boolean;
}

/** Where a call goes: the fuzz API, or a URL that is not an http(s) call to it. */
export type Target = { api: Answer; form: 'relative' | 'absolute' | 'url' } | { other: 'data' | 'blob' | 'badUrl' | 'ftp' | 'refused' };

export type BodyKind = 'string' | 'json' | 'blob' | 'arrayBuffer' | 'uint8' | 'params' | 'formData' | 'stream' | 'streamHalfDuplex';

export type Read = 'json' | 'text' | 'arrayBuffer' | 'blob' | 'bytes' | 'formData' | 'reader' | 'readerCancel' | 'clone' | 'headersOnly';

export interface FetchStep {
  kind: 'fetch';
  target: Target;
  input: 'plain' | 'request' | 'requestAndInit';
  method?: string;
  headers?: { form: 'object' | 'array' | 'headers'; bad?: boolean };
  body?: BodyKind;
  /** before: an aborted signal; sync: aborted right after fetch() is called; afterHeaders: once it resolved; afterRead: once its body was read. */
  abort?: 'before' | 'sync' | 'afterHeaders' | 'afterRead';
  abortReason?: boolean;
  reads: Read[];
}

export type XhrEventName = 'readystatechange' | 'loadstart' | 'progress' | 'abort' | 'error' | 'load' | 'timeout' | 'loadend';

export interface XhrStep {
  kind: 'xhr';
  target: Target;
  method: string;
  sync: boolean;
  responseType: '' | 'text' | 'json' | 'arraybuffer' | 'blob' | 'document';
  headers: Array<[string, string]>;
  body?: BodyKind;
  /** The calls in the order the app makes them; the wrong ones throw, as they would without the SDK. */
  order: 'normal' | 'headerBeforeOpen' | 'sendBeforeOpen' | 'sendTwice' | 'headerAfterSend' | 'openTwice' | 'openAfterSend' | 'noSend';
  timeout?: number;
  /** The app calls abort() from its handler of this event (readystatechange with readyState 2 or 3), or right after send(). */
  abortOn?: 'loadstart' | 'rsc2' | 'rsc3' | 'afterSend' | 'load' | 'loadend';
  /** The app opens and sends the object again from its handler of this event (once). */
  reopenOn?: 'load' | 'error' | 'timeout' | 'abort' | 'rsc4' | 'loadend';
  /** on*: the app's on* handlers; listener: addEventListener before open; late: addEventListener after send. */
  style: 'on' | 'listener' | 'both' | 'late';
  upload: boolean;
  /** The app reads responseText at load (throws for responseTypes other than '' and 'text'). */
  readText: boolean;
}

export type Step = FetchStep | XhrStep;

/** mulberry32: a small seeded PRNG, good enough to pick program shapes. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A program of 3 to 8 steps, the same for the same seed. */
export function generate(seed: number): Step[] {
  const random = mulberry32(seed);
  const chance = (p: number) => random() < p;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const maybe = <T>(p: number, make: () => T): T | undefined => (chance(p) ? make() : undefined);

  const answer = (): Answer => ({
    t: pick(['json', 'json', 'text', 'bin', 'xml', 'html', 'empty'] as const),
    ...(chance(0.3) ? { s: pick([201, 204, 304, 404, 500]) } : {}),
    ...(chance(0.15) ? { r: pick([1, 2]), rc: pick([301, 302, 303, 307, 308]) } : {}),
    ...(chance(0.25) ? { slow: true } : {}),
  });
  const target = (): Target => {
    if (chance(0.12)) return { other: pick(['data', 'blob', 'badUrl', 'ftp', 'refused'] as const) };
    const api = answer();
    if (chance(0.05)) api.close = true;
    return { api, form: pick(['relative', 'absolute', 'url'] as const) };
  };
  const bodyKinds: readonly BodyKind[] = ['string', 'json', 'blob', 'arrayBuffer', 'uint8', 'params', 'formData'];

  const fetchStep = (): FetchStep => {
    const call = target();
    // 'post' is sent as POST; a method fetch does not upper-case ('patch') is one Node's parser refuses
    // with a 400 and a reset connection, which reaches the app as an answer or a network error by timing.
    const method = pick(['GET', 'GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'post', 'HEAD', 'OPTIONS']);
    const sendsBody = !/^(GET|HEAD)$/i.test(method) || chance(0.05);
    let abort = maybe(0.25, () => pick(['before', 'sync', 'afterHeaders', 'afterRead'] as const));
    // An abort once the headers came interrupts the body only while it is still coming: whether a
    // quick one came whole first is timing, so that abort is given a body that never ends.
    if (abort === 'afterHeaders' && 'api' in call) call.api.hang = 'body';
    if (abort === 'sync' && 'api' in call && chance(0.5)) call.api.hang = 'headers';
    const reads = Array.from({ length: pick([0, 1, 1, 1, 2]) }, () =>
      pick(['json', 'json', 'text', 'text', 'arrayBuffer', 'blob', 'bytes', 'formData', 'reader', 'readerCancel', 'clone', 'headersOnly'] as const),
    );
    // The same holds for an abort after a read that did not read the whole body.
    if (abort === 'afterRead' && !/^(json|text|arrayBuffer|blob|bytes|reader|clone)$/.test(reads[0] ?? '')) abort = undefined;
    return {
      kind: 'fetch',
      target: call,
      input: pick(['plain', 'plain', 'request', 'requestAndInit'] as const),
      method,
      headers: maybe(0.5, () => ({ form: pick(['object', 'array', 'headers'] as const), bad: chance(0.05) })),
      body: sendsBody ? maybe(0.8, () => (chance(0.1) ? pick(['stream', 'streamHalfDuplex'] as const) : pick(bodyKinds))) : undefined,
      abort,
      abortReason: abort ? chance(0.5) : undefined,
      reads,
    };
  };

  const xhrStep = (): XhrStep => {
    const call = target();
    const sync = chance(0.12);
    const method = pick(['GET', 'GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'post', 'HEAD']);
    const timeout = maybe(0.12, () => pick([0, 50, 5000]));
    // A timeout that ends the call only when the answer never comes (whether a quick one beats it is timing).
    // An answer without a body (to HEAD, a 204 or a 304) ends at its headers, so only one that never sends
    // them hangs: with a body that never ends instead, seed 16's HEAD beat its timeout or not by load.
    if ('api' in call && timeout === 50) {
      const hang = pick(['headers', 'body'] as const);
      call.api.hang = /^HEAD$/i.test(method) || call.api.s === 204 || call.api.s === 304 ? 'headers' : hang;
    }
    // Not from a progress event: the last one comes before or after readyState 4 by timing, and an abort()
    // at 4 ends the call without the events an abort() in flight fires.
    const abortOn = sync ? undefined : maybe(0.2, () => pick(['loadstart', 'rsc2', 'rsc3', 'afterSend', 'load', 'loadend'] as const));
    return {
      kind: 'xhr',
      target: call,
      method,
      sync,
      responseType: chance(0.4) ? '' : pick(['', 'text', 'json', 'arraybuffer', 'blob', 'document'] as const),
      headers: chance(0.5) ? Array.from({ length: pick([1, 2, 3]) }, () => [pick(['X-Fz-A', 'x-fz-a', 'X-Fz-B', 'Content-Type', 'Bad Name', 'Cookie']), pick(['1', 'two', 'text/plain'])] as [string, string]) : [],
      body: maybe(0.6, () => pick(bodyKinds)),
      order: chance(0.75) ? 'normal' : pick(['headerBeforeOpen', 'sendBeforeOpen', 'sendTwice', 'headerAfterSend', 'openTwice', 'openAfterSend', 'noSend'] as const),
      timeout,
      abortOn,
      reopenOn: sync ? undefined : maybe(0.2, () => pick(['load', 'error', 'timeout', 'abort', 'rsc4', 'loadend'] as const)),
      style: pick(['on', 'listener', 'both', 'late'] as const),
      upload: !sync && chance(0.3),
      readText: chance(0.3),
    };
  };

  const length = 3 + Math.floor(random() * 6);
  return Array.from({ length }, () => (chance(0.5) ? fetchStep() : xhrStep()));
}

/** A call the program made to an http(s) URL, and how it ended for the app. */
export interface CallSeen {
  id: string;
  /** response: the app got an answer (a Response, or an XMLHttpRequest done with a status). */
  outcome: 'response' | 'failed';
  status: number;
}

export interface ProgramResult {
  trace: string[];
  calls: CallSeen[];
}

/**
 * Runs `steps` in the page, one after the other, and gives back what the app observed: event names in
 * order, with readyState and status at that moment, values summarised, errors by name and message, the
 * headers the app reads. `base` is the page's origin; `prefix` makes each call's id (?id=) unique.
 *
 * Self-contained: page.evaluate() sends its source to the page.
 */
export async function runProgram({ steps, prefix }: { steps: Step[]; prefix: string }): Promise<ProgramResult> {
  const trace: string[] = [];
  const calls: CallSeen[] = [];
  const blobUrl = URL.createObjectURL(new Blob(['from a blob'], { type: 'text/plain' }));
  // A blob: URL is another each run: the trace names it alike.
  const log = (entry: string) => trace.push(entry.split(blobUrl).join('blob:(url)'));
  const describe = (error: unknown): string => {
    if (error instanceof Error || error instanceof DOMException) return `${error.constructor.name}/${error.name}: ${error.message}`;
    return `thrown ${typeof error}: ${String(error)}`;
  };
  const attempt = <T>(what: string, run: () => T): T | undefined => {
    try {
      return run();
    } catch (error) {
      log(`${what} threw ${describe(error)}`);
      return undefined;
    }
  };
  const macrotask = () => new Promise((resolve) => setTimeout(resolve));
  const bytesOf = (buffer: ArrayBuffer | Uint8Array): string => {
    const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
    let sum = 0;
    for (const byte of bytes) sum = (sum * 31 + byte) >>> 0;
    return `${bytes.byteLength} bytes #${sum}`;
  };
  addEventListener('unhandledrejection', (event) => log(`unhandledrejection ${describe(event.reason)}`));

  let callNumber = 0;
  /** The URL of a call (a string, or a URL object), and its id when it is an http call to the API. */
  const urlOf = (target: Target): { url: string | URL; id?: string } => {
    if ('other' in target) {
      if (target.other === 'data') return { url: 'data:text/plain,hello%20data' };
      if (target.other === 'blob') return { url: blobUrl };
      if (target.other === 'ftp') return { url: 'ftp://127.0.0.1/file' };
      // http(s) calls that fail: Chromium's URL parser takes a space in a host name (as %20), and the call fails.
      const id = `${prefix}.${callNumber++}`;
      return { url: target.other === 'refused' ? `http://127.0.0.1:1/refused?id=${id}` : `http://bad host/?id=${id}`, id };
    }
    const id = `${prefix}.${callNumber++}`;
    const query = new URLSearchParams({ id });
    for (const [key, value] of Object.entries(target.api)) if (value !== undefined && value !== false) query.set(key, String(value));
    const path = `/fz?${query}`;
    if (target.form === 'relative') return { url: path, id };
    if (target.form === 'absolute') return { url: location.origin + path, id };
    return { url: new URL(path, location.origin), id };
  };
  const bodyOf = (kind: BodyKind | undefined): BodyInit | undefined => {
    switch (kind) {
      case undefined:
        return undefined;
      case 'string':
        return 'plain text body';
      case 'json':
        return JSON.stringify({ page: 2, tags: ['a', 'b'] });
      case 'blob':
        return new Blob(['blob body'], { type: 'text/x-fz' });
      case 'arrayBuffer':
        return new Uint8Array([104, 105, 0, 255]).buffer;
      case 'uint8':
        return new Uint8Array([1, 2, 3]);
      case 'params':
        return new URLSearchParams({ q: 'search term', page: '3' });
      case 'formData': {
        const form = new FormData();
        form.append('field', 'value');
        form.append('file', new Blob(['file content'], { type: 'text/plain' }), 'name.txt');
        return form;
      }
      default:
        return new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('streamed body'));
            controller.close();
          },
        });
    }
  };

  const responseSummary = (response: Response): string =>
    [response.status, response.ok, response.statusText, response.redirected, response.type, response.url.replace(blobUrl, 'blob:(url)').replace(location.origin, ''), response.headers.get('content-type'), response.headers.get('x-fz'), response.headers.has('date'), response.bodyUsed].join('|');

  const readBody = async (response: Response, read: Read): Promise<string> => {
    switch (read) {
      case 'json':
        return JSON.stringify(await response.json());
      case 'text':
        return await response.text();
      case 'arrayBuffer':
        return bytesOf(await response.arrayBuffer());
      case 'bytes':
        return bytesOf(await response.bytes());
      case 'blob': {
        const blob = await response.blob();
        return `blob ${blob.size} ${blob.type} ${await blob.text()}`;
      }
      case 'formData':
        return `form ${[...(await response.formData()).keys()].join(',')}`;
      case 'reader':
      case 'readerCancel': {
        const body = response.body;
        if (!body) return 'no body';
        const reader = body.getReader();
        const parts: Uint8Array[] = [];
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parts.push(value);
          if (read === 'readerCancel') {
            await reader.cancel('app is done');
            return `cancelled after a read`;
          }
        }
        const joined = new Uint8Array(parts.reduce((size, part) => size + part.byteLength, 0));
        let at = 0;
        for (const part of parts) {
          joined.set(part, at);
          at += part.byteLength;
        }
        return `read ${bytesOf(joined)}`;
      }
      case 'clone': {
        const copy = response.clone();
        const [one, two] = await Promise.all([copy.text(), response.text()]);
        return `clone ${one === two} ${one.length}`;
      }
      case 'headersOnly':
        return `headers ${[...response.headers.keys()].filter((name) => name !== 'date').join(',')}`;
    }
  };

  const runFetch = async (step: FetchStep): Promise<void> => {
    const { url, id } = urlOf(step.target);
    const controller = new AbortController();
    const reason = step.abortReason ? new Error('app reason') : undefined;
    const abort = () => (reason ? controller.abort(reason) : controller.abort());
    if (step.abort === 'before') abort();
    const headerPairs: Array<[string, string]> = [['X-Fz-A', 'one'], ['x-fz-b', 'two']];
    if (step.headers?.bad) headerPairs.push(['Bad Name', 'x']);
    const headers =
      step.headers === undefined
        ? undefined
        : step.headers.form === 'array'
          ? headerPairs
          : step.headers.form === 'object'
            ? Object.fromEntries(headerPairs)
            : attempt('new Headers', () => new Headers(headerPairs));
    const init: RequestInit & { duplex?: string } = {};
    if (step.method) init.method = step.method;
    if (headers) init.headers = headers;
    const body = bodyOf(step.body);
    if (body !== undefined) init.body = body;
    if (step.body === 'streamHalfDuplex') init.duplex = 'half';
    if (step.abort) init.signal = controller.signal;
    let promise: Promise<Response> | undefined;
    let request: Request | undefined;
    if (step.input === 'plain') promise = fetch(url, init);
    else {
      request = attempt('new Request', () => new Request(url, init));
      if (!request) return;
      log(`request ${request.method} ${request.bodyUsed}`);
      promise = step.input === 'request' ? fetch(request) : fetch(request, { headers: { 'X-Fz-C': 'init' } });
      log(`request used at once: ${request.bodyUsed}`);
    }
    if (step.abort === 'sync') abort();
    let response: Response;
    try {
      response = await promise;
    } catch (error) {
      log(`fetch rejected ${describe(error)}${error === reason && reason ? ' (the reason)' : ''}`);
      if (id) calls.push({ id, outcome: 'failed', status: 0 });
      return;
    }
    if (id) calls.push({ id, outcome: 'response', status: response.status });
    log(`fetch resolved ${responseSummary(response)}`);
    if (request) log(`request used: ${request.bodyUsed}`);
    if (step.abort === 'afterHeaders') abort();
    for (const read of step.reads) {
      try {
        log(`${read}: ${await readBody(response, read)}`);
      } catch (error) {
        log(`${read} failed ${describe(error)}${error === reason && reason ? ' (the reason)' : ''}`);
      }
      log(`bodyUsed ${response.bodyUsed}`);
    }
    if (step.abort === 'afterRead') abort();
    if (step.reads.length === 0 && step.target && 'api' in step.target && step.target.api.hang) {
      // A body that never ends and that the app does not read: the app lets it go.
      await response.body?.cancel().catch(() => {});
    }
  };

  const runXhr = (step: XhrStep): Promise<void> =>
    new Promise<void>((resolveStep) => {
      const { url, id } = urlOf(step.target);
        const xhr = new XMLHttpRequest();
      let reopened = false;
      let finished = false;
      /** The id of the call opened last (sent or not), and those sent and not ended yet, oldest first. */
      let openedId: string | undefined;
      const sentIds: Array<string | undefined> = [];
      /** The status the app saw when the last call was done (readyState 4): abort() from onload resets it to 0 afterwards. */
      let doneStatus = 0;
      const endCall = (status: number) => {
        const callId = sentIds.shift();
        if (callId) calls.push({ id: callId, outcome: status ? 'response' : 'failed', status });
      };
      /** Before open(): a call in flight is dropped (failed); one done (4, or 0 after an abort() once done) ended as the app saw it. */
      const endBeforeOpen = () => {
        if (sentIds.length) endCall(xhr.readyState === 4 || xhr.readyState === 0 ? doneStatus : 0);
        doneStatus = 0;
      };
      const finish = () => {
        if (finished) return;
        finished = true;
        resolveStep();
      };
      const responseOf = (): string => {
        try {
          switch (xhr.responseType) {
            case '':
            case 'text':
              return `text ${JSON.stringify(xhr.response)}`;
            case 'json':
              return `json ${JSON.stringify(xhr.response)}`;
            case 'arraybuffer':
              return xhr.response ? `buffer ${bytesOf(xhr.response)}` : 'buffer null';
            case 'blob':
              return xhr.response ? `blob ${xhr.response.size} ${xhr.response.type}` : 'blob null';
            case 'document': {
              const doc = xhr.response as Document | null;
              return doc ? `document ${doc.documentElement?.nodeName} ${doc.documentElement?.textContent}` : 'document null';
            }
          }
        } catch (error) {
          return `response threw ${describe(error)}`;
        }
      };
      const headersRead = () =>
        [
          xhr.getResponseHeader('content-type'),
          xhr.getResponseHeader('X-Fz'),
          xhr
            .getAllResponseHeaders()
            .split('\r\n')
            .filter((line) => line && !line.startsWith('date:'))
            .join(';'),
          xhr.responseURL.replace(blobUrl, 'blob:(url)').replace(location.origin, ''),
          xhr.statusText,
        ].join('|');
      const open = (method: string, to: string | URL, async: boolean, callId: string | undefined) => {
        endBeforeOpen();
        if (attempt('open', () => (xhr.open(method, to, async), true))) openedId = callId;
      };
      const send = (body?: BodyKind) => {
        const starts = xhr.readyState === 1 && !sentIds.length;
        // Under way before send() returns: an abort() from the app's loadstart handler ends it within send().
        if (starts) sentIds.push(openedId);
        attempt('send', () => xhr.send(bodyOf(body) as XMLHttpRequestBodyInit | undefined));
        log(`after send ${xhr.readyState} ${xhr.status}`);
        // A synchronous call is over when send() returns or throws.
        if (starts && step.sync && sentIds.length) endCall(xhr.status);
      };
      const reopen = () => {
        if (reopened) return;
        reopened = true;
        const again = urlOf({ api: { t: 'text' }, form: 'relative' });
        open('GET', again.url, true, again.id);
        send();
        log(`reopened ${xhr.readyState}`);
      };
      const handle = (how: string, event: Event | ProgressEvent) => {
        const type = event.type as XhrEventName;
        let entry = `${how}${type} ${xhr.readyState} ${xhr.status}`;
        if (type === 'load' && 'loaded' in event) entry += ` ${event.lengthComputable} ${event.loaded}/${event.total}`;
        if (type === 'load' || (type === 'readystatechange' && xhr.readyState === 4)) entry += ` ${responseOf()} ${headersRead()}`;
        if (type === 'load' && step.readText) entry += ` responseText ${attempt('responseText', () => xhr.responseText)?.length}`;
        log(entry);
        // The status of a call done, as the app last saw it (an abort() from a handler at readyState 4 resets it to 0).
        if (xhr.readyState === 4) doneStatus = xhr.status;
        // The loadend of the call under way; one that comes after the app reopened the object (readyState 1) is the old call's, ended at open().
        if (type === 'loadend' && (xhr.readyState === 4 || xhr.readyState === 0) && sentIds.length) endCall(doneStatus);
        if (how === 'on:' && step.style === 'both') return; // the app acts once per event, from its listener
        const state = `rsc${xhr.readyState}`;
        if (step.abortOn && (step.abortOn === type || (type === 'readystatechange' && step.abortOn === state))) {
          attempt('abort', () => xhr.abort());
          log(`aborted ${xhr.readyState} ${xhr.status}`);
        }
        if (step.reopenOn && (step.reopenOn === type || (type === 'readystatechange' && step.reopenOn === state))) reopen();
        // An abort() at readyState 4 before load ends the call with no loadend: over all the same.
        setTimeout(() => {
          if ((xhr.readyState === 4 || xhr.readyState === 0) && sentIds.length) endCall(doneStatus);
          if (sentIds.length === 0) finish();
        });
      };
      const types: XhrEventName[] = ['readystatechange', 'loadstart', 'progress', 'abort', 'error', 'load', 'timeout', 'loadend'];
      const listen = (how: 'on' | 'listener' | 'late') => {
        for (const type of types) {
          if (how === 'on') (xhr as unknown as Record<string, unknown>)[`on${type}`] = (event: Event) => handle('on:', event);
          else xhr.addEventListener(type, (event) => handle(`${how}:`, event));
        }
      };
      if (step.style === 'on' || step.style === 'both') listen('on');
      if (step.style === 'listener' || step.style === 'both') listen('listener');
      if (step.upload) for (const type of types.slice(1)) xhr.upload.addEventListener(type, (event) => log(`upload ${event.type} ${xhr.readyState}`));

      const openCall = () => open(step.method, url, !step.sync, id);
      const setHeaders = () => {
        for (const [name, value] of step.headers) attempt(`setRequestHeader ${name}`, () => xhr.setRequestHeader(name, value));
      };
      attempt('responseType', () => (xhr.responseType = step.responseType));
      if (step.timeout !== undefined) attempt('timeout', () => (xhr.timeout = step.timeout!));
      switch (step.order) {
        case 'headerBeforeOpen':
          setHeaders();
          openCall();
          send(step.body);
          break;
        case 'sendBeforeOpen':
          send(step.body);
          openCall();
          setHeaders();
          send(step.body);
          break;
        case 'sendTwice':
          openCall();
          setHeaders();
          send(step.body);
          send(step.body);
          break;
        case 'headerAfterSend':
          openCall();
          send(step.body);
          setHeaders();
          break;
        case 'openTwice':
          openCall();
          setHeaders();
          openCall();
          send(step.body);
          break;
        case 'openAfterSend':
          // A second call on the object while the first is under way: the first is dropped.
          openCall();
          send(step.body);
          {
            const second = urlOf(step.target);
            open(step.method, second.url, !step.sync, second.id);
          }
          send(step.body);
          break;
        case 'noSend':
          openCall();
          setHeaders();
          break;
        default:
          openCall();
          setHeaders();
          send(step.body);
      }
      if (step.style === 'late') listen('late');
      if (step.abortOn === 'afterSend') {
        attempt('abort', () => xhr.abort());
        log(`aborted ${xhr.readyState} ${xhr.status}`);
      }
      log(`state ${xhr.readyState}`);
      // A call that failed within send() (a scheme the browser refuses) fired its loadend before the late
      // listeners were added: it is over all the same. (Once readyState is 4, its loadend has been dispatched.)
      setTimeout(() => {
        if (xhr.readyState === 4 && sentIds.length) endCall(xhr.status);
        if (sentIds.length === 0) finish();
      });
    });

  for (const [index, step] of steps.entries()) {
    log(`step ${index} ${step.kind}`);
    let stuck: ReturnType<typeof setTimeout> | undefined;
    const tooLong = new Promise<'stuck'>((resolve) => (stuck = setTimeout(() => resolve('stuck'), 5000)));
    try {
      const ended = await Promise.race([step.kind === 'fetch' ? runFetch(step) : runXhr(step), tooLong]);
      if (ended === 'stuck') log('stuck');
    } catch (error) {
      log(`step threw ${describe(error)}`);
    }
    clearTimeout(stuck);
    // Events that come after the step's end (a loadend after a reopen's) land in this step, not the next.
    await macrotask();
    await macrotask();
  }
  URL.revokeObjectURL(blobUrl);
  return { trace, calls };
}
