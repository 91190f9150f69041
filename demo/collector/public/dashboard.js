// @ts-check
/**
 * The collector's dashboard: polls the query API every two seconds and redraws four views.
 * Every value comes from the wire, so the DOM is built with textContent and attributes only,
 * never innerHTML: a metadata value of `<img src=x onerror=alert(1)>` shows as text.
 */

const POLL_MS = 2000;
/** @type {{ user_id?: string, company_id?: string }} */
const filter = {};

/**
 * Makes an element; children are nodes or text (text is always set as text, never parsed).
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {...(Node | string | number | null | undefined)} children
 */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** @param {string | null | undefined} iso */
function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

/** Compact JSON of a value, cut to a readable length. @param {unknown} value */
function brief(value, max = 140) {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text === '{}') return '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** @param {string} id @param {Node[]} rows @param {number} columns @param {string} emptyText */
function fillTable(id, rows, columns, emptyText) {
  const body = /** @type {HTMLTableSectionElement} */ (document.querySelector(`#${id} tbody`));
  body.replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { class: 'empty', colspan: String(columns) }, emptyText))]));
}

/** A user id that filters the events table when clicked. @param {string | null} userId */
function userLink(userId) {
  if (!userId) return '';
  const button = el('button', { class: 'link mono', type: 'button', title: 'Show only this user\'s events' }, userId);
  button.addEventListener('click', () => setFilter({ user_id: userId }));
  return button;
}

/** @param {{ user_id?: string, company_id?: string }} next */
function setFilter(next) {
  delete filter.user_id;
  delete filter.company_id;
  Object.assign(filter, next);
  void refresh();
}

function renderFilter() {
  const p = /** @type {HTMLElement} */ (document.getElementById('filter'));
  const [name, value] = Object.entries(filter)[0] ?? [];
  p.hidden = !name;
  if (!name) return p.replaceChildren();
  const clear = el('button', { class: 'link', type: 'button' }, 'show all');
  clear.addEventListener('click', () => setFilter({}));
  p.replaceChildren('Only events of ', el('code', {}, `${name} = ${value}`), clear);
}

/** @param {any} data */
function renderEvents(data) {
  /** @type {HTMLElement} */ (document.getElementById('events-count')).textContent = `${data.total} stored, newest first`;
  const rows = data.events.map((/** @type {any} */ e) => {
    const what = e.kind === 'action' ? e.action_name : `${e.verb} ${e.uri}`;
    const status = e.status === null || e.status === undefined ? '' : String(e.status);
    return el(
      'tr',
      { 'data-kind': e.kind },
      el('td', {}, when(e.time)),
      el('td', {}, el('span', { class: `kind ${e.kind}` }, e.kind === 'action' ? 'Action' : 'API call')),
      el('td', { class: 'wrap' }, what),
      el('td', { class: `status s${status.charAt(0)}` }, status),
      // The seed's two ids: User Id (an anonymous visitor's is the anonymous id), and Identified User Id (blank while anonymous).
      el('td', { class: 'mono' }, userLink(e.user_id)),
      el('td', { class: 'mono anon' }, e.anonymous_id ?? ''),
      el('td', { class: 'mono' }, e.company_id ?? ''),
      el('td', { class: 'mono' }, e.identified_user_id ?? ''),
      el('td', { class: 'wrap mono' }, brief(e.metadata)),
    );
  });
  fillTable('events', rows, 9, 'No events yet. Point an SDK here and use your app.');
}

/** @param {any} data */
function renderUsers(data) {
  /** @type {HTMLElement} */ (document.getElementById('users-count')).textContent = `${data.total} profiles`;
  const rows = data.users.map((/** @type {any} */ u) =>
    el(
      'tr',
      { 'data-user-id': u.user_id },
      el('td', { class: 'mono' }, userLink(u.user_id)),
      el('td', { class: 'mono' }, u.identified_user_id ?? el('span', { class: 'anon' }, 'anonymous')),
      el('td', { class: 'mono wrap anon' }, u.anonymous_ids.join(', ')),
      el('td', { class: 'mono' }, u.company_id ?? ''),
      el('td', {}, when(u.first_seen)),
      el('td', {}, when(u.last_seen)),
      el('td', { class: 'num' }, u.action_count),
      el('td', { class: 'num' }, u.event_count),
      el('td', { class: 'wrap' }, brief(u.campaign, 80)),
      el('td', { class: 'wrap mono' }, brief(u.metadata, 80)),
    ),
  );
  fillTable('users', rows, 10, 'No users yet.');
}

/** @param {any} data */
function renderCompanies(data) {
  /** @type {HTMLElement} */ (document.getElementById('companies-count')).textContent = `${data.companies.length}`;
  const rows = data.companies.map((/** @type {any} */ c) => {
    const link = el('button', { class: 'link mono', type: 'button', title: 'Show only this company\'s events' }, c.company_id);
    link.addEventListener('click', () => setFilter({ company_id: c.company_id }));
    return el(
      'tr',
      {},
      el('td', {}, link),
      el('td', {}, c.company_domain ?? ''),
      el('td', { class: 'num' }, c.user_count),
      el('td', { class: 'num' }, c.action_count),
      el('td', { class: 'num' }, c.event_count),
      el('td', {}, when(c.last_seen)),
    );
  });
  fillTable('companies', rows, 6, 'No companies yet.');
}

/** @param {number | null} rate */
const percent = (rate) => (rate === null ? '–' : `${Math.round(rate * 1000) / 10}%`);

