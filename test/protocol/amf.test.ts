import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AMF_CLASS_NAME, AmfXml, ecmaArray, isEcmaArray, type AmfValue } from '../../src/protocol/amf-types.js';
import { decodeAmf0, encodeAmf0 } from '../../src/protocol/amf0.js';
import { decodeAmf3Value } from '../../src/protocol/amf3.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { hex } from '../helpers/bytes.js';

interface Amf0Vector {
  name: string;
  bytes: string;
  value: AmfValue;
  /** Encoding the value gives these bytes back (false where the encoder picks another form). */
  roundTrip?: boolean;
}

const amf0Vectors: Amf0Vector[] = [
  { name: 'number', bytes: '00 3ff8000000000000', value: 1.5 },
  { name: 'boolean true', bytes: '01 01', value: true },
  { name: 'boolean false', bytes: '01 00', value: false },
  { name: 'string', bytes: '02 0003 617070', value: 'app' },
  { name: 'UTF-8 string', bytes: '02 0002 c3a9', value: 'é' },
  { name: 'object', bytes: '03 0001 61 00 3ff0000000000000 000009', value: { a: 1 } },
  { name: 'null', bytes: '05', value: null },
  { name: 'undefined', bytes: '06', value: undefined },
  { name: 'strict array', bytes: '0a 00000002 00 3ff0000000000000 02 0001 61', value: [1, 'a'] },
  { name: 'date', bytes: '0b 427484a8c9400000 0000', value: new Date(1_410_000_000_000) },
  { name: 'XML document', bytes: '0f 00000004 3c612f3e', value: new AmfXml('<a/>') },
];

describe('AMF0 golden vectors', () => {
  for (const v of amf0Vectors) {
    it(`decodes ${v.name}`, () => {
      expect(decodeAmf0(hex(v.bytes))).toEqual([v.value]);
    });
    if (v.roundTrip !== false) {
      it(`encodes ${v.name}`, () => {
        expect(encodeAmf0(v.value).toString('hex')).toBe(hex(v.bytes).toString('hex'));
      });
    }
  }

  it('decodes an ECMA array to an object marked as one, and encodes it back as 0x08', () => {
    const bytes = hex('08 00000001 0001 78 02 0001 79 000009');
    const [value] = decodeAmf0(bytes);
    expect(value).toEqual({ x: 'y' });
    expect(isEcmaArray(value)).toBe(true);
    expect(encodeAmf0(value).equals(bytes)).toBe(true);
    expect(encodeAmf0(ecmaArray({ x: 'y' })).equals(bytes)).toBe(true);
  });

  it('decodes a long string (0x0c) and encodes strings over 65535 bytes as long strings', () => {
    const s = 'z'.repeat(70_000);
    const bytes = Buffer.concat([hex('0c 00011170'), Buffer.from(s)]);
    expect(decodeAmf0(bytes)).toEqual([s]);
    expect(encodeAmf0(s).equals(bytes)).toBe(true);
  });

  it('resolves a reference to an earlier object to the same object', () => {
    // [ { o: {} }, ref 1 ]: index 0 is the outer object, 1 the inner one.
    const [outer, ref] = decodeAmf0(hex('03 0001 6f 03 000009 000009  07 0001')) as [{ o: object }, object];
    expect(ref).toBe(outer.o);
  });

  it('decodes a typed object with its class name', () => {
    const [value] = decodeAmf0(hex('10 0003 466f6f 0001 61 00 3ff0000000000000 000009'));
    expect(value).toEqual({ a: 1 });
    expect((value as { [AMF_CLASS_NAME]: string })[AMF_CLASS_NAME]).toBe('Foo');
    expect(encodeAmf0(value).toString('hex')).toBe(
      hex('10 0003 466f6f 0001 61 00 3ff0000000000000 000009').toString('hex'),
    );
  });

  it('switches to AMF3 after the avmplus marker (0x11)', () => {
    expect(decodeAmf0(hex('11 04 7f  11 06 07 616263  02 0001 61'))).toEqual([127, 'abc', 'a']);
  });

  it('decodes several values in sequence, as in a command', () => {
    expect(decodeAmf0(hex('02 0007 636f6e6e656374 00 3ff0000000000000 05'))).toEqual(['connect', 1, null]);
  });

  it('keeps a "__proto__" property as an own property without changing the prototype', () => {
    const [value] = decodeAmf0(hex('03 0009 5f5f70726f746f5f5f 03 0001 78 00 3ff0000000000000 000009 000009')) as [
      object,
    ];
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__']);
    expect((value as { x?: number }).x).toBeUndefined();
  });
});

