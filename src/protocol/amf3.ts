import { AMF_CLASS_NAME, AmfXml, setProperty, type AmfObject, type AmfValue } from './amf-types.js';
import { AmfCursor } from './amf-cursor.js';

/** AMF3 type markers. */
const AMF3_UNDEFINED = 0x00;
export const AMF3_NULL = 0x01;
export const AMF3_FALSE = 0x02;
export const AMF3_TRUE = 0x03;
export const AMF3_INTEGER = 0x04;
export const AMF3_DOUBLE = 0x05;
export const AMF3_STRING = 0x06;
const AMF3_XML_DOCUMENT = 0x07;
const AMF3_DATE = 0x08;
const AMF3_ARRAY = 0x09;
export const AMF3_OBJECT = 0x0a;
const AMF3_XML = 0x0b;
const AMF3_BYTE_ARRAY = 0x0c;

interface Traits {
  className: string;
  dynamic: boolean;
  externalizable: boolean;
  sealed: string[];
}

/** Externalizable Flex classes whose body is a single AMF3 value. */
const WRAPPER_CLASSES = new Set(['flex.messaging.io.ArrayCollection', 'flex.messaging.io.ObjectProxy']);

/**
 * Decoder for one AMF3 value (as found after the AMF0 avmplus-object marker 0x11), with
 * its own string, object and traits reference tables. Vectors and dictionaries are not
 * decoded: no RTMP client sends them in the messages a server handles.
 */
class Amf3Reader extends AmfCursor {
  private readonly maxDepth: number;
  private readonly strings: string[] = [];
  private readonly objects: AmfValue[] = [];
  private readonly traits: Traits[] = [];

  constructor(buf: Buffer, offset: number, maxDepth: number) {
    super(buf, offset, 'amf3');
    this.maxDepth = maxDepth;
  }

  /** Variable-length unsigned 29-bit integer: 7 bits in each of up to three bytes, then 8. */
  private u29(): number {
    let value = 0;
    for (let i = 0; i < 3; i++) {
      const b = this.u8();
      if ((b & 0x80) === 0) return (value << 7) | b;
      value = (value << 7) | (b & 0x7f);
    }
    return ((value << 8) | this.u8()) >>> 0;
  }

  private string(): string {
    const header = this.u29();
    if ((header & 1) === 0) {
      const index = header >>> 1;
      if (index >= this.strings.length) this.fail(`string reference ${index} of ${this.strings.length}`);
      return this.strings[index]!;
    }
    const length = header >>> 1;
    const s = this.utf8(length);
    if (length > 0) this.strings.push(s);
    return s;
  }

  /** Returns the referenced object when the header is a reference, else undefined. */
  private reference(header: number): AmfValue | undefined {
    if ((header & 1) !== 0) return undefined;
    const index = header >>> 1;
    if (index >= this.objects.length) this.fail(`object reference ${index} of ${this.objects.length}`);
    return this.objects[index];
  }

  value(depth: number): AmfValue {
    if (depth >= this.maxDepth) this.fail(`nesting deeper than the limit`, 'RTMP_ERR_AMF_LIMIT');
    const marker = this.u8();
    switch (marker) {
      case AMF3_UNDEFINED:
        return undefined;
      case AMF3_NULL:
        return null;
      case AMF3_FALSE:
        return false;
      case AMF3_TRUE:
        return true;
      case AMF3_INTEGER: {
        const v = this.u29();
        return v & 0x10000000 ? v - 0x20000000 : v;
      }
      case AMF3_DOUBLE:
        return this.f64();
      case AMF3_STRING:
        return this.string();
      case AMF3_XML_DOCUMENT:
      case AMF3_XML: {
        const header = this.u29();
        const ref = this.reference(header);
        if (ref !== undefined) return ref;
        const xml = new AmfXml(this.utf8(header >>> 1));
        this.objects.push(xml);
        return xml;
      }
      case AMF3_DATE: {
        const ref = this.reference(this.u29());
        if (ref !== undefined) return ref;
        const date = new Date(this.f64());
        this.objects.push(date);
        return date;
      }
      case AMF3_ARRAY:
        return this.array(depth);
      case AMF3_OBJECT:
        return this.object(depth);
      case AMF3_BYTE_ARRAY: {
        const header = this.u29();
        const ref = this.reference(header);
        if (ref !== undefined) return ref;
        const length = header >>> 1;
        this.need(length);
        // A copy: the value may outlive the message buffer it came from.
        const bytes = Buffer.from(this.buf.subarray(this.offset, this.offset + length));
        this.offset += length;
        this.objects.push(bytes);
        return bytes;
      }
      default:
        return this.fail(`AMF3 marker 0x${marker.toString(16)} is not decoded`, 'RTMP_ERR_AMF_UNSUPPORTED');
    }
  }