/** @param {any} data */
function renderFunnel(data) {
  const top = Math.max(1, data.steps[0]?.users ?? 0);
  const steps = data.steps.map((/** @type {any} */ s, /** @type {number} */ n) => {
    const bar = el('div', { class: 'bar', 'data-testid': 'funnel-bar' });
    bar.style.width = `${(s.users / top) * 100}%`;
    return el(
      'div',
      { class: 'funnel-step', 'data-step': s.step },
      el('span', { class: 'label' }, `${n + 1}. ${s.label}`),
      el('div', { class: 'track' }, bar),
      el('span', { class: 'numbers' }, el('strong', {}, s.users), n === 0 ? ` of ${data.profiles} users` : ` · ${percent(s.rate_from_previous)} of previous`),
    );
  });
  /** @type {HTMLElement} */ (document.getElementById('funnel')).replaceChildren(...steps);
}

const SVG = 'http://www.w3.org/2000/svg';

/**
 * An SVG element; attribute values and text are set as such, never parsed.
 * @param {string} tag @param {Record<string, string | number>} [attrs] @param {string} [text]
 */
function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Actions and API calls per hour (a range of two days or less) or per day, as bars: one group per
 * bucket, each bar's height to scale with the busiest bucket. The numbers are the query API's own
 * (/api/activity), kept on each group and in its tooltip.
 * @param {any} data an /api/activity answer
 */
function renderActivity(data) {
  const box = /** @type {HTMLElement} */ (document.getElementById('activity'));
  /** @type {{ start: string, actions: number, events: number }[]} */
  const buckets = data.buckets;
  box.dataset.bucket = data.bucket;
  /** @type {HTMLElement} */ (document.getElementById('activity-summary')).textContent =
    `${data.actions} actions, ${data.events} API calls, per ${data.bucket}${filterText()}`;
  if (buckets.length === 0) return box.replaceChildren(el('p', { class: 'empty' }, 'No activity yet.'));
  const width = 1000;
  const height = 130;
  const top = 6;
  const bottom = 18;
  // At most 60 units a bucket, so that a few buckets are bars, not blocks.
  const step = Math.min(width / buckets.length, 60);
  const bar = Math.max(1, step * 0.38);
  const highest = Math.max(1, ...buckets.map((b) => Math.max(b.actions, b.events)));
  const scale = (/** @type {number} */ n) => (n / highest) * (height - top - bottom);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'Activity over time' });
  buckets.forEach((b, i) => {
    const x = i * step + step * 0.1;
    const label = data.bucket === 'hour' ? new Date(b.start).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' }) : new Date(b.start).toLocaleDateString();
    const group = svg('g', { 'data-start': b.start, 'data-actions': b.actions, 'data-events': b.events });
    group.append(
      svg('title', {}, `${label}: ${b.actions} actions, ${b.events} API calls`),
      svg('rect', { class: 'actions', x, y: height - bottom - scale(b.actions), width: bar, height: scale(b.actions) }),
      svg('rect', { class: 'events', x: x + bar, y: height - bottom - scale(b.events), width: bar, height: scale(b.events) }),
    );
    chart.append(group);
  });
  const first = buckets[0];
  const last = buckets[buckets.length - 1];
  const day = (/** @type {string} */ iso) => new Date(iso).toLocaleDateString();
  chart.append(svg('text', { class: 'axis', x: 0, y: height - 4 }, day(first.start)));
  if (buckets.length > 1) chart.append(svg('text', { class: 'axis', x: width, y: height - 4, 'text-anchor': 'end' }, day(last.start)));
  box.replaceChildren(chart);
}

/** " for <user or company>" while the events are filtered. */
function filterText() {
  const [name, value] = Object.entries(filter)[0] ?? [];
  return name ? ` for ${name === 'user_id' ? 'user' : 'company'} ${value}` : '';
}

/** @param {string} path */
async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (res.status === 401) throw new NeedsToken();
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

/** The collector listens beyond loopback and this browser has not given its read token yet. */
class NeedsToken extends Error {}

let inFlight = false;
async function refresh() {
  if (inFlight) return;
  inFlight = true;
  const status = /** @type {HTMLElement} */ (document.getElementById('status'));
  try {
    const query = new URLSearchParams({ limit: '100', ...filter });
    const scope = new URLSearchParams(filter);
    const [events, users, companies, funnel, hourly] = await Promise.all([
      getJson(`/api/events?${query}`),
      getJson('/api/users?limit=100'),
      getJson('/api/companies'),
      getJson('/api/funnel'),
      getJson(`/api/activity?bucket=hour&${scope}`),
    ]);
    // Per hour over two days or less, else per day (asked again: the API sums the days).
    const span = hourly.buckets.length ? Date.parse(hourly.buckets[hourly.buckets.length - 1].start) - Date.parse(hourly.buckets[0].start) : 0;
    const activity = span <= 48 * 3600 * 1000 ? hourly : await getJson(`/api/activity?bucket=day&${scope}`);
    renderFilter();
    renderEvents(events);
    renderUsers(users);
    renderCompanies(companies);
    renderFunnel(funnel);
    renderActivity(activity);
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
    status.classList.remove('stale');
  } catch (err) {
    status.textContent = err instanceof NeedsToken ? 'this collector needs its read token: open /?token=<USERTRAIL_READ_TOKEN>' : 'collector unreachable, retrying…';
    status.classList.add('stale');
  } finally {
    inFlight = false;
  }
}

async function start() {
  try {
    const info = await getJson('/api/info');
    /** @type {HTMLElement} */ (document.getElementById('app-id')).textContent = info.application_id;
  } catch {
    // The id is a convenience; the views work without it.
  }
  await refresh();
  setInterval(() => void refresh(), POLL_MS);
}

void start();
