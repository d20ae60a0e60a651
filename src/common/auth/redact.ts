/**
 * Keeps secrets out of log lines. A Redactor holds every secret string known so far (the
 * plug-in's environment value, and when it is JSON the strings under secret-looking keys such as
 * AuthKey, Password or SecretAccessKey; the current and previous credentials) and replaces each
 * occurrence, in the forms a program is likely to print it, with [REDACTED]:
 *   - the secret itself, in any letter case (matching ignores case);
 *   - its UTF-8 bytes in base64 (with or without padding) and base64url, whole, and inside a longer base64
 *     text: for each of the three alignments (the secret preceded by 0, 1 or 2 bytes) the
 *     characters that depend on the secret's bytes alone (the one or two at each edge that
 *     also depend on neighbouring bytes stay, a few bits of the secret at most);
 *   - hex (any case), percent-encoding (encodeURIComponent's, form encoding's `+` for space,
 *     and every byte as %XX), and its JSON string escaping (as JSON.stringify, with non-ASCII as
 *     \uXXXX, with `/` as `\/`).
 * Minimums: strings shorter than MIN_SECRET_CHARS are not treated as secrets at all (replacing
 * them would mangle ordinary text); a base64 fragment from inside a blob is used only when it
 * has at least MIN_FRAGMENT_CHARS characters (shorter ones would match ordinary base64 by chance).
 * The forms are computed and compiled into one case-insensitive pattern on the first redact()
 * after secrets change, so adding secrets is cheap and redacting a line is one regex pass.
 */
export const REDACTED = '[REDACTED]';
export const MIN_SECRET_CHARS = 4;
export const MIN_FRAGMENT_CHARS = 8;

export class Redactor {
  private readonly secrets = new Set<string>();
  /** undefined: not compiled since the last add(); null: nothing to redact. */
  private pattern: RegExp | null | undefined = null;

  /** Adds secrets; a JSON object also contributes the strings under its secret-looking keys. */
  add(...values: (string | undefined)[]): void {
    for (const v of values) {
      if (v === undefined || v.length < MIN_SECRET_CHARS) continue;
      this.secrets.add(v);
      if (/^\s*[{[]/.test(v)) {
        try {
          collectStrings(JSON.parse(v), this.secrets);
        } catch {
          // not JSON: the whole value is the secret
        }
      }
      this.pattern = undefined;
    }
  }

  redact(text: string): string {
    if (this.pattern === undefined) this.pattern = compile(this.secrets);
    return this.pattern ? text.replace(this.pattern, REDACTED) : text;
  }
}

/** The forms of `secret` a Redactor replaces (letter case aside: matching ignores it). */
export function printedForms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const b64 = bytes.toString('base64');
  const forms = new Set([secret, b64, b64.replace(/=+$/, ''), bytes.toString('base64url'), bytes.toString('hex')]);
  for (let before = 0; before < 3; before++) {
    const shifted = Buffer.concat([Buffer.alloc(before), bytes]).toString('base64');
    // Character i holds bits [6i, 6i+6); the secret's are [8*before, 8*(before+length)).
    const fragment = shifted.slice(Math.ceil((8 * before) / 6), Math.floor((8 * (before + bytes.length)) / 6));
    if (fragment.length >= MIN_FRAGMENT_CHARS) forms.add(fragment).add(fragment.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  const uri = encodeURIComponent(secret);
  forms.add(uri).add(uri.replace(/%20/g, '+')).add([...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''));
  const json = JSON.stringify(secret).slice(1, -1);
  forms.add(json).add(json.replace(/\//g, '\\/'))
    .add(json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  return [...forms].filter((f) => f.length >= MIN_SECRET_CHARS);
}

function compile(secrets: Set<string>): RegExp | null {
  const forms = new Set<string>();
  for (const s of secrets) if (s.length >= MIN_SECRET_CHARS) for (const f of printedForms(s)) forms.add(f);
  if (forms.size === 0) return null;
  // Longest first: at a given position the first alternative that matches wins, so a form
  // containing another is replaced whole.
  const sorted = [...forms].sort((a, b) => b.length - a.length);
  return new RegExp(sorted.map((f) => f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'), 'gi');
}

const SECRET_KEY = /key|secret|token|pass|credential/i;

function collectStrings(v: unknown, into: Set<string>, depth = 0, secretKey = false): void {
  if (depth > 8) return;
  if (typeof v === 'string' && secretKey) into.add(v);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) collectStrings(x, into, depth + 1, secretKey || SECRET_KEY.test(k));
  }
}
