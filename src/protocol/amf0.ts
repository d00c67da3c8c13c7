import {
  AMF_CLASS_NAME,
  AMF_ECMA_ARRAY,
  AmfXml,
  isEcmaArray,
  setProperty,
  type AmfObject,
  type AmfValue,
} from './amf-types.js';
import { AmfCursor } from './amf-cursor.js';
import { decodeAmf3Value } from './amf3.js';
import { ArgumentError } from './errors.js';

/** AMF0 type markers. */
const AMF0_NUMBER = 0x00;
const AMF0_BOOLEAN = 0x01;
export const AMF0_STRING = 0x02;
const AMF0_OBJECT = 0x03;
const AMF0_MOVIECLIP = 0x04;
const AMF0_NULL = 0x05;
const AMF0_UNDEFINED = 0x06;
const AMF0_REFERENCE = 0x07;
const AMF0_ECMA_ARRAY = 0x08;
const AMF0_OBJECT_END = 0x09;
const AMF0_STRICT_ARRAY = 0x0a;
const AMF0_DATE = 0x0b;
const AMF0_LONG_STRING = 0x0c;
const AMF0_UNSUPPORTED = 0x0d;
const AMF0_RECORDSET = 0x0e;
const AMF0_XML_DOCUMENT = 0x0f;
const AMF0_TYPED_OBJECT = 0x10;
export const AMF0_AVMPLUS_OBJECT = 0x11;

export interface AmfDecodeOptions {
  /** Deepest nesting of objects and arrays accepted. */
  maxDepth?: number;
}

const DEFAULT_MAX_DEPTH = 32;

/**
 * Reads consecutive AMF0 values from a buffer. Every length is checked against the bytes
 * left before anything is allocated, so a hostile length costs nothing.
 */
export class Amf0Reader extends AmfCursor {
  private readonly maxDepth: number;
  private readonly references: AmfValue[] = [];

