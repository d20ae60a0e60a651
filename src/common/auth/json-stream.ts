/**
 * Splits a plug-in's stdout into JSON objects. The text may arrive in any chunks (a UTF-8
 * character or an object split across reads) and objects may be separated by any whitespace or
 * none at all. A brace-depth scanner that knows about strings and escapes finds each object's
 * end, so no framing is assumed. Anything else outside an object (a word, an array, a number) is
 * reported as garbage; so is an object larger than maxObjectBytes.
 */
import { StringDecoder } from 'node:string_decoder';

export type ScanEvent =
  | { kind: 'object'; text: string }
  | { kind: 'garbage'; problem: string };

export class JsonObjectScanner {
  private readonly decoder = new StringDecoder('utf8');
  private current = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private failed = false;

  constructor(private readonly maxObjectBytes = 64 * 1024) {}

  /** Feeds one chunk; returns the complete objects (or the first problem) it finished. */
  push(chunk: Buffer | string): ScanEvent[] {
    if (this.failed) return [];
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const events: ScanEvent[] = [];
    let start = this.depth > 0 ? 0 : -1;
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (this.depth === 0) {
        if (c === '{') {
          this.depth = 1;
          start = i;
          this.current = '';
        } else if (!/\s/.test(c)) {
          return this.fail(events, 'printed text outside a JSON object');
        }
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') this.inString = false;
      } else if (c === '"') {
        this.inString = true;
      } else if (c === '{' || c === '[') {
        this.depth++;
      } else if (c === '}' || c === ']') {
        this.depth--;
        if (this.depth === 0) {
          events.push({ kind: 'object', text: this.current + text.slice(start, i + 1) });
          this.current = '';
          start = -1;
        }
      }
    }
    if (this.depth > 0) {
      this.current += text.slice(Math.max(start, 0));
      if (Buffer.byteLength(this.current) > this.maxObjectBytes) {
        return this.fail(events, `printed an object larger than ${this.maxObjectBytes} bytes`);
      }
    }
    return events;
  }

  /** Call at end of output: reports an object left unfinished. */
  end(): ScanEvent[] {
    if (this.failed || this.depth === 0) return [];
    this.failed = true;
    return [{ kind: 'garbage', problem: 'stopped in the middle of a JSON object' }];
  }

  private fail(events: ScanEvent[], problem: string): ScanEvent[] {
    this.failed = true;
    this.current = '';
    events.push({ kind: 'garbage', problem });
    return events;
  }
}
