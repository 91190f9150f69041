import { join } from 'node:path';
import { build } from 'esbuild';
import type { Page } from '@playwright/test';
import { expect, test } from './support/fixtures';
import { startRecorder, type Recorder } from './support/recorder';

/**
 * Automatic page views (`trackPageViews`) under the routers single-page apps really run: vue-router 4
 * (history and hash mode, its global build from node_modules) and React Router 7 (createBrowserRouter
 * and <BrowserRouter>, bundled by esbuild from node_modules). Each app has the same few routes and a visitor's journey
 * through them by clicks, a search form, back and forward. What the collector receives is asserted:
 * one view per navigation the visitor made, in order, each with its URL, the new route's title and the
 * previous view's URL as referrer; none for the router's own replaceState calls (scroll positions,
 * its state on load), a navigation to the URL shown, or one the router cancels. The same journey
 * without the SDK gives the same app, and neither logs a console error.
 *
 * moesif-browser-js has no automatic page views (neither 1.8.13 nor 1.10.2 wraps pushState or listens
 * to popstate): there is nothing of it to compare here.
 *
 * Redirects, as a user of an analytics product would count them: a route the router redirects before
 * showing it (vue-router's `redirect`, a loader's `redirect()`), and one that replaces itself as soon as
 * it rendered (`<Navigate replace>`, `router.replace()` on mount), are one view, of where the visitor
 * landed: nobody saw the page redirected from, and back never returns to it.
 */

const ROOT = join(import.meta.dirname, '..');
const INIT = `<script src="/dist/moesif.min.js"></script>
  <script>moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 50, trackPageViews: true });</script>`;

type View = { pathname: string; search: string; hash: string; title: string; referrer: string; host: string };
const views = (collector: Recorder): View[] =>
  collector
    .items('actions')
    .filter((action) => action.action_name === 'Page View')
    .map((action) => action.metadata as View);

/** The routes every app has, by the same names in its navigation; each route's title is set by the app after it rendered. */
const TITLES: Record<string, string> = { '/': 'Home', '/about': 'About', '/docs': 'Docs', '/login': 'Log in', '/account': 'Account', '/editor': 'Editor' };

/** vue-router's app: titles from route meta in an afterEach guard, About's in its component, the scroll kept by scrollBehavior. */
const vueApp = (history: string) => `<script src="/node_modules/vue/dist/vue.global.prod.js"></script>
  <script src="/node_modules/vue-router/dist/vue-router.global.prod.js"></script>
  <div id="app"></div>
  <script>
    const { createApp, ref, onMounted } = Vue;
    const { createRouter, createWebHistory, createWebHashHistory, useRouter, useRoute, onBeforeRouteLeave } = VueRouter;
    const page = (name) => ({ template: '<h1>' + name + '</h1>' });
    const routes = [
      { path: '/', component: page('Home'), meta: { title: 'Home' } },
      // The title set by the component once it is in the page.
      { path: '/about', component: { template: '<h1>About</h1>', setup() { onMounted(() => { document.title = 'About'; }); } } },
      { path: '/docs', component: page('Docs'), meta: { title: 'Docs' } },
      { path: '/old-docs', redirect: '/docs' },
      // A page that moved, redirected by the component once rendered.
      { path: '/legacy-docs', component: { template: '<p>Moved</p>', setup() { const router = useRouter(); onMounted(() => router.replace('/docs')); } } },
      // A guard that refuses: the navigation is cancelled.
      { path: '/private', component: page('Private'), meta: { title: 'Private' }, beforeEnter: () => false },
      // Sorting rewrites the query in place (router.replace): the same page, differently ordered.
      { path: '/search', component: {
        template: '<h1>Results for {{ $route.query.q }}</h1><button @click="sort">Sort by price</button>',
        setup() { const router = useRouter(); const route = useRoute(); return { sort: () => router.replace({ query: { ...route.query, sort: 'price' } }) }; },
      } },
      { path: '/login', meta: { title: 'Log in' }, component: {
        template: '<h1>Log in</h1><button @click="signIn">Sign in</button>',
        setup() { const router = useRouter(); return { signIn: () => router.replace('/account') }; },
      } },
      { path: '/account', component: page('Account'), meta: { title: 'Account' } },
      // Unsaved changes keep the visitor here: the guard cancels the navigation, and a back or forward is undone.
      { path: '/editor', meta: { title: 'Editor' }, component: {
        template: '<h1>Editor</h1><label><input type="checkbox" v-model="unsaved"> Unsaved changes</label>',
        setup() { const unsaved = ref(false); onBeforeRouteLeave(() => !unsaved.value); return { unsaved }; },
      } },
    ];
    const router = createRouter({ history: ${history}, routes, scrollBehavior: (to, from, saved) => saved || { top: 0 } });
    router.afterEach((to, from, failure) => {
      // A cancelled or duplicated navigation keeps the page's title.
      if (failure) return;
      if (to.path === '/search') document.title = 'Search: ' + to.query.q;
      else if (to.meta.title) document.title = to.meta.title;
    });
    createApp({
      template: \`<nav>
          <router-link to="/">Home</router-link> <router-link to="/about">About</router-link>
          <router-link to="/legacy-docs">Legacy docs</router-link> <router-link to="/old-docs">Old docs</router-link>
          <router-link to="/docs">Docs</router-link> <router-link to="/private">Private</router-link>
          <router-link to="/login">Log in</router-link> <router-link to="/editor">Editor</router-link>
        </nav>
        <form @submit.prevent="search"><input name="q" v-model="q"><button>Search</button></form>
        <router-view></router-view>
        <div style="height: 3000px"></div>\`,
      setup() {
        const q = ref('');
        const router = useRouter();
        return { q, search: () => router.push({ path: '/search', query: { q: q.value } }) };
      },
    }).use(router).mount('#app');
  </script>`;

