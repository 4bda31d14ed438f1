/** Frame opcodes, RFC 6455 §5.2 and §11.8. */
export enum Opcode {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xa,
}

const NAMES: Record<number, string> = {
  [Opcode.Continuation]: 'CONT',
  [Opcode.Text]: 'TEXT',
  [Opcode.Binary]: 'BINARY',
  [Opcode.Close]: 'CLOSE',
  [Opcode.Ping]: 'PING',
  [Opcode.Pong]: 'PONG',
};

/** The short name shown in badges and log lines; reserved opcodes read `RESERVED(0x3)`. */
export function opcodeName(opcode: number): string {
  return NAMES[opcode] ?? `RESERVED(0x${opcode.toString(16)})`;
}

/** Control frames have the high bit of the opcode set (§5.5): close, ping, pong and 0xB-0xF. */
export function isControl(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** Opcodes 0x3-0x7 and 0xB-0xF are reserved for further frames (§5.2). */
export function isReserved(opcode: number): boolean {
  return NAMES[opcode] === undefined;
}
