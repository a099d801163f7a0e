// The files the pages load: htmx vendored from node_modules (never a CDN), our script and our
// stylesheet. URLs carry the package version so a release never runs against a stale cached file.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Asset } from '../../routes/static-assets.js';
import { VERSION } from '../../version.js';
import { CLIENT_SCRIPT } from './client-script.js';
import { STYLESHEET } from './stylesheet.js';

const require = createRequire(import.meta.url);
const htmxDir = join(dirname(require.resolve('htmx.org/package.json')), 'dist');
const JS = 'text/javascript; charset=utf-8';

export const ASSET_PATHS = {
  htmx: '/assets/htmx.min.js',
  script: '/assets/app.js',
  stylesheet: '/assets/app.css',
  icon: '/assets/icon.svg',
} as const;

/** A gatehouse's arch in the product's colour: linked from every page, so no browser asks for /favicon.ico. */
const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#24509a"/>`
  + `<path d="M8 26V12l8-6 8 6v14h-5v-7a3 3 0 0 0-6 0v7z" fill="#fff"/></svg>`;

/** The URL a page links to: the route's path plus a version query (the router ignores the query). */
export function assetUrl(name: keyof typeof ASSET_PATHS): string {
  return `${ASSET_PATHS[name]}?v=${encodeURIComponent(VERSION)}`;
}

export const PAGE_ASSETS: readonly Asset[] = [
  { url: ASSET_PATHS.htmx, type: JS, source: { file: join(htmxDir, 'htmx.min.js') } },
  { url: ASSET_PATHS.script, type: JS, source: { text: CLIENT_SCRIPT } },
  { url: ASSET_PATHS.stylesheet, type: 'text/css; charset=utf-8', source: { text: STYLESHEET } },
  { url: ASSET_PATHS.icon, type: 'image/svg+xml', source: { text: ICON } },
];

/**
 * htmx options that keep it inside the page CSP and away from stored personal data (read by htmx
 * from <meta name="htmx-config">): no eval (hx-on, js: values, trigger filters), no script tags in
 * swapped content, no injected indicator <style>, no page snapshots in localStorage, requests to
 * this origin only; and 4xx answers are swapped like any other, since that is how forms show their
 * errors — not flagged as errors, which only made htmx log each one to the console. 5xx still are.
 * Settling copies class and size across a swap, never `style`: a field autofill or an extension
 * restyled carries a style attribute, which htmx would set again with setAttribute — an inline style
 * the page CSP refuses (a violation in the console on every form error).
 */
export const HTMX_CONFIG = {
  allowEval: false,
  attributesToSettle: ['class', 'width', 'height'],
  allowScriptTags: false,
  includeIndicatorStyles: false,
  selfRequestsOnly: true,
  withCredentials: false,
  historyCacheSize: 0,
  refreshOnHistoryMiss: true,
  historyRestoreAsHxRequest: false,
  responseHandling: [
    { code: '204', swap: false },
    { code: '[23]..', swap: true },
    { code: '4..', swap: true, error: false },
    { code: '5..', swap: true, error: true },
  ],
} as const;