  private array(depth: number): AmfValue {
    const header = this.u29();
    const ref = this.reference(header);
    if (ref !== undefined) return ref;
    const dense = header >>> 1;
    if (dense > this.end - this.offset) this.fail(`array of ${dense} elements`, 'RTMP_ERR_AMF_TRUNCATED');
    const assoc: AmfObject = {};
    let hasAssoc = false;
    const slot = this.objects.length;
    this.objects.push(null);
    for (;;) {
      const key = this.string();
      if (key.length === 0) break;
      hasAssoc = true;
      setProperty(assoc, key, this.value(depth + 1));
    }
    if (!hasAssoc) {
      const arr: AmfValue[] = [];
      this.objects[slot] = arr;
      for (let i = 0; i < dense; i++) arr.push(this.value(depth + 1));
      return arr;
    }
    this.objects[slot] = assoc;
    for (let i = 0; i < dense; i++) setProperty(assoc, String(i), this.value(depth + 1));
    return assoc;
  }

  private object(depth: number): AmfValue {
    const header = this.u29();
    const ref = this.reference(header);
    if (ref !== undefined) return ref;
    let traits: Traits;
    if ((header & 2) === 0) {
      const index = header >>> 2;
      if (index >= this.traits.length) this.fail(`traits reference ${index} of ${this.traits.length}`);
      traits = this.traits[index]!;
    } else {
      const externalizable = (header & 4) !== 0;
      const dynamic = (header & 8) !== 0;
      const count = header >>> 4;
      const className = this.string();
      if (count > this.end - this.offset) this.fail(`${count} sealed members`, 'RTMP_ERR_AMF_TRUNCATED');
      const sealed: string[] = [];
      for (let i = 0; i < count; i++) sealed.push(this.string());
      traits = { className, dynamic, externalizable, sealed };
      this.traits.push(traits);
    }
    if (traits.externalizable) {
      if (!WRAPPER_CLASSES.has(traits.className)) {
        this.fail(`externalizable class "${traits.className}"`, 'RTMP_ERR_AMF_UNSUPPORTED');
      }
      const slot = this.objects.length;
      this.objects.push(null);
      const inner = this.value(depth + 1);
      this.objects[slot] = inner;
      return inner;
    }
    const obj: AmfObject = {};
    if (traits.className.length > 0) {
      Object.defineProperty(obj, AMF_CLASS_NAME, { value: traits.className, enumerable: false });
    }
    this.objects.push(obj);
    for (const name of traits.sealed) setProperty(obj, name, this.value(depth + 1));
    if (traits.dynamic) {
      for (;;) {
        const key = this.string();
        if (key.length === 0) break;
        setProperty(obj, key, this.value(depth + 1));
      }
    }
    return obj;
  }
}

/** Decodes one AMF3 value starting at `offset`; returns it and the offset after it. */
export function decodeAmf3Value(buf: Buffer, offset: number, maxDepth = 32): { value: AmfValue; offset: number } {
  const reader = new Amf3Reader(buf, offset, maxDepth);
  const value = reader.value(0);
  return { value, offset: reader.offset };
}
