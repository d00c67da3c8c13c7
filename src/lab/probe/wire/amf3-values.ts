import { AMF0_AVMPLUS_OBJECT } from '../../../protocol/amf0.js';
import {
  AMF3_DOUBLE,
  AMF3_FALSE,
  AMF3_INTEGER,
  AMF3_NULL,
  AMF3_OBJECT,
  AMF3_STRING,
  AMF3_TRUE,
} from '../../../protocol/amf3.js';

/**
 * AMF3 values as Flash Player put them inside AMF0 command and data messages: the AMF0
 * "avmplus" marker (0x11) followed by one AMF3 value. Enough of AMF3 to craft probe payloads
 * (strings, numbers, booleans, null, anonymous dynamic objects); references are never used.
 */

export type Amf3Value = string | number | boolean | null | { [key: string]: Amf3Value };

/** AMF3 variable-length 29-bit unsigned integer. */
function u29(value: number): Buffer {
  const v = value & 0x1fffffff;
  if (v < 0x80) return Buffer.from([v]);
  if (v < 0x4000) return Buffer.from([(v >>> 7) | 0x80, v & 0x7f]);
  if (v < 0x200000) return Buffer.from([(v >>> 14) | 0x80, ((v >>> 7) & 0x7f) | 0x80, v & 0x7f]);
  return Buffer.from([(v >>> 22) | 0x80, ((v >>> 15) & 0x7f) | 0x80, ((v >>> 8) & 0x7f) | 0x80, v & 0xff]);
}

/** A string without its type marker (as object keys and class names are written). */
function utf8(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  return Buffer.concat([u29((bytes.length << 1) | 1), bytes]);
}

function encodeAmf3(value: Amf3Value): Buffer {
  if (value === null) return Buffer.from([AMF3_NULL]);
  switch (typeof value) {
    case 'boolean':
      return Buffer.from([value ? AMF3_TRUE : AMF3_FALSE]);
    case 'string':
      return Buffer.concat([Buffer.from([AMF3_STRING]), utf8(value)]);
    case 'number': {
      if (Number.isInteger(value) && value >= 0 && value < 0x10000000)
        return Buffer.concat([Buffer.from([AMF3_INTEGER]), u29(value)]);
      const b = Buffer.allocUnsafe(9);
      b[0] = AMF3_DOUBLE;
      b.writeDoubleBE(value, 1);
      return b;
    }
    default: {
      // Traits inline, dynamic, no sealed members (0x0b), anonymous class (empty name).
      const parts = [Buffer.from([AMF3_OBJECT, 0x0b]), utf8('')];
      for (const [k, v] of Object.entries(value)) parts.push(utf8(k), encodeAmf3(v));
      parts.push(utf8(''));
      return Buffer.concat(parts);
    }
  }
}

/** One AMF3 value as an AMF0 value: the avmplus marker, then the value. */
export function avmplus(value: Amf3Value): Buffer {
  return Buffer.concat([Buffer.from([AMF0_AVMPLUS_OBJECT]), encodeAmf3(value)]);
}
