/** The HTML index page: a title and a list of links, everything escaped. */

export interface IndexLink {
  method?: 'GET' | 'POST';
  path: string;
  what: string;
}

const escape = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function indexPage(title: string, links: IndexLink[]): string {
  const items = links.map((l) => (l.method ?? 'GET') === 'GET'
    ? `<li><a href="${escape(l.path)}">${escape(l.path)}</a> — ${escape(l.what)}</li>`
    : `<li><code>${escape(l.method!)} ${escape(l.path)}</code> — ${escape(l.what)}</li>`);
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escape(title)}</title></head>
<body><h1>${escape(title)}</h1>
<ul>
${items.join('\n')}
</ul>
<p>JSON endpoints accept <code>?compact</code> for packed output.</p>
</body></html>
`;
}
