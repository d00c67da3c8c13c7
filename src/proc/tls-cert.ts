import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runToEnd } from './spawn.js';

/** A self-signed certificate and its key (PEM files) in a folder of their own, and how to remove them. */
export interface SelfSignedCertificate {
  cert: string;
  key: string;
  remove(): void;
}

/**
 * A self-signed certificate for 127.0.0.1 (an EC P-256 key, valid a day), made with openssl: for
 * an RTMPS endpoint on loopback that clients reach without verifying it. Null without openssl.
 */
export async function selfSignedCertificate(): Promise<SelfSignedCertificate | null> {
  const dir = mkdtempSync(join(tmpdir(), 'rtmpbench-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const r = await runToEnd('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
    ]);
    if (r.code === 0) return { cert, key, remove };
  } catch {
    // no openssl
  }
  remove();
  return null;
}
