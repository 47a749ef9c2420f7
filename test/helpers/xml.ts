/**
 * A small, strict XML reader for tests: enough to prove an SVG (or an XHTML-shaped page) is well formed and
 * to query its elements by name and class. It refuses what a real XML parser refuses in our output: unclosed
 * or mismatched tags, unquoted or repeated attributes, a bare '&' or '<', unknown entities.
 */

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: (XmlElement | string)[];
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(raw: string, where: number): string {
  return raw.replace(/&([^;&<]*);|&/g, (all, name: string | undefined) => {
    if (name === undefined) throw new Error(`bare '&' near offset ${where}`);
    if (name.startsWith('#x')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(parseInt(name.slice(1), 10));
    const v = ENTITIES[name];
    if (v === undefined) throw new Error(`unknown entity ${all} near offset ${where}`);
    return v;
  });
}

/** Parses a document with one root element; a leading XML declaration, doctype and comments are skipped. */
export function parseXml(text: string): XmlElement {
  let i = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  while (i < text.length) {
    if (text.startsWith('<?', i)) {
      const end = text.indexOf('?>', i);
      if (end < 0) throw new Error('unterminated processing instruction');
      i = end + 2;
    } else if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i);
      if (end < 0) throw new Error('unterminated comment');
      i = end + 3;
    } else if (text.startsWith('<!', i)) {
      if (root !== null || stack.length > 0) throw new Error(`declaration inside the document at ${i}`);
      const end = text.indexOf('>', i);
      i = end + 1;
    } else if (text.startsWith('</', i)) {
      const m = /^<\/([A-Za-z_][\w.:-]*)\s*>/.exec(text.slice(i));
      if (!m) throw new Error(`bad closing tag at ${i}`);
      const open = stack.pop();
      if (open === undefined || open.name !== m[1]) throw new Error(`</${m[1]}> at ${i} closes <${open?.name ?? 'nothing'}>`);
      i += m[0].length;
    } else if (text[i] === '<') {
      const m = /^<([A-Za-z_][\w.:-]*)/.exec(text.slice(i));
      if (!m) throw new Error(`bad tag at ${i}`);
      i += m[0].length;
      const el: XmlElement = { name: m[1]!, attrs: {}, children: [] };
      for (;;) {
        const before = i;
        skipSpace();
        if (text.startsWith('/>', i)) {
          i += 2;
          break;
        }
        if (text[i] === '>') {
          i++;
          stack.push(el);
          break;
        }
        if (i === before) throw new Error(`attributes of <${el.name}> must be separated by spaces (at ${i})`);
        const a = /^([A-Za-z_][\w.:-]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/.exec(text.slice(i));
        if (!a) throw new Error(`bad attribute in <${el.name}> at ${i}: ${text.slice(i, i + 30)}`);
        if (a[1]! in el.attrs) throw new Error(`attribute ${a[1]} repeated in <${el.name}>`);
        el.attrs[a[1]!] = decode(a[3] ?? a[4] ?? '', i);
        i += a[0].length;
      }
      const parent = stack.at(el === stack.at(-1) ? -2 : -1);
      if (parent !== undefined) parent.children.push(el);
      else if (root === null) root = el;
      else throw new Error(`a second root element <${el.name}> at ${i}`);
    } else {
      const end = text.indexOf('<', i);
      const raw = text.slice(i, end < 0 ? text.length : end);
      const parent = stack.at(-1);
      if (parent === undefined) {
        if (raw.trim() !== '') throw new Error(`text outside the root element at ${i}`);
      } else parent.children.push(decode(raw, i));
      i = end < 0 ? text.length : end;
    }
  }
  if (stack.length > 0) throw new Error(`<${stack.at(-1)!.name}> is never closed`);
  if (root === null) throw new Error('no root element');
  return root;
}

/** Every element under (and including) `root` that satisfies `test`, in document order. */
export function findAll(root: XmlElement, test: (e: XmlElement) => boolean): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement) => {
    if (test(e)) out.push(e);
    for (const c of e.children) if (typeof c !== 'string') walk(c);
  };
  walk(root);
  return out;
}

export function hasClass(e: XmlElement, cls: string): boolean {
  return (e.attrs.class ?? '').split(/\s+/).includes(cls);
}

/** Elements by name and (optionally) class. */
export function select(root: XmlElement, name: string, cls?: string): XmlElement[] {
  return findAll(root, (e) => e.name === name && (cls === undefined || hasClass(e, cls)));
}

/** The element's text content, without that of its <title> tooltips. */
export function textOf(e: XmlElement): string {
  return e.children.map((c) => (typeof c === 'string' ? c : c.name === 'title' ? '' : textOf(c))).join('');
}
