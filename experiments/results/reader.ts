import { createReadStream } from 'node:fs';
import { CSV_COLUMNS } from '../../exporters/csv/rows.ts';
import { ParseError } from '../../service/errors.ts';

/** The columns of inframeter's CSV files, in order (exporters/csv). */
export const COLUMNS = CSV_COLUMNS;

/** One data row: the fields as text, in {@link COLUMNS} order. */
export type Fields = readonly string[];

/**
 * Splits one CSV record into fields (RFC 4180: quoted fields, doubled quotes). Returns
 * undefined when a quoted field is still open at the end (the record goes on next line).
 */
export function splitRecord(record: string): string[] | undefined {
  if (!record.includes('"')) return record.split(',');
  const fields: string[] = [];
  let i = 0;
  const n = record.length;
  for (;;) {
    if (record.charCodeAt(i) === 34 /* " */) {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = record.indexOf('"', j);
        if (q < 0) return undefined;
        value += record.slice(j, q);
        if (record.charCodeAt(q + 1) === 34) {
          value += '"';
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i >= n) return fields;
      if (record.charCodeAt(i) !== 44 /* , */)
        throw new Error(`unexpected text after a quoted field at column ${String(i + 1)}`);
      i += 1;
      if (i === n) {
        fields.push('');
        return fields;
      }
    } else {
      const comma = record.indexOf(',', i);
      if (comma < 0) {
        fields.push(record.slice(i));
        return fields;
      }
      fields.push(record.slice(i, comma));
      i = comma + 1;
      if (i === n) {
        fields.push('');
        return fields;
      }
    }
  }
}

/**
 * The fields of one data record, checked: a {@link ParseError} naming the line when it is not
 * a record of {@link COLUMNS}.
 */
export function fieldsOf(record: string, path: string, line: number): string[] {
  let fields: string[] | undefined;
  try {
    fields = splitRecord(record);
  } catch (error) {
    throw new ParseError(path, line, (error as Error).message);
  }
  if (fields === undefined || fields.length !== COLUMNS.length) {
    throw new ParseError(
      path,
      line,
      `expected ${String(COLUMNS.length)} fields, got ${String(fields?.length ?? 0)}`,
    );
  }
  return fields;
}

/**
 * Streams the data rows of an inframeter CSV file to `onRow`, with their line numbers.
 * Memory stays bounded by the longest record. Throws a {@link ParseError} naming the line
 * for a header that is not inframeter's, a row with the wrong number of fields, or a file
 * that ends inside a record (truncated).
 */
export async function scanCsv(path: string, onRow: (fields: Fields, line: number) => void): Promise<number> {
  let rows = 0;
  await scanLines(
    path,
    (record, line) => {
      onRow(fieldsOf(record, path, line), line);
      rows += 1;
    },
    { everyQuote: true },
  );
  return rows;
}

/** An odd number of `"` in a line: a quoted field goes on past its end. */
function openQuote(line: string): boolean {
  let count = 0;
  for (let i = line.indexOf('"'); i >= 0; i = line.indexOf('"', i + 1)) count += 1;
  return count % 2 === 1;
}

/**
 * Streams the records of an inframeter CSV file as raw text (a record with a quoted line
 * break arrives whole), after checking the header. Throws a {@link ParseError} naming the
 * line for a foreign header or a file that ends inside a record. Records ending the way
 * inframeter's end (a timestamp's `Z` or an empty last field) are taken as complete without
 * counting their quotes, unless `everyQuote`.
 */
export async function scanLines(
  path: string,
  onLine: (line: string, lineNo: number) => void,
  options: { everyQuote?: boolean } = {},
): Promise<void> {
  const everyQuote = options.everyQuote === true;
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 16 });
  const header = COLUMNS.join(',');
  let rest = '';
  let line = 0;
  let pending: string | undefined;
  let pendingLine = 0;
  for await (const chunk of stream as AsyncIterable<string>) {
    const text = rest === '' ? chunk : rest + chunk;
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      line += 1;
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      let record = text.slice(start, end);
      start = nl + 1;
      if (line === 1) {
        if (record !== header) {
          throw new ParseError(
            path,
            1,
            `not an inframeter CSV header: expected "${header}", got "${record.slice(0, 200)}"`,
          );
        }
        continue;
      }
      if (pending !== undefined) {
        record = `${pending}\n${record}`;
        if (openQuote(record)) {
          pending = record;
          continue;
        }
        pending = undefined;
        onLine(record, pendingLine);
        continue;
      }
      // Complete records of inframeter's files end in the start timestamp (a digit's `Z`)
      // or an empty field; only other endings need the quote count.
      const lastChar = record.charCodeAt(record.length - 1);
      // A timestamp's `Z` (90) or an empty last field (`,`, 44).
      const trusted = !everyQuote && (lastChar === 90 || lastChar === 44);
      if (!trusted && record.includes('"') && openQuote(record)) {
        pending = record;
        pendingLine = line;
        continue;
      }
      onLine(record, line);
    }
    rest = text.slice(start);
  }
  if (line === 0 && rest === '') throw new ParseError(path, 1, 'empty file: no header');
  if (pending !== undefined)
    throw new ParseError(path, pendingLine, 'the file ends inside a quoted field (truncated)');
  if (rest !== '') throw new ParseError(path, line + 1, 'the last row has no line end (truncated file)');
}
