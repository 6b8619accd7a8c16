// Certificates for tests, made with openssl.
import { execFileSync } from 'node:child_process';

// selfSigned makes a certificate for localhost with openssl (a TLS server name may not be an IP).
export function selfSigned(
  prefix: string,
  subjectAltName = 'DNS:localhost',
): { cert: string; key: string } {
  const cert = `${prefix}.crt`;
  const key = `${prefix}.key`;
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=pendulum-test',
      '-addext',
      `subjectAltName=${subjectAltName}`,
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}
