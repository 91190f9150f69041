/** The dashboard: static files served to browsers (public/), which read the query API. */
import express from 'express';
import { fileURLToPath } from 'node:url';

const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));

export function mountDashboard(app: express.Express): void {
  app.get('/favicon.ico', (_req, res) => void res.status(204).end());
  app.use(express.static(PUBLIC_DIR, { index: 'index.html' }));
}