describe('AMF0 bad input', () => {
  const cases: [string, string, string][] = [
    ['a truncated number', '00 3ff0', 'RTMP_ERR_AMF_TRUNCATED'],
    ['a string longer than the buffer', '02 0010 6162', 'RTMP_ERR_AMF_TRUNCATED'],
    ['an object without its end marker', '03 0001 61 00 3ff0000000000000', 'RTMP_ERR_AMF_TRUNCATED'],
    ['a strict array claiming 2^32-1 elements', '0a ffffffff 05', 'RTMP_ERR_AMF_TRUNCATED'],
    ['an unknown marker', '20', 'RTMP_ERR_AMF_MALFORMED'],
    ['a movieclip (reserved)', '04', 'RTMP_ERR_AMF_UNSUPPORTED'],
    ['a recordset (reserved)', '0e', 'RTMP_ERR_AMF_UNSUPPORTED'],
    ['a reference to an object not yet seen', '07 0003', 'RTMP_ERR_AMF_MALFORMED'],
    ['an object end marker on its own', '09', 'RTMP_ERR_AMF_MALFORMED'],
  ];
  for (const [name, bytes, code] of cases) {
    it(`rejects ${name} with ${code}`, () => {
      let error: unknown;
      try {
        decodeAmf0(hex(bytes));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as ProtocolError).code).toBe(code);
      expect((error as ProtocolError).detail.offset).toBeTypeOf('number');
    });
  }

  it('rejects nesting deeper than the limit', () => {
    const deep = Buffer.concat([...Array(40).fill(hex('0a 00000001')), hex('05')]);
    expect(() => decodeAmf0(deep)).toThrow(expect.objectContaining({ code: 'RTMP_ERR_AMF_LIMIT' }));
    expect(decodeAmf0(deep, { maxDepth: 64 })).toHaveLength(1);
  });

  it('refuses to encode values with no AMF0 form', () => {
    expect(() => encodeAmf0(10n as unknown as AmfValue)).toThrow(
      expect.objectContaining({ code: 'RTMP_ERR_AMF_ENCODE' }),
    );
    const cyclic: Record<string, AmfValue> = {};
    cyclic.self = cyclic;
    expect(() => encodeAmf0(cyclic)).toThrow(/nesting/);
  });
});

const amfValueArb: fc.Arbitrary<AmfValue> = fc.letrec<{ value: AmfValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.double(),
    fc.boolean(),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constant(null),
    fc.date({ noInvalidDate: true }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(
      fc.string({ maxLength: 10 }).filter((k) => k !== '__proto__'),
      tie('value'),
      { maxKeys: 5 },
    ),
  ),
})).value;

describe('AMF0 round trip (property)', () => {
  it('decodes what it encodes', () => {
    fc.assert(
      fc.property(fc.array(amfValueArb, { minLength: 1, maxLength: 4 }), (values) => {
        expect(decodeAmf0(encodeAmf0(...values))).toEqual(values);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws anything but a ProtocolError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeAmf0(Buffer.from(bytes));
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('AMF3 golden vectors (the parts clients send)', () => {
  const amf3 = (h: string): AmfValue => decodeAmf3Value(hex(h), 0).value;

  it('decodes U29 integers of one to four bytes, with sign', () => {
    expect(amf3('04 00')).toBe(0);
    expect(amf3('04 7f')).toBe(127);
    expect(amf3('04 81 00')).toBe(128);
    expect(amf3('04 bf ff ff ff')).toBe(268_435_455);
    expect(amf3('04 ff ff ff ff')).toBe(-1);
  });

  it('decodes doubles, booleans, null and undefined', () => {
    expect(amf3('05 400921fb54442d18')).toBe(Math.PI);
    expect([amf3('02'), amf3('03'), amf3('01'), amf3('00')]).toEqual([false, true, null, undefined]);
  });

  it('resolves string references', () => {
    expect(amf3('09 05 01  06 05 6162  06 00')).toEqual(['ab', 'ab']);
  });

  it('decodes an object with sealed and dynamic members and its class name', () => {
    const value = amf3('0a 1b 07 466f6f 03 61  04 01  03 62 06 03 78  01');
    expect(value).toEqual({ a: 1, b: 'x' });
    expect((value as { [AMF_CLASS_NAME]: string })[AMF_CLASS_NAME]).toBe('Foo');
  });

  it('reuses traits by reference', () => {
    expect(amf3('09 05 01  0a 13 01 03 61 04 01  0a 01 04 02')).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('resolves object references to the same object', () => {
    const [a, b] = amf3('09 05 01  0a 0b 01 01  0a 02') as [object, object];
    expect(a).toBe(b);
  });

  it('decodes an array with associative members into an object', () => {
    expect(amf3('09 03 03 6b 06 03 76 01 04 05')).toEqual({ k: 'v', 0: 5 });
  });

  it('decodes dates, XML and byte arrays', () => {
    expect(amf3('08 01 427484a8c9400000')).toEqual(new Date(1_410_000_000_000));
    expect(amf3('0b 09 3c612f3e')).toEqual(new AmfXml('<a/>'));
    expect(amf3('0c 07 010203')).toEqual(Buffer.from([1, 2, 3]));
  });

  it('unwraps flex.messaging.io.ArrayCollection', () => {
    const name = Buffer.from('flex.messaging.io.ArrayCollection').toString('hex');
    expect(amf3(`0a 07 43 ${name} 09 03 01 04 05`)).toEqual([5]);
  });

  it('rejects what it does not decode, and bad references, with typed errors', () => {
    expect(() => amf3('0d 01')).toThrow(expect.objectContaining({ code: 'RTMP_ERR_AMF_UNSUPPORTED' }));
    expect(() => amf3('06 02')).toThrow(expect.objectContaining({ code: 'RTMP_ERR_AMF_MALFORMED' }));
    expect(() => amf3('0a 05')).toThrow(expect.objectContaining({ code: 'RTMP_ERR_AMF_MALFORMED' }));
    expect(() => amf3('0a 07 07 466f6f')).toThrow(expect.objectContaining({ code: 'RTMP_ERR_AMF_UNSUPPORTED' }));
    expect(() => amf3('06 0b 6162')).toThrow(expect.objectContaining({ code: 'RTMP_ERR_AMF_TRUNCATED' }));
  });

  it('never throws anything but a ProtocolError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        try {
          decodeAmf3Value(Buffer.from(bytes), 0);
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
