/** Close codes, RFC 6455 §7.4.1 and the IANA registry (§11.7). */
export enum CloseCode {
  Normal = 1000,
  GoingAway = 1001,
  ProtocolError = 1002,
  UnsupportedData = 1003,
  NoStatus = 1005,
  Abnormal = 1006,
  InvalidPayload = 1007,
  PolicyViolation = 1008,
  MessageTooBig = 1009,
  MandatoryExtension = 1010,
  InternalError = 1011,
  ServiceRestart = 1012,
  TryAgainLater = 1013,
  BadGateway = 1014,
  TlsHandshake = 1015,
}

/** One short explanation per code, in the spirit of python-websockets' CLOSE_CODE_EXPLANATIONS. */
const EXPLANATIONS: Record<number, string> = {
  1000: 'normal closure',
  1001: 'going away (page closed or server shutting down)',
  1002: 'protocol error',
  1003: 'unsupported data (a type of message the endpoint cannot accept)',
  1004: 'reserved',
  1005: 'no status received (the close frame carried no code)',
  1006: 'abnormal closure (the connection dropped without a close frame)',
  1007: 'invalid frame payload data (e.g. text that is not UTF-8)',
  1008: 'policy violation',
  1009: 'message too big',
  1010: 'mandatory extension missing',
  1011: 'internal error',
  1012: 'service restart',
  1013: 'try again later',
  1014: 'bad gateway',
  1015: 'TLS handshake failure',
};

/** "1000 normal closure"; codes outside the table are classed by their range. */
export function explainCloseCode(code: number): string {
  const known = EXPLANATIONS[code];
  if (known) return `${code} ${known}`;
  if (code >= 3000 && code <= 3999) return `${code} registered for libraries and frameworks`;
  if (code >= 4000 && code <= 4999) return `${code} private use (the application decides)`;
  if (code >= 1000 && code <= 2999) return `${code} reserved for the protocol and its extensions`;
  return `${code} not a valid close code`;
}

/**
 * May this code appear in a close frame (§7.4)? 1005, 1006 and 1015 are for reporting only
 * and must never be sent; 1004 and 1016-2999 are reserved; below 1000 and above 4999 are unused.
 */
export function isValidCloseCodeOnWire(code: number): boolean {
  return (
    (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999)
  );
}
