/**
 * Escaping text for XML and HTML. Everything the viz module puts between tags or inside quoted attributes
 * goes through here: sample text and run names are user data and may hold '<', '&' or quotes.
 */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Safe both as element content and inside a double- or single-quoted attribute, in SVG (XML) and in HTML. */
export function escapeXml(text: string): string {
  // XML 1.0 forbids most C0 control characters even as character references, so they are dropped; a model
  // trained on odd text could otherwise emit one into a sample and break the whole SVG or page.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: dropping control characters is the point
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '');
}
