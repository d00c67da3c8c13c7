/** Values that AMF0 (and the AMF3 parts clients send) decode to and encode from. */
export type AmfValue = number | boolean | string | null | undefined | Date | AmfXml | Buffer | AmfValue[] | AmfObject;

export interface AmfObject {
  [key: string]: AmfValue;
}

/** Marks an object decoded from (or to be encoded as) an AMF0 ECMA array. Not enumerable. */
export const AMF_ECMA_ARRAY: unique symbol = Symbol('amf.ecmaArray');
/** Class name of an AMF0 typed object or AMF3 sealed object. Not enumerable. */
export const AMF_CLASS_NAME: unique symbol = Symbol('amf.className');

/** An XML document value (AMF0 0x0f, AMF3 0x07 and 0x0b). */
export class AmfXml {
  constructor(readonly xml: string) {}
}

/** A plain object that the AMF0 encoder writes as an ECMA array (0x08), as onMetaData often is. */
export function ecmaArray(props: AmfObject): AmfObject {
  const obj: AmfObject = {};
  for (const key of Object.keys(props)) setProperty(obj, key, props[key]);
  Object.defineProperty(obj, AMF_ECMA_ARRAY, { value: true, enumerable: false });
  return obj;
}

export function isEcmaArray(value: unknown): boolean {
  return (
    typeof value === 'object' && value !== null && (value as { [AMF_ECMA_ARRAY]?: boolean })[AMF_ECMA_ARRAY] === true
  );
}

export function isAmfObject(value: unknown): value is AmfObject {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Date) &&
    !(value instanceof AmfXml) &&
    !Buffer.isBuffer(value)
  );
}

/**
 * Sets a property named by a peer. `__proto__` becomes an own property instead of changing
 * the object's prototype.
 */
export function setProperty(obj: AmfObject, key: string, value: AmfValue): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}