  constructor(buf: Buffer, offset = 0, options: AmfDecodeOptions = {}) {
    super(buf, offset, 'amf0');
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  readValue(): AmfValue {
    return this.value(0);
  }

  /** Every value up to the end of the buffer. */
  readAll(): AmfValue[] {
    const values: AmfValue[] = [];
    while (this.offset < this.end) values.push(this.value(0));
    return values;
  }

  private u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  private u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  /** A property name or short string (u16 length). */
  readShortString(): string {
    return this.utf8(this.u16());
  }

  private value(depth: number): AmfValue {
    const marker = this.u8();
    switch (marker) {
      case AMF0_NUMBER:
        return this.f64();
      case AMF0_BOOLEAN:
        return this.u8() !== 0;
      case AMF0_STRING:
        return this.readShortString();
      case AMF0_OBJECT:
        return this.properties(this.complex(depth, {}), depth);
      case AMF0_NULL:
        return null;
      case AMF0_UNDEFINED:
      case AMF0_UNSUPPORTED:
        return undefined;
      case AMF0_REFERENCE: {
        const index = this.u16();
        if (index >= this.references.length)
          this.fail(`reference ${index} to one of ${this.references.length} objects`);
        return this.references[index];
      }
      case AMF0_ECMA_ARRAY: {
        this.u32(); // The count is a hint only; the end marker ends the array.
        const obj = this.complex(depth, {});
        Object.defineProperty(obj, AMF_ECMA_ARRAY, { value: true, enumerable: false });
        return this.properties(obj, depth);
      }
      case AMF0_STRICT_ARRAY: {
        const count = this.u32();
        // Every element takes at least one byte: a larger count cannot be honest.
        if (count > this.end - this.offset)
          this.fail(`strict array of ${count} elements in ${this.end - this.offset} bytes`, 'RTMP_ERR_AMF_TRUNCATED');
        const arr = this.complex<AmfValue[]>(depth, []);
        for (let i = 0; i < count; i++) arr.push(this.value(depth + 1));
        return arr;
      }
      case AMF0_DATE: {
        const ms = this.f64();
        this.u16(); // Time zone: reserved, should be 0.
        return new Date(ms);
      }
      case AMF0_LONG_STRING:
        return this.utf8(this.u32());
      case AMF0_XML_DOCUMENT:
        return new AmfXml(this.utf8(this.u32()));
      case AMF0_TYPED_OBJECT: {
        const className = this.readShortString();
        const obj = this.complex(depth, {});
        Object.defineProperty(obj, AMF_CLASS_NAME, { value: className, enumerable: false });
        return this.properties(obj, depth);
      }
      case AMF0_AVMPLUS_OBJECT: {
        const { value, offset } = decodeAmf3Value(this.buf, this.offset, this.maxDepth - depth);
        this.offset = offset;
        return value;
      }
      case AMF0_MOVIECLIP:
      case AMF0_RECORDSET:
        return this.fail(`marker 0x${marker.toString(16)} is reserved`, 'RTMP_ERR_AMF_UNSUPPORTED');
      case AMF0_OBJECT_END:
        return this.fail('object end marker outside an object');
      default:
        return this.fail(`unknown marker 0x${marker.toString(16)}`);
    }
  }

  /** Registers an object or array for AMF0 references, after checking depth. */
  private complex<T extends AmfObject | AmfValue[]>(depth: number, value: T): T {
    if (depth >= this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`, 'RTMP_ERR_AMF_LIMIT');
    if (this.references.length < 0xffff) this.references.push(value);
    return value;
  }

  private properties(obj: AmfObject, depth: number): AmfObject {
    for (;;) {
      const key = this.readShortString();
      if (key.length === 0 && this.offset < this.end && this.buf[this.offset] === AMF0_OBJECT_END) {
        this.offset++;
        return obj;
      }
      setProperty(obj, key, this.value(depth + 1));
    }
  }
}

/** Decodes every AMF0 value in `buf` (a command or data message body). */
export function decodeAmf0(buf: Buffer, options?: AmfDecodeOptions): AmfValue[] {
  return new Amf0Reader(buf, 0, options).readAll();
}

/** Encodes values as consecutive AMF0 values into one buffer sized exactly. */
export function encodeAmf0(...values: AmfValue[]): Buffer {
  let size = 0;
  for (const v of values) size += sizeOf(v, 0);
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (const v of values) o = write(out, o, v, 0);
  return out;
}

const MAX_ENCODE_DEPTH = 64;

function encodeFail(message: string): never {
  throw new ArgumentError('RTMP_ERR_AMF_ENCODE', message);
}

function stringSize(s: string): number {
  const n = Buffer.byteLength(s, 'utf8');
  return n > 0xffff ? 5 + n : 3 + n;
}

function keySize(key: string): number {
  const n = Buffer.byteLength(key, 'utf8');
  if (n > 0xffff) encodeFail(`property name of ${n} bytes`);
  return 2 + n;
}

function sizeOf(value: AmfValue, depth: number): number {
  if (depth > MAX_ENCODE_DEPTH) encodeFail(`nesting deeper than ${MAX_ENCODE_DEPTH} (a cycle?)`);
  switch (typeof value) {
    case 'number':
      return 9;
    case 'boolean':
      return 2;
    case 'string':
      return stringSize(value);
    case 'undefined':
      return 1;
    case 'object': {
      if (value === null) return 1;
      if (value instanceof Date) return 11;
      if (value instanceof AmfXml) return 5 + Buffer.byteLength(value.xml, 'utf8');
      if (Buffer.isBuffer(value)) return encodeFail('byte arrays have no AMF0 form');
      if (Array.isArray(value)) {
        let n = 5;
        for (const item of value) n += sizeOf(item, depth + 1);
        return n;
      }
      const className = (value as { [AMF_CLASS_NAME]?: string })[AMF_CLASS_NAME];
      let n = 1 + (isEcmaArray(value) ? 4 : 0) + (className !== undefined ? keySize(className) : 0) + 3;
      for (const key of Object.keys(value)) n += keySize(key) + sizeOf(value[key], depth + 1);
      return n;
    }
    default:
      return encodeFail(`${typeof value} has no AMF0 form`);
  }
}

function writeKey(out: Buffer, o: number, key: string): number {
  const n = out.write(key, o + 2, 'utf8');
  out.writeUInt16BE(n, o);
  return o + 2 + n;
}

function write(out: Buffer, o: number, value: AmfValue, depth: number): number {
  switch (typeof value) {
    case 'number':
      out[o] = AMF0_NUMBER;
      out.writeDoubleBE(value, o + 1);
      return o + 9;
    case 'boolean':
      out[o] = AMF0_BOOLEAN;
      out[o + 1] = value ? 1 : 0;
      return o + 2;
    case 'string': {
      const n = Buffer.byteLength(value, 'utf8');
      if (n > 0xffff) {
        out[o] = AMF0_LONG_STRING;
        out.writeUInt32BE(n, o + 1);
        out.write(value, o + 5, 'utf8');
        return o + 5 + n;
      }
      out[o] = AMF0_STRING;
      return writeKey(out, o + 1, value);
    }
    case 'undefined':
      out[o] = AMF0_UNDEFINED;
      return o + 1;
    default:
      break;
  }
  if (value === null) {
    out[o] = AMF0_NULL;
    return o + 1;
  }
  if (value instanceof Date) {
    out[o] = AMF0_DATE;
    out.writeDoubleBE(value.getTime(), o + 1);
    out.writeInt16BE(0, o + 9);
    return o + 11;
  }
  if (value instanceof AmfXml) {
    out[o] = AMF0_XML_DOCUMENT;
    const n = out.write(value.xml, o + 5, 'utf8');
    out.writeUInt32BE(n, o + 1);
    return o + 5 + n;
  }
  if (Array.isArray(value)) {
    out[o] = AMF0_STRICT_ARRAY;
    out.writeUInt32BE(value.length, o + 1);
    o += 5;
    for (const item of value) o = write(out, o, item, depth + 1);
    return o;
  }
  const obj = value as AmfObject;
  const keys = Object.keys(obj);
  const className = (obj as { [AMF_CLASS_NAME]?: string })[AMF_CLASS_NAME];
  if (isEcmaArray(obj)) {
    out[o] = AMF0_ECMA_ARRAY;
    out.writeUInt32BE(keys.length, o + 1);
    o += 5;
  } else if (className !== undefined) {
    out[o] = AMF0_TYPED_OBJECT;
    o = writeKey(out, o + 1, className);
  } else {
    out[o] = AMF0_OBJECT;
    o += 1;
  }
  for (const key of keys) {
    o = writeKey(out, o, key);
    o = write(out, o, obj[key], depth + 1);
  }
  out[o] = 0;
  out[o + 1] = 0;
  out[o + 2] = AMF0_OBJECT_END;
  return o + 3;
}
