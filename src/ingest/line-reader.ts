import { createReadStream } from 'node:fs';

/**
 * Calls `onLine(text, lineNo)` for every line of a UTF-8 text file, streaming it in chunks so
 * that only one chunk (plus one partial line) is held at a time. Lines end with LF or CRLF; a
 * last line without a newline is still delivered; a UTF-8 byte-order mark is dropped.
 * `lineNo` is 1-based. An exception thrown by `onLine` stops reading and rejects.
 *
 * @returns the number of lines delivered.
 */
export async function forEachLine(path: string, onLine: (line: string, lineNo: number) => void): Promise<number> {
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 256 * 1024 });
  let rest = '';
  let lineNo = 0;
  let first = true;
  for await (const chunk of stream as AsyncIterable<string>) {
    let text = rest + chunk;
    if (first) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      onLine(text.slice(start, end), ++lineNo);
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  if (rest.length > 0) {
    onLine(rest.endsWith('\r') ? rest.slice(0, -1) : rest, ++lineNo);
  }
  return lineNo;
}
