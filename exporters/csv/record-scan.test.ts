import { describe, expect, it } from 'vitest';
import { RECORD_SCAN_START, scanRecords } from './record-scan.ts';
import type { RecordScan } from './record-scan.ts';

function scan(text: string, chunkSize = Infinity): RecordScan {
  const bytes = new TextEncoder().encode(text);
  let state = RECORD_SCAN_START;
  for (let i = 0; i < bytes.length; i += Math.min(chunkSize, bytes.length)) {
    state = scanRecords(state, bytes.subarray(i, i + chunkSize));
  }
  return state;
}

const header = 'a,b,c\n';

describe('scanRecords', () => {
  it.each([
    ['complete records', `${header}1,2,3\n4,5,6\n`, 18, false],
    ['a last record without its line feed', `${header}1,2,3\n4,5`, 12, false],
    ['a quoted field with a line feed, complete', `${header}1,"x\ny",3\n`, 16, false],
    ['a quoted field cut after its line feed', `${header}1,2,3\n4,"x\ny`, 12, true],
    ['doubled quotes inside a field', `${header}1,"say ""hi""\n",3\n`, 24, false],
    ['a field cut between doubled quotes', `${header}1,2,3\n4,"say ""`, 12, true],
    ['only part of a header', 'a,b', 0, false],
    ['nothing', '', 0, false],
  ])('finds the end of the last complete record: %s', (_name, text, end, inQuotes) => {
    const whole = scan(text);
    expect(whole.lastRecordEnd).toBe(end);
    expect(whole.inQuotes).toBe(inQuotes);
    expect(whole.offset).toBe(new TextEncoder().encode(text).length);
    // The same answer whatever the chunks the file is read in.
    for (const size of [1, 2, 3, 5, 7]) expect(scan(text, size)).toEqual(whole);
  });

  it('counts bytes, not characters, with non-ASCII text', () => {
    const text = `${header}"ünïcødé 🌡",2,3\nx`;
    expect(scan(text).lastRecordEnd).toBe(new TextEncoder().encode(text).length - 1);
    expect(scan(text, 4).lastRecordEnd).toBe(new TextEncoder().encode(text).length - 1);
  });
});
