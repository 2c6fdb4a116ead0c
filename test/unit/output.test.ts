// Job output: lines from a byte stream, and the bounded tail kept for the exit record.
import { describe, expect, it } from 'vitest';
import { LineFramer, LineSplitter, TRUNCATED, Tail, lastLinesStart, tailOfBytes } from '../../src/output.js';

const LIMIT = 64 * 1024;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const b = (s: string): Buffer => Buffer.from(s);
const texts = (lines: Buffer[]): string[] => lines.map((l) => l.toString('utf8'));

describe('LineSplitter', () => {
  it('returns the complete lines of a chunk without their newline', () => {
    const s = new LineSplitter();
    expect(texts(s.push(b('one\ntwo\n')))).toEqual(['one', 'two']);
    expect(s.flush()).toEqual([]);
  });

  it('joins a line split across chunks', () => {
    const s = new LineSplitter();
    expect(texts(s.push(b('hel')))).toEqual([]);
    expect(texts(s.push(b('lo wo')))).toEqual([]);
    expect(texts(s.push(b('rld\nnext')))).toEqual(['hello world']);
    expect(texts(s.push(b('\n')))).toEqual(['next']);
  });

  it('keeps empty lines', () => {
    expect(texts(new LineSplitter().push(b('\n\na\n\n')))).toEqual(['', '', 'a', '']);
  });

  it('keeps CRLF line ends as they are (the CR stays)', () => {
    const s = new LineSplitter();
    expect(texts(s.push(b('a\r\nb\r')))).toEqual(['a\r']);
    expect(texts(s.push(b('\n')))).toEqual(['b\r']);
  });

  it('joins a multi-byte character split across chunks', () => {
    const bytes = b('café\n');
    const s = new LineSplitter();
    expect(s.push(bytes.subarray(0, 4))).toEqual([]);
    expect(texts(s.push(bytes.subarray(4)))).toEqual(['café']);
  });

  it('gives the last line without a newline on flush, once', () => {
    const s = new LineSplitter();
    s.push(b('a\npartial'));
    expect(texts(s.flush())).toEqual(['partial']);
    expect(s.flush()).toEqual([]);
  });

  it('cuts a long line arriving in pipe-sized chunks into pieces at the limit', () => {
    const s = new LineSplitter();
    const pieces: Buffer[] = [];
    const chunk = Buffer.alloc(16 * 1024, 'x');
    for (let i = 0; i < 12; i++) pieces.push(...s.push(chunk));
    pieces.push(...s.flush());
    expect(pieces.map((p) => p.length)).toEqual([LIMIT, LIMIT, LIMIT]);
  });

  it('cuts a line longer than the limit into pieces of at most the limit, losing nothing', () => {
    const s = new LineSplitter();
    const line = Buffer.alloc(LIMIT * 2 + 100, 'y');
    const pieces = [...s.push(Buffer.concat([line, b('\nafter\n')])), ...s.flush()];
    for (const p of pieces) expect(p.length).toBeLessThanOrEqual(LIMIT);
    expect(Buffer.concat(pieces.slice(0, -1)).equals(line)).toBe(true);
    expect(texts(pieces.slice(-1))).toEqual(['after']);
  });
});

