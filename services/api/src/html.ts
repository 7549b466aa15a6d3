import type { HttpResponse } from '@burnrate/core';
import { escapeHtml } from '@burnrate/notify';

/** Text for HTML: every value that reaches a page goes through it (attributes included). */
export const h = escapeHtml;

// No script, no external asset, no framing; forms post only back to Burnrate. No Referer: the
// page's URL carries a link token, which must not travel to wherever a link on it points.
const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
} as const;

const STYLE = `
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#111;max-width:920px;margin:24px auto;padding:0 16px;line-height:1.45}
h1{font-size:20px;margin:0 0 8px}h2{font-size:16px;margin:24px 0 8px}
table{border-collapse:collapse;margin:0 0 12px}td,th{padding:3px 12px 3px 0;text-align:left;vertical-align:top}th{color:#555;font-weight:normal}
.muted{color:#666}.badge{display:inline-block;padding:1px 8px;border-radius:10px;background:#eee;font-size:12px}
.critical{color:#dc2626}.warning{color:#d97706}.info{color:#2563eb}.resolved{color:#16a34a}
form.inline{display:inline-block;margin:0 6px 6px 0}
button{font:inherit;padding:6px 12px;border-radius:4px;border:1px solid #d1d5db;background:#f3f4f6;cursor:pointer}
button.primary{background:#111;color:#fff;border-color:#111}
textarea{font:inherit;width:100%;max-width:560px}
.notice{padding:8px 12px;background:#f8fafc;border-left:3px solid #94a3b8;margin:0 0 12px}
ol.timeline{list-style:none;padding:0;margin:0 0 12px}ol.timeline li{border-left:2px solid #e5e7eb;padding:2px 0 8px 12px}ol.timeline li[data-kind=decision]{border-left-color:#1d4ed8}ol.timeline time{color:#555;margin-right:6px}
`;

/** A complete page: the body is HTML the caller built with `h` around every value. */
export function htmlPage(status: number, title: string, body: string): HttpResponse {
  return { status, headers: { ...HEADERS }, body: htmlDocument(title, body) };
}

/** The document around a body; `style` is added to the shared one (the console's layout). */
export function htmlDocument(title: string, body: string, style = ''): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>${h(title)} · Burnrate</title><style>${STYLE}${style}</style></head><body>${body}</body></html>`;
}

/** A page that says one thing went wrong, and what to do. */
export function problemPage(status: number, title: string, message: string, hint?: string): HttpResponse {
  return htmlPage(status, title, `<h1>${h(title)}</h1><p>${h(message)}</p>${hint ? `<p class="muted">${h(hint)}</p>` : ''}`);
}
