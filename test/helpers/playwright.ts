import { spawnSync } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM, hasChromium } from './browser.js';

/**
 * Debian's chromium driven by playwright-core (pages that change as they run: the live
 * dashboard), and the browser's own XML parser as a parser independent of ours.
 */

export { hasChromium };

export async function launchChromium(): Promise<Browser> {
  const path = spawnSync('sh', ['-c', `command -v ${CHROMIUM}`], { encoding: 'utf8' }).stdout.trim();
  return chromium.launch({ executablePath: path, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** An XML element as the browser's DOMParser read it. */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: XmlElement[];
}

/** Runs in the page (this file is typed without the DOM): XML text to a tree of plain objects. */
const PARSE_IN_PAGE = `function (text) {
  var doc = new DOMParser().parseFromString(text, 'application/xml');
  var err = doc.getElementsByTagName('parsererror')[0];
  if (err !== undefined) return { error: err.textContent || 'parse error' };
  function walk(e) {
    var attrs = {};
    for (var i = 0; i < e.attributes.length; i++) attrs[e.attributes[i].name] = e.attributes[i].value;
    var text = '';
    e.childNodes.forEach(function (n) { if (n.nodeType === 3 || n.nodeType === 4) text += n.textContent; });
    return { name: e.nodeName, attrs: attrs, text: text, children: Array.prototype.map.call(e.children, walk) };
  }
  return { root: walk(doc.documentElement) };
}`;

/** Parses XML with the browser's DOMParser; throws with the parser's message when it is not well-formed. */
export async function parseXml(browser: Browser, xml: string): Promise<XmlElement> {
  const page = await browser.newPage();
  try {
    const r = (await page.evaluate(`(${PARSE_IN_PAGE})(${JSON.stringify(xml)})`)) as
      | { error: string }
      | { root: XmlElement };
    if ('error' in r) throw new Error(`not well-formed XML: ${r.error}`);
    return r.root;
  } finally {
    await page.close();
  }
}