describe('Tail', () => {
  const lines = (n: number, from = 1): Buffer[] => Array.from({ length: n }, (_, i) => b(`line ${i + from}`));

  it('is empty before any output', () => {
    expect(new Tail().text()).toBe('');
  });

  it('keeps the last 10 lines, across several adds', () => {
    const t = new Tail();
    t.add(lines(7));
    t.add(lines(8, 8));
    t.add([]);
    expect(t.text()).toBe(Array.from({ length: 10 }, (_, i) => `line ${i + 6}`).join('\n'));
  });

  it('keeps the last 10 of one big add', () => {
    const t = new Tail();
    t.add(lines(1000));
    expect(t.text().split('\n')).toEqual(Array.from({ length: 10 }, (_, i) => `line ${i + 991}`));
  });

  it('keeps fewer lines as they are', () => {
    const t = new Tail();
    t.add(lines(3));
    expect(t.text()).toBe('line 1\nline 2\nline 3');
  });

  it('cuts a long line to 400 characters and marks it', () => {
    const t = new Tail();
    t.add([b('a'.repeat(400)), b('b'.repeat(401)), b('c'.repeat(100_000))]);
    expect(t.text().split('\n')).toEqual(['a'.repeat(400), 'b'.repeat(400) + TRUNCATED, 'c'.repeat(400) + TRUNCATED]);
  });

  it('counts characters, not bytes, when cutting', () => {
    const t = new Tail();
    t.add([b('é'.repeat(300))]);
    expect(t.text()).toBe('é'.repeat(300));
  });

  it('does not cut a character in half', () => {
    const t = new Tail();
    t.add([b(`a${'🙂'.repeat(300)}`)]);
    const [line] = t.text().split('\n');
    expect(line.endsWith(TRUNCATED)).toBe(true);
    expect(line).not.toMatch(LONE_SURROGATE);
  });

  it('decodes invalid UTF-8 with replacement characters', () => {
    const t = new Tail();
    t.add([Buffer.from([0x6f, 0x6b, 0xff, 0xfe, 0x21]), Buffer.from([0xc3])]);
    expect(t.text()).toBe('ok\uFFFD\uFFFD!\n\uFFFD');
  });
});

describe('tailOfBytes', () => {
  it('gives the last 10 lines of a whole file, without a final empty line', () => {
    const text = Array.from({ length: 15 }, (_, i) => `l${i + 1}`).join('\n') + '\n';
    expect(tailOfBytes(b(text), true)).toBe(Array.from({ length: 10 }, (_, i) => `l${i + 6}`).join('\n'));
  });

  it('keeps the first line of a read from the start of the file', () => {
    expect(tailOfBytes(b('first\nsecond\n'), true)).toBe('first\nsecond');
  });

  it('drops the partial first line of a read from the middle of the file', () => {
    expect(tailOfBytes(b('rt of a line\nsecond\nthird'), false)).toBe('second\nthird');
  });

  it('keeps the last line without a newline', () => {
    expect(tailOfBytes(b('a\nb'), true)).toBe('a\nb');
  });

  it('is empty for an empty file', () => {
    expect(tailOfBytes(Buffer.alloc(0), true)).toBe('');
  });

  it('cuts long lines and decodes invalid UTF-8 like Tail', () => {
    expect(tailOfBytes(Buffer.concat([b('x'.repeat(500)), b('\n'), Buffer.from([0xff, 0x0a])]), true)).toBe(
      `${'x'.repeat(400)}${TRUNCATED}\n\uFFFD`,
    );
  });
});

describe('LineFramer', () => {
  const framer = (): LineFramer => new LineFramer(Buffer.from('[1.1] '));
  const text = (b: Buffer | undefined): string => (b ? b.toString() : '');

  it('puts the prefix before every complete line, in one buffer', () => {
    expect(text(framer().push(Buffer.from('a\nbb\nccc\n')))).toBe('[1.1] a\n[1.1] bb\n[1.1] ccc\n');
  });

  it('holds a partial line until its end arrives, so lines never interleave', () => {
    const f = framer();
    expect(f.push(Buffer.from('hel'))).toBeUndefined();
    expect(text(f.push(Buffer.from('lo\nwor')))).toBe('[1.1] hello\n');
    expect(text(f.flush())).toBe('[1.1] wor\n');
    expect(f.flush()).toBeUndefined();
  });

  it('lets a line longer than the limit out in pieces instead of holding it', () => {
    const f = framer();
    const out = f.push(Buffer.alloc(70 * 1024, 'x'));
    expect(out?.length).toBe(6 + 70 * 1024 + 1);
  });
});

describe('lastLinesStart', () => {
  it('finds where the last N lines of a chunk begin', () => {
    const chunk = Buffer.from('a\nb\nc\nd\n');
    expect(chunk.subarray(lastLinesStart(chunk, 2)).toString()).toBe('c\nd\n');
    expect(lastLinesStart(chunk, 10)).toBe(0);
  });
});