/**
 * React Router's app, titles set in effects, <Navigate replace>; built twice: with createBrowserRouter
 * (DATA_ROUTER: a loader's redirect, a blocker, <ScrollRestoration>) and with <BrowserRouter>, which has
 * none of them (its /old-docs is a <Navigate replace> too, and nothing cancels a navigation).
 */
const REACT_APP = `
import { useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { createBrowserRouter, BrowserRouter, RouterProvider, Link, Navigate, Outlet, ScrollRestoration, redirect, useBlocker, useNavigate, useRoutes, useSearchParams } from 'react-router';

const useTitle = (title) => useEffect(() => { document.title = title; }, [title]);
const Page = ({ name }) => { useTitle(name); return <h1>{name}</h1>; };

/** The editor's unsaved changes, which keep the visitor there (a router has one blocker at a time: Layout's). */
const draft = { unsaved: false };

/**
 * Declines at once, as a visitor answering "stay" would: the navigation is cancelled, and a back or
 * forward undone. Always for /private, and away from the editor with unsaved changes.
 */
function Blocker() {
  const blocker = useBlocker(({ currentLocation, nextLocation }) =>
    nextLocation.pathname === '/private' || (currentLocation.pathname === '/editor' && draft.unsaved));
  useEffect(() => { if (blocker.state === 'blocked') blocker.reset(); }, [blocker]);
  return null;
}

function Layout() {
  const navigate = useNavigate();
  const [q, setQ] = useState('');
  return <>
    <nav>
      <Link to="/">Home</Link> <Link to="/about">About</Link> <Link to="/legacy-docs">Legacy docs</Link> <Link to="/old-docs">Old docs</Link>
      <Link to="/docs">Docs</Link> <Link to="/private">Private</Link> <Link to="/login">Log in</Link> <Link to="/editor">Editor</Link>
    </nav>
    <form onSubmit={(event) => { event.preventDefault(); navigate('/search?q=' + encodeURIComponent(q)); }}>
      <input name="q" value={q} onChange={(event) => setQ(event.target.value)} /><button>Search</button>
    </form>
    <Outlet />
    <div style={{ height: 3000 }} />
    {DATA_ROUTER && <><Blocker /><ScrollRestoration /></>}
  </>;
}

// Sorting rewrites the query in place (replace): the same page, differently ordered.
function Search() {
  const [params, setParams] = useSearchParams();
  useTitle('Search: ' + params.get('q'));
  return <><h1>Results for {params.get('q')}</h1>
    <button onClick={() => setParams({ q: params.get('q'), sort: 'price' }, { replace: true })}>Sort by price</button></>;
}

function Login() {
  const navigate = useNavigate();
  useTitle('Log in');
  return <><h1>Log in</h1><button onClick={() => navigate('/account', { replace: true })}>Sign in</button></>;
}

function Editor() {
  useTitle('Editor');
  const [unsaved, setUnsaved] = useState(false);
  const change = (event) => { draft.unsaved = event.target.checked; setUnsaved(event.target.checked); };
  return <><h1>Editor</h1><label><input type="checkbox" checked={unsaved} onChange={change} /> Unsaved changes</label></>;
}

const routes = [{ path: '/', element: <Layout />, children: [
  { index: true, element: <Page name="Home" /> },
  { path: 'about', element: <Page name="About" /> },
  { path: 'docs', element: <Page name="Docs" /> },
  DATA_ROUTER ? { path: 'old-docs', loader: () => redirect('/docs') } : { path: 'old-docs', element: <Navigate to="/docs" replace /> },
  { path: 'legacy-docs', element: <Navigate to="/docs" replace /> },
  { path: 'private', element: <Page name="Private" /> },
  { path: 'search', element: <Search /> },
  { path: 'login', element: <Login /> },
  { path: 'account', element: <Page name="Account" /> },
  { path: 'editor', element: <Editor /> },
] }];
const root = createRoot(document.getElementById('app'));
if (DATA_ROUTER) root.render(<RouterProvider router={createBrowserRouter(routes, { basename: '/react' })} />);
else {
  const App = () => useRoutes(routes);
  root.render(<BrowserRouter basename="/react-routes"><App /></BrowserRouter>);
}
`;

