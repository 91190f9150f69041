/**
 * The frame every demo page shares: head, navigation, the SDK status line and the scripts. A page
 * file (pages/*.html) holds only its title, on the first line as `<title>...</title>`, and the
 * content of its <main>. Docs pages share the `docs` page name; the others are named by their file.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const PAGES_DIR = fileURLToPath(new URL('./pages/', import.meta.url));

/** The demo's pages by path, and the file each is made from. */
export const PAGES = {
  '/docs/': 'docs/index',
  '/docs/quickstart': 'docs/quickstart',
  '/docs/api': 'docs/api',
  '/signup': 'signup',
  '/login': 'login',
  '/app': 'app',
} as const;

export type PageFile = (typeof PAGES)[keyof typeof PAGES];

/** The whole page made from `file`, a value of PAGES. */
export async function renderPage(file: PageFile): Promise<string> {
  const source = await readFile(`${PAGES_DIR}${file}.html`, 'utf8');
  const [, title, content] = /^<title>(.*)<\/title>\n([\s\S]*)$/.exec(source) ?? ['', file, source];
  const name = file.startsWith('docs/') ? 'docs' : file;
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${title} · Acme API (usertrail demo)</title>
  <link rel="stylesheet" href="/demo.css">
</head>
<body data-page="${name}">
  <nav>
    <a class="brand" href="/docs/" data-docs-link>Acme API</a>
    <a href="/docs/" data-docs-link>Docs</a>
    <a href="/docs/quickstart" data-docs-link>Quickstart</a>
    <a href="/docs/api" data-docs-link>API reference</a>
    <a href="/signup" data-app-link>Sign up</a>
    <a href="/login" data-app-link>Log in</a>
    <a href="/app" data-app-link>Dashboard</a>
  </nav>
  <main>
    <p id="sdk-status" hidden></p>
${content}  </main>
  <script src="/moesif.min.js"></script>
  <script src="/config.js"></script>
  <script src="/demo.js"></script>
</body>
</html>
`;
}
