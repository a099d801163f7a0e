// Accessible form pieces: labelled inputs whose errors are visible and announced (aria-invalid,
// aria-describedby), messages, and the mapping of FastAPI-shaped 422 items onto form fields.
import type { ValidationIssue } from '../errors/http-error.js';
import { html, SafeHtml } from './html.js';

/** Field name → message; `_form` holds what belongs to no single field. */
export type FieldErrors = Readonly<Record<string, string>>;

export interface FieldSpec {
  /** Unique on the page: ids derive from it. */
  readonly form: string;
  readonly name: string;
  readonly label: string;
  readonly type?: 'text' | 'email' | 'password' | 'search' | 'number';
  readonly value?: string | null;
  readonly autocomplete?: string;
  readonly required?: boolean;
  readonly optional?: boolean;
  readonly hint?: string;
  readonly error?: string;
  readonly maxlength?: number;
  readonly inputmode?: 'numeric' | 'text' | 'email';
  /** Put focus here after the swap (the first invalid field). */
  readonly focus?: boolean;
}

function attr(name: string, value: string | number | undefined | null): SafeHtml {
  return value === undefined || value === null ? html`` : html` ${new SafeHtml(name)}="${String(value)}"`;
}

function flag(name: string, on: boolean | undefined): SafeHtml {
  return on ? html` ${new SafeHtml(name)}` : html``;
}

export function fieldId(form: string, name: string): string {
  return `${form}-${name.replace(/_/g, '-')}`;
}

export function field(spec: FieldSpec): SafeHtml {
  const id = fieldId(spec.form, spec.name);
  const hintId = spec.hint ? `${id}-hint` : undefined;
  const errorId = spec.error ? `${id}-error` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(' ') || undefined;
  return html`<div class="field${spec.error ? ' field-invalid' : ''}">
  <label for="${id}">${spec.label}${spec.optional ? html` <span class="optional">(optional)</span>` : ''}</label>
  ${spec.hint ? html`<p class="hint" id="${hintId}">${spec.hint}</p>` : ''}
  <input id="${id}" name="${spec.name}" type="${spec.type ?? 'text'}"${attr('value', spec.type === 'password' ? undefined : spec.value ?? '')}${attr('autocomplete', spec.autocomplete)}${attr('maxlength', spec.maxlength)}${attr('inputmode', spec.inputmode)}${flag('required', spec.required)}${spec.error ? html` aria-invalid="true"` : ''}${attr('aria-describedby', describedBy)}${flag('data-focus', spec.focus)}>
  ${spec.error ? html`<p class="field-error" id="${errorId}">${spec.error}</p>` : ''}
</div>`;
}

export interface ChoiceSpec {
  readonly form: string;
  readonly name: string;
  readonly legend: string;
  readonly options: readonly { readonly value: string; readonly label: string }[];
  readonly checked: readonly string[];
  readonly error?: string;
  readonly focus?: boolean;
}

/** A group of checkboxes in a fieldset; the error is tied to the group (aria-describedby on the fieldset). */
export function checkboxes(spec: ChoiceSpec): SafeHtml {
  const id = fieldId(spec.form, spec.name);
  const errorId = spec.error ? `${id}-error` : undefined;
  const boxes = spec.options.map((option, i) => html`<label class="choice"><input type="checkbox" id="${id}-${String(i)}" name="${spec.name}" value="${option.value}"${flag('checked', spec.checked.includes(option.value))}${spec.error ? html` aria-invalid="true"` : ''}${flag('data-focus', spec.focus && i === 0)}> ${option.label}</label>`);
  return html`<fieldset class="field${spec.error ? ' field-invalid' : ''}"${attr('aria-describedby', errorId)}>
  <legend>${spec.legend}</legend>
  ${boxes}
  ${spec.error ? html`<p class="field-error" id="${errorId}">${spec.error}</p>` : ''}
</fieldset>`;
}

/** A hidden input (CSRF token, the `next` path, paging state). */
export function hidden(name: string, value: string | number | null | undefined): SafeHtml {
  if (value === undefined || value === null) return html``;
  return html`<input type="hidden" name="${name}" value="${String(value)}">`;
}

/** A message at the top of a form or region; errors are alerts, confirmations are status messages. */
export function message(kind: 'error' | 'ok', text: string | undefined, options: { id?: string; focus?: boolean } = {}): SafeHtml {
  if (!text) return html``;
  const role = kind === 'error' ? 'alert' : 'status';
  return html`<div class="alert alert-${kind}" role="${role}" tabindex="-1"${attr('id', options.id)}${flag('data-focus', options.focus)}>${text}</div>`;
}

/** The password policy in words, for every field that sets a password (src/crypto/password-policy.ts). */
export function passwordRule(minLength: number): string {
  return `At least ${minLength} characters. Not a common password, and not containing your username or email.`;
}

/** Marks the first field with an error for focus after a swap (WCAG 3.3.1: errors are identified). */
export function firstError(errors: FieldErrors, order: readonly string[]): string | undefined {
  return order.find((name) => errors[name] !== undefined);
}

/**
 * Friendlier words for the schema's own messages, keyed by field and pydantic type. Which rule
 * failed is still decided by the API's schema and the service's policy; only the wording changes.
 */
const FRIENDLY: Record<string, string> = {
  'username:string_pattern_mismatch': 'Use 3–50 letters, digits or underscores.',
  'username:string_too_short': 'Use 3–50 letters, digits or underscores.',
  'username:string_too_long': 'Use 3–50 letters, digits or underscores.',
  'email:value_error': 'Enter a valid email address.',
  'email:string_too_long': 'Enter a valid email address.',
  'password:string_too_short': 'Enter a password.',
  'current_password:string_too_short': 'Enter your current password.',
  'new_password:string_too_short': 'Enter a new password.',
  'username:missing': 'Enter a username.',
  'email:missing': 'Enter an email address.',
  'password:missing': 'Enter a password.',
  'name:string_too_short': 'Enter a name.',
  'name:missing': 'Enter a name.',
  'scopes:too_short': 'Choose at least one scope.',
  'scopes:missing': 'Choose at least one scope.',
  'expires_in_days:int_type': 'Enter a whole number of days, or leave it empty.',
  'expires_in_days:greater_than_equal': 'Enter at least 1 day, or leave it empty.',
  'expires_in_days:less_than_equal': 'Enter at most 3650 days, or leave it empty.',
  'code:string_too_short': 'Enter the code from your app.',
};

/** FastAPI-shaped 422 items (`loc: ['body', field]`) → one message per field, the first one wins. */
export function issuesToFields(issues: readonly ValidationIssue[], fields: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of issues) {
    const name = issue.loc[0] === 'body' && typeof issue.loc[1] === 'string' ? issue.loc[1] : undefined;
    const key = name !== undefined && fields.includes(name) ? name : '_form';
    if (out[key] !== undefined) continue;
    const friendly = name ? FRIENDLY[`${name}:${issue.type}`] : undefined;
    out[key] = key === '_form' ? 'Some fields were not accepted; check the form and try again.' : friendly ?? issue.msg;
  }
  return out;
}