/** The React apps bundled as a user's build would (production React), once for all tests. */
const reactBundles = { data: '', declarative: '' };
test.beforeAll(async () => {
  const bundle = async (dataRouter: boolean) => {
    const result = await build({
      stdin: { contents: REACT_APP, loader: 'jsx', resolveDir: ROOT },
      bundle: true,
      format: 'esm',
      jsx: 'automatic',
      define: { 'process.env.NODE_ENV': '"production"', DATA_ROUTER: String(dataRouter) },
      minify: true,
      write: false,
      logLevel: 'silent',
    });
    // Inline in the page: no `</script` may end the script early.
    return result.outputFiles[0].text.replace(/<\/script/gi, '<\\/script');
  };
  [reactBundles.data, reactBundles.declarative] = await Promise.all([bundle(true), bundle(false)]);
});

interface App {
  name: string;
  /** The address of a route of the app. */
  url(route: string): string;
  /** The paths the page is served at (a history-mode app loads from any of its routes). */
  paths: string[];
  body(): string;
  /** Routes that redirect to /docs, opened as the app's first page; `pushed` where the router keeps them in the history (see below). */
  landings: Array<{ route: string; pushed?: true }>;
  /** Whether the router can cancel a navigation (vue-router's guards, the data router's useBlocker). */
  cancels: boolean;
}

const APPS: App[] = [
  { name: 'vue-router, history mode', url: (route) => '/vue' + route, paths: ['/vue/', '/vue/old-docs', '/vue/legacy-docs'], body: () => vueApp("createWebHistory('/vue/')"), landings: [{ route: '/old-docs' }, { route: '/legacy-docs' }], cancels: true },
  { name: 'vue-router, hash mode', url: (route) => '/vuehash/#' + route, paths: ['/vuehash/'], body: () => vueApp('createWebHashHistory()'), landings: [{ route: '/old-docs' }, { route: '/legacy-docs' }], cancels: true },
  {
    name: 'React Router, createBrowserRouter',
    url: (route) => (route === '/' ? '/react' : '/react' + route),
    paths: ['/react', '/react/old-docs', '/react/legacy-docs'],
    body: () => `<div id="app"></div><script type="module">${reactBundles.data}</script>`,
    // React Router 7 follows a loader's redirect on the first load with a pushState (its startRedirectNavigation
    // replaces only when told): /old-docs stays in the history, and back returns to it (and is redirected again).
    // Two history entries, two views: the SDK cannot tell that pushState from a visitor's quick click, whose
    // view (the landing page's, say) must not be lost.
    landings: [{ route: '/legacy-docs' }, { route: '/old-docs', pushed: true }],
    cancels: true,
  },
  {
    name: 'React Router, <BrowserRouter>',
    url: (route) => (route === '/' ? '/react-routes' : '/react-routes' + route),
    paths: ['/react-routes', '/react-routes/old-docs', '/react-routes/legacy-docs'],
    body: () => `<div id="app"></div><script type="module">${reactBundles.declarative}</script>`,
    landings: [{ route: '/legacy-docs' }, { route: '/old-docs' }],
    cancels: false,
  },
];

const html = (app: App, sdk: boolean) => `<!doctype html><html><head><title>Shop</title><link rel="icon" href="data:,">${sdk ? INIT : ''}</head><body>${app.body()}</body></html>`;

