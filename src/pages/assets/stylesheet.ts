// The pages' stylesheet (served from /assets/app.css). External, so the page CSP needs no
// 'unsafe-inline' style and no markup carries a style= attribute.

export const STYLESHEET = `:root {
  --ink: #1d2433; --muted: #5b6475; --line: #d8dde6; --paper: #ffffff; --canvas: #f4f6f9;
  --brand: #24509a; --brand-ink: #ffffff; --danger: #a61b1b; --danger-bg: #fdecec; --ok: #176b3a; --ok-bg: #e7f5ec;
  --focus: #f0b400; --radius: 8px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); background: var(--canvas); line-height: 1.5;
}
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: flex; flex-direction: column; }
a { color: var(--brand); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip-link { position: absolute; left: -10000px; top: 0; background: var(--paper); padding: .5rem 1rem; z-index: 10; }
.skip-link:focus { left: 1rem; top: .5rem; }
.site-header { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem 2rem; padding: .75rem 1.5rem;
  background: var(--brand); color: var(--brand-ink); }
.brand { color: var(--brand-ink); font-weight: 700; font-size: 1.15rem; text-decoration: none; letter-spacing: .02em; }
.site-header nav { flex: 1; }
.nav { list-style: none; display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; margin: 0; padding: 0; }
.nav a { color: var(--brand-ink); text-decoration: none; padding: .25rem 0; border-bottom: 2px solid transparent; }
.nav a:hover, .nav a[aria-current="page"] { border-bottom-color: var(--brand-ink); }
.nav-disabled { color: #c7d3ea; cursor: not-allowed; }
.nav-note { font-size: .75rem; }
.nav-user { display: flex; align-items: center; gap: .75rem; font-size: .95rem; }
.nav-user form { margin: 0; }
.link-button { background: none; border: 1px solid var(--brand-ink); color: var(--brand-ink); border-radius: var(--radius);
  padding: .3rem .8rem; font: inherit; cursor: pointer; }
main { flex: 1; width: 100%; max-width: 72rem; margin: 0 auto; padding: 1.5rem; }
main:focus { outline: none; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 0 0 .75rem; }
.grid { display: grid; gap: 1.25rem; grid-template-columns: repeat(auto-fit, minmax(20rem, 1fr)); }
.card { background: var(--paper); border: 1px solid var(--line); border-radius: var(--radius); padding: 1.25rem 1.5rem; margin-bottom: 1.25rem; }
.narrow { max-width: 28rem; margin: 2rem auto; }
.field { margin-bottom: 1rem; }
.field label { display: block; font-weight: 600; margin-bottom: .25rem; }
.field input, .field select { width: 100%; font: inherit; padding: .5rem .6rem; border: 1px solid #9aa3b2; border-radius: 6px; background: var(--paper); }
.field-invalid input { border-color: var(--danger); border-width: 2px; }
.hint { color: var(--muted); font-size: .875rem; margin: 0 0 .3rem; }
.field-error { color: var(--danger); font-size: .9rem; font-weight: 600; margin: .3rem 0 0; }
.optional { color: var(--muted); font-weight: 400; }
button, .button { font: inherit; cursor: pointer; border-radius: var(--radius); padding: .5rem 1.1rem; border: 1px solid var(--brand);
  background: var(--brand); color: var(--brand-ink); text-decoration: none; display: inline-block; }
button.secondary { background: var(--paper); color: var(--brand); }
button.danger { background: var(--danger); border-color: var(--danger); }
button.small { padding: .2rem .6rem; font-size: .875rem; }
.alert { border-radius: var(--radius); padding: .75rem 1rem; margin: 0 0 1rem; border: 1px solid; }
.alert-error { background: var(--danger-bg); border-color: var(--danger); color: var(--danger); }
.alert-ok { background: var(--ok-bg); border-color: var(--ok); color: var(--ok); }
.flash { max-width: 72rem; margin: 0 auto; padding: 0 1.5rem; width: 100%; }
.flash .alert { margin-top: 1rem; }
.request-id { display: block; font-size: .8rem; color: var(--muted); margin-top: .25rem; }
table { width: 100%; border-collapse: collapse; background: var(--paper); }
caption { text-align: left; color: var(--muted); padding: .25rem 0 .5rem; }
th, td { text-align: left; padding: .5rem .6rem; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { font-size: .85rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
td form { display: inline; margin: 0; }
.table-wrap { overflow-x: auto; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .8rem; border: 1px solid var(--line); }
.badge-admin { background: #e8eefb; border-color: var(--brand); color: var(--brand); }
.badge-off { background: var(--danger-bg); border-color: var(--danger); color: var(--danger); }
.badge-on { background: var(--ok-bg); border-color: var(--ok); color: var(--ok); }
.toolbar { display: flex; flex-wrap: wrap; gap: .75rem; align-items: flex-end; margin-bottom: 1rem; }
.toolbar .field { margin: 0; min-width: 12rem; }
.pager { display: flex; gap: 1rem; align-items: center; margin-top: .75rem; }
.muted { color: var(--muted); }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem; }
.actions { display: flex; gap: .75rem; flex-wrap: wrap; align-items: center; }
section > form.actions { margin-top: 1rem; }
.htmx-request button[type="submit"] { opacity: .7; }
fieldset.field { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .9rem .75rem; }
fieldset.field legend { font-weight: 600; padding: 0 .25rem; }
.field label.choice { display: inline-flex; gap: .4rem; align-items: center; margin-right: 1.25rem; font-weight: 400; }
.field label.choice input { width: auto; }
.secret { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 1rem; letter-spacing: .06em; word-break: break-all;
  background: var(--canvas); padding: .5rem .75rem; border-radius: 6px; border: 1px dashed #9aa3b2; display: block; }
input.secret { width: 100%; font: inherit; color: var(--ink); }
.alert p { margin: 0 0 .5rem; }
.qr svg { width: 12rem; height: 12rem; display: block; }
.codes { columns: 2; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; padding-left: 1.25rem; }
footer { text-align: center; color: var(--muted); font-size: .85rem; padding: 1rem; }
`;
