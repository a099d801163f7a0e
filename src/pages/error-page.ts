// HTML error pages for page routes (the errors plugin's `renderPage` hook): the catalogue's words,
// escaped, and the request id to quote to an operator; never a stack, SQL, path or library name.
// htmx requests get a small alert that replaces the flash region instead of the form they came from.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isUnder } from '../plugins/https-only.js';
import { pageCspFor } from '../plugins/security-headers.js';
import { html } from './html.js';
import { layout } from './layout.js';

const TITLES: Record<number, string> = {
  400: 'Bad request', 401: 'Not signed in', 403: 'Not allowed', 404: 'Not found', 405: 'Not allowed',
  409: 'Conflict', 413: 'Too large', 415: 'Unsupported', 429: 'Too many requests', 503: 'Unavailable',
};

function titleOf(status: number): string {
  return TITLES[status] ?? (status >= 500 ? 'Something went wrong' : 'Error');
}

export function isHtmxRequest(request: FastifyRequest): boolean {
  return request.headers['hx-request'] === 'true';
}

/** Where the JSON API lives: nothing under it is ever answered with a page. */
export const API_PREFIX = '/api';

/**
 * A request outside the API from a browser (it asks for HTML, or is htmx's): a mistyped page address
 * gets the HTML error page. Other clients (curl, API libraries: `Accept: *\/*`) keep the JSON error.
 */
export function browserPageRequest(request: FastifyRequest): boolean {
  if (isUnder(request.url.split('?')[0]!, API_PREFIX)) return false;
  return isHtmxRequest(request) || /\btext\/html\b/i.test(request.headers.accept ?? '');
}

/** Pages differ by HX-Request (fragment or whole page); appended, so CORS's `Vary: Origin` stays. */
export function varyOnHtmx(reply: FastifyReply): void {
  const current = reply.getHeader('vary');
  const list = (Array.isArray(current) ? current.join(',') : String(current ?? '')).split(',').map((v) => v.trim()).filter(Boolean);
  if (!list.some((v) => v.toLowerCase() === 'hx-request')) list.push('HX-Request');
  reply.header('vary', list.join(', '));
}

export function renderErrorPage(status: number, detail: string, request: FastifyRequest, reply: FastifyReply): string {
  // The 500 detail is already the bare "Internal Server Error"; anything else is a catalogue entry.
  const words = status >= 500 && status !== 503 ? 'Internal Server Error' : detail;
  const requestId = html`<span class="request-id">Request ID: <span class="mono">${request.id}</span></span>`;
  varyOnHtmx(reply);
  if (isHtmxRequest(request)) {
    // The alert replaces the flash region, and the address bar stays where it was (a refused search
    // must not push its URL, as if its results were showing).
    reply.header('hx-retarget', '#flash').header('hx-reswap', 'innerHTML').header('hx-push-url', 'false');
    return html`<div class="alert alert-error" role="alert" tabindex="-1" data-focus><strong>${titleOf(status)}:</strong> ${words}${requestId}</div>`.value;
  }
  const main = html`<section class="card narrow" aria-labelledby="error-heading">
  <h1 id="error-heading">${titleOf(status)}</h1>
  <p class="alert alert-error" role="alert">${words}</p>
  <p>${requestId}</p>
  <p><a href="/">Go to the start page</a></p>
</section>`;
  return layout({ nonce: pageCspFor(reply), title: titleOf(status), main, bare: true });
}
