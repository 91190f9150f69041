/**
 * Page-side functions for specs that compare what an app gets of its calls with capture and another
 * library that wraps fetch and XMLHttpRequest (Sentry, OpenTelemetry) against what it gets without:
 * `viaFetch(url, init)` resolves to the status, content type and body text, or to the rejection's
 * name and message; `viaXhr(url, { method, headers, body, responseType, abort })` to the status,
 * content type, response and the events the app's listeners saw, each with its readyState.
 */
export const APP_CALLS = `
  const viaFetch = (url, init) => fetch(url, init).then(
    async (response) => ({ status: response.status, type: response.headers.get('content-type'), body: await response.text() }),
    (error) => ({ rejected: error.name + ': ' + error.message }),
  );
  const viaXhr = (url, { method = 'GET', headers = {}, body = null, responseType = '', abort = false } = {}) => new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    const events = [];
    for (const type of ['readystatechange', 'loadstart', 'load', 'error', 'abort', 'timeout', 'loadend']) xhr.addEventListener(type, () => events.push(type + ' ' + xhr.readyState));
    xhr.open(method, url);
    xhr.responseType = responseType;
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.onloadend = () => resolve({ status: xhr.status, type: xhr.getResponseHeader('content-type'), response: xhr.response, events });
    xhr.send(body);
    if (abort) xhr.abort();
  });`;