/** One thing the visitor does, and the route it leads to; `view: false` where it changes nothing (the app stays where it was). */
interface Step {
  does: string;
  act(page: Page, url: (route: string) => string): Promise<unknown>;
  /** The route (path and query) and title the app shows after it. */
  to: string;
  view: boolean;
  /** Only for a router that can cancel navigations (App.cancels). */
  cancelled?: true;
}

const click = (name: string) => (page: Page) => page.getByRole('link', { name, exact: true }).click();
const search = (q: string) => async (page: Page) => {
  await page.fill('input[name=q]', q);
  await page.getByRole('button', { name: 'Search' }).click();
};
const scrolled = (act: (page: Page) => Promise<unknown>) => async (page: Page) => {
  // Down the page first: the router records the scroll position (vue-router with replaceState) before it navigates.
  await page.mouse.wheel(0, 1200);
  await page.waitForFunction(() => scrollY > 0);
  await act(page);
};

const JOURNEY: Step[] = [
  { does: 'opens the app', act: (page, url) => page.goto(url('/')), to: '/', view: true },
  { does: 'clicks About', act: scrolled(click('About')), to: '/about', view: true },
  { does: 'follows a link to a page that redirects once rendered', act: click('Legacy docs'), to: '/docs', view: true },
  { does: 'clicks About', act: click('About'), to: '/about', view: true },
  { does: 'follows a link the router redirects', act: click('Old docs'), to: '/docs', view: true },
  { does: 'clicks the link to the page shown', act: click('Docs'), to: '/docs', view: false },
  { does: 'clicks a link whose navigation is cancelled', act: click('Private'), to: '/docs', view: false, cancelled: true },
  { does: 'searches', act: scrolled(search('shoes')), to: '/search?q=shoes', view: true },
  { does: 'searches again (only the query changes)', act: search('boots'), to: '/search?q=boots', view: true },
  { does: 'goes back', act: (page) => page.goBack(), to: '/search?q=shoes', view: true },
  { does: 'goes back', act: (page) => page.goBack(), to: '/docs', view: true },
  { does: 'goes forward', act: (page) => page.goForward(), to: '/search?q=shoes', view: true },
  { does: 'sorts the results (the router replaces the query)', act: (page) => page.getByRole('button', { name: 'Sort by price' }).click(), to: '/search?q=shoes&sort=price', view: false },
  { does: 'clicks Log in', act: click('Log in'), to: '/login', view: true },
  { does: 'signs in (the app replaces the login page)', act: (page) => page.getByRole('button', { name: 'Sign in' }).click(), to: '/account', view: true },
  { does: 'clicks Editor', act: click('Editor'), to: '/editor', view: true },
  { does: 'makes changes', act: (page) => page.getByLabel('Unsaved changes').check(), to: '/editor', view: false, cancelled: true },
  { does: 'goes back, which the editor cancels (the router undoes it with history.go)', act: (page) => page.goBack(), to: '/editor', view: false, cancelled: true },
  { does: 'discards the changes', act: (page) => page.getByLabel('Unsaved changes').uncheck(), to: '/editor', view: false, cancelled: true },
  { does: 'goes back', act: (page) => page.goBack(), to: '/account', view: true },
  { does: 'goes back, past the replaced login page', act: (page) => page.goBack(), to: '/search?q=shoes&sort=price', view: true },
];

/** The address of `route` (a path, maybe with a query) in `app`. */
const addressOf = (app: App, route: string) => {
  const [path, query] = route.split('?');
  return app.url(path) + (query ? '?' + query : '');
};
const titleOf = (route: string) => TITLES[route] ?? 'Search: ' + new URLSearchParams(route.split('?')[1]).get('q');

/**
 * What the app shows: address, title, heading, history length, and whether the router saved a scroll
 * position in this entry (vue-router's replaceState before it leaves a page); the same with and without the SDK.
 */
const appState = (page: Page) =>
  page.evaluate(() => ({
    url: location.pathname + location.search + location.hash,
    title: document.title,
    heading: document.querySelector('h1')?.textContent ?? '',
    historyLength: history.length,
    scrollSaved: Number((history.state as { scroll?: { top?: number } } | null)?.scroll?.top) > 0,
  }));

/** The console errors and uncaught exceptions of `page`, as they come. */
function errorsOf(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  page.on('pageerror', (error) => errors.push(error.message));
  return errors;
}

