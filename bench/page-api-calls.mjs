// @ts-check
/**
 * The page's own API calls for the capture workloads (run.mjs and capture-ab.mjs), defined by the
 * page before the SDK loads, as an app's code would be: one same-origin GET of /api/ping, awaiting
 * the response and its JSON body, with fetch or with XMLHttpRequest.
 */
export const PAGE_API_CALLS = `
window.calls = {
  fetch: async () => (await fetch('/api/ping')).json(),
  xhr: () => new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('GET', '/api/ping');
    xhr.onload = () => resolve(JSON.parse(xhr.responseText));
    xhr.onerror = reject;
    xhr.send();
  }),
};`;
