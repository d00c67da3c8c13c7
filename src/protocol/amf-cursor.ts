import { ProtocolError } from './errors.js';

type AmfErrorCode =
  | 'RTMP_ERR_AMF_TRUNCATED'
  | 'RTMP_ERR_AMF_MALFORMED'
  | 'RTMP_ERR_AMF_UNSUPPORTED'
  | 'RTMP_ERR_AMF_LIMIT';

/**
 * The bounds-checked reads that the AMF0 and AMF3 decoders share: each checks the bytes left
 * before it reads, and a failure names the format and the offset.
 */
export abstract class AmfCursor {
  protected readonly buf: Buffer;
  offset: number;
  protected readonly end: number;
  private readonly format: 'amf0' | 'amf3';

  protected constructor(buf: Buffer, offset: number, format: 'amf0' | 'amf3') {
    this.buf = buf;
    this.offset = offset;
    this.end = buf.length;
    this.format = format;
  }

  protected fail(message: string, code: AmfErrorCode = 'RTMP_ERR_AMF_MALFORMED'): never {
    throw new ProtocolError(code, message, { state: this.format, offset: this.offset });
  }

  protected need(n: number): void {
    if (this.end - this.offset < n) {
      this.fail(`${n} bytes needed, ${this.end - this.offset} left`, 'RTMP_ERR_AMF_TRUNCATED');
    }
  }

  protected u8(): number {
    this.need(1);
    return this.buf[this.offset++]!;
  }

  protected f64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.offset);
    this.offset += 8;
    return v;
  }

  protected utf8(length: number): string {
    this.need(length);
    const s = this.buf.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return s;
  }
}