/**
 * Takes the visitor through `steps`, waiting after each for the app to show its route and title and,
 * with the SDK, for the collector to hold the views expected by then; gives what the app showed after each.
 */
async function walk(page: Page, server: Recorder, app: App, steps: Step[], sdk: boolean) {
  const states = [];
  let viewsSoFar = 0;
  for (const step of steps) {
    await step.act(page, (route) => server.url + app.url(route));
    const shown = () => appState(page).then(({ url, title }) => [url, title]);
    await expect.poll(shown, { message: `${app.name}: the visitor ${step.does}` }).toEqual([addressOf(app, step.to), titleOf(step.to)]);
    if (step.view) viewsSoFar++;
    if (sdk) {
      // A view not expected would leave before the next expected one (a view still waiting for its title
      // goes first), and the final comparison lists them all; a marker at the end catches a last one.
      await expect.poll(() => views(server).length, { message: `${app.name}: views after the visitor ${step.does}` }).toBeGreaterThanOrEqual(viewsSoFar);
    }
    states.push(await appState(page));
  }
  return states;
}

/** The views `steps` should make: each step's route and title, the previous view's URL as referrer (none for the first). */
function expectedViews(collector: Recorder, app: App, steps: Step[]) {
  let referrer = '';
  return steps
    .filter((step) => step.view)
    .map((step) => {
      const url = collector.url + addressOf(app, step.to);
      const view = { url, title: titleOf(step.to), referrer };
      referrer = url;
      return view;
    });
}

/** The views the collector holds, as expectedViews() gives them, after a marker view made sure no other was still on its way. */
async function receivedViews(page: Page, collector: Recorder) {
  await page.evaluate(() => window.moesif.trackPageView({ marker: true }));
  await expect.poll(() => views(collector).at(-1)).toMatchObject({ marker: true });
  await collector.settled(page);
  return views(collector)
    .slice(0, -1)
    .map((view) => ({ url: `${collector.url}${view.pathname}${view.search}${view.hash}`, title: view.title, referrer: view.referrer }));
}

for (const app of APPS) {
  test.describe(app.name, () => {
    test.beforeEach(({ collector }) => {
      for (const path of app.paths) collector.page(path, html(app, true));
    });

    test("one view per navigation the visitor made, with its route's title and the previous view as referrer; the app the same without the SDK", async ({ page, browser, collector }) => {
      const errors = errorsOf(page);
      const journey = JOURNEY.filter((step) => app.cancels || !step.cancelled);
      const states = await walk(page, collector, app, journey, true);
      // The router's own replaceState calls happened, and made no view: vue-router saved the scroll position of
      // a page scrolled down before leaving it, found again on the way back.
      expect(states.some((state) => state.scrollSaved)).toBe(app.name.startsWith('vue-router'));
      expect(await receivedViews(page, collector)).toEqual(expectedViews(collector, app, journey));
      expect(views(collector)[0].host).toBe(`127.0.0.1:${collector.port}`);
      expect(errors).toEqual([]);

      // The same journey through the same app without the SDK, served by a server of its own.
      const server = await startRecorder();
      const plain = await browser.newPage();
      try {
        for (const path of app.paths) server.page(path, html(app, false));
        const plainErrors = errorsOf(plain);
        expect(await walk(plain, server, app, journey, false)).toEqual(states);
        expect(plainErrors).toEqual([]);
      } finally {
        await plain.close();
        await server.close();
      }
    });

    for (const { route, pushed } of app.landings) {
      test(`an app opened on ${route}, which the router redirects, is ${pushed ? 'two views, as the router pushed the redirect' : 'one view, of where the visitor landed'}`, async ({ page, collector }) => {
        const errors = errorsOf(page);
        const steps: Step[] = [
          { does: `opens the app on ${route}`, act: (page, url) => page.goto(url(route)), to: '/docs', view: true },
          { does: 'clicks About', act: click('About'), to: '/about', view: true },
        ];
        await walk(page, collector, app, steps, true);
        const expected = expectedViews(collector, app, steps);
        if (pushed) {
          // The redirected route's view, with the title of the page as it loaded; the next is viewed from it.
          const redirected = collector.url + app.url(route);
          expected.unshift({ url: redirected, title: 'Shop', referrer: '' });
          expected[1].referrer = redirected;
        }
        expect(await receivedViews(page, collector)).toEqual(expected);
        expect(errors).toEqual([]);
      });
    }
  });
}
