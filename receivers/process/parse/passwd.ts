import { ParseError } from '../../../kit/errors.ts';

/**
 * Parses `/etc/passwd` (passwd(5)) into user names by uid. Blank lines, comments and NIS
 * `+`/`-` entries are skipped; when two lines share a uid the first wins, as getpwuid(3) does.
 */
export function parsePasswd(text: string): Map<number, string> {
  const users = new Map<number, string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === '' || line.startsWith('#') || line.startsWith('+') || line.startsWith('-')) continue;
    const fields = line.split(':');
    if (fields.length < 7)
      throw new ParseError(
        '/etc/passwd',
        i + 1,
        `expected 7 fields, got ${fields.length}: ${JSON.stringify(line)}`,
      );
    const [name = '', , uidText = ''] = fields;
    const uid = Number(uidText);
    if (uidText === '' || !Number.isSafeInteger(uid) || uid < 0)
      throw new ParseError(
        '/etc/passwd',
        i + 1,
        `uid of ${JSON.stringify(name)} is not a number: ${JSON.stringify(uidText)}`,
      );
    if (!users.has(uid)) users.set(uid, name);
  }
  return users;
}
