/**
 * Keeps secrets out of log lines. A Redactor holds every secret string known so far (the
 * plug-in's environment value, and when it is JSON the strings under secret-looking keys such as
 * AuthKey, Password or SecretAccessKey; the current and previous credentials) and replaces each occurrence with [REDACTED]. Strings shorter than
 * MIN_SECRET_CHARS are not treated as secrets: replacing them would mangle ordinary text.
 */
export const REDACTED = '[REDACTED]';
const MIN_SECRET_CHARS = 4;

export class Redactor {
  private readonly secrets = new Set<string>();
  private sorted: string[] = [];

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
    }
    // Longest first, so that a secret containing another is replaced whole.
    this.sorted = [...this.secrets].filter((s) => s.length >= MIN_SECRET_CHARS).sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.sorted) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out;
  }
}

const SECRET_KEY = /key|secret|token|pass|credential/i;

function collectStrings(v: unknown, into: Set<string>, depth = 0, secretKey = false): void {
  if (depth > 8) return;
  if (typeof v === 'string' && secretKey) into.add(v);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) collectStrings(x, into, depth + 1, secretKey || SECRET_KEY.test(k));
  }
}
