import type { ViolationRule } from '../capture/events.ts';
import { CloseCode } from './close-codes.ts';

export interface RuleInfo {
  section: string;
  closeCode: number;
  /** The rule in one sentence, as a learner reads it. */
  text: string;
}

/**
 * Every rule the decoders check, with the RFC section that states it and the close code a
 * conforming endpoint sends when it fails the connection for it (§7.1.7, §7.4.1).
 */
export const RULES: Record<ViolationRule, RuleInfo> = {
  'unmasked-client-frame': {
    section: 'RFC 6455 §5.1',
    closeCode: CloseCode.ProtocolError,
    text: 'A client must mask every frame it sends to the server.',
  },
  'masked-server-frame': {
    section: 'RFC 6455 §5.1',
    closeCode: CloseCode.ProtocolError,
    text: 'A server must not mask the frames it sends to the client.',
  },
  'rsv-without-extension': {
    section: 'RFC 6455 §5.2',
    closeCode: CloseCode.ProtocolError,
    text: 'RSV1, RSV2 and RSV3 must be 0 unless a negotiated extension defines them.',
  },
  'rsv1-on-control-frame': {
    section: 'RFC 7692 §6.1',
    closeCode: CloseCode.ProtocolError,
    text: 'permessage-deflate sets RSV1 only on data frames, never on a control frame.',
  },
  'rsv1-on-continuation': {
    section: 'RFC 7692 §6.1',
    closeCode: CloseCode.ProtocolError,
    text: 'permessage-deflate sets RSV1 on the first frame of a message only, not on a continuation frame.',
  },
  'reserved-opcode': {
    section: 'RFC 6455 §5.2',
    closeCode: CloseCode.ProtocolError,
    text: 'Opcodes 0x3-0x7 and 0xB-0xF are reserved and must not be used.',
  },
  'control-frame-too-long': {
    section: 'RFC 6455 §5.5',
    closeCode: CloseCode.ProtocolError,
    text: 'A control frame (close, ping, pong) carries at most 125 bytes of payload.',
  },
  'fragmented-control-frame': {
    section: 'RFC 6455 §5.5',
    closeCode: CloseCode.ProtocolError,
    text: 'A control frame must not be fragmented: its FIN bit must be 1.',
  },
  'unexpected-continuation': {
    section: 'RFC 6455 §5.4',
    closeCode: CloseCode.ProtocolError,
    text: 'A continuation frame came with no fragmented message to continue.',
  },
  'data-frame-mid-message': {
    section: 'RFC 6455 §5.4',
    closeCode: CloseCode.ProtocolError,
    text: 'A new text or binary frame started before the fragmented message before it had ended.',
  },
  'non-minimal-length': {
    section: 'RFC 6455 §5.2',
    closeCode: CloseCode.ProtocolError,
    text: 'The payload length must be encoded in the fewest bytes possible.',
  },
  'length-top-bit-set': {
    section: 'RFC 6455 §5.2',
    closeCode: CloseCode.ProtocolError,
    text: 'In a 64-bit payload length the most significant bit must be 0.',
  },
  'invalid-utf8': {
    section: 'RFC 6455 §8.1',
    closeCode: CloseCode.InvalidPayload,
    text: 'A text message must be valid UTF-8.',
  },
  'invalid-close-code': {
    section: 'RFC 6455 §7.4',
    closeCode: CloseCode.ProtocolError,
    text: 'A close frame carried a code that may not be sent (below 1000, 1004-1006, 1015-2999, or above 4999).',
  },
  'close-body-one-byte': {
    section: 'RFC 6455 §5.5.1',
    closeCode: CloseCode.ProtocolError,
    text: 'A close frame body is empty or starts with a 2-byte code; one byte is not a valid body.',
  },
  'invalid-close-reason-utf8': {
    section: 'RFC 6455 §5.5.1',
    closeCode: CloseCode.InvalidPayload,
    text: 'The reason in a close frame must be valid UTF-8.',
  },
  'invalid-compressed-data': {
    section: 'RFC 7692 §7.2.2',
    closeCode: CloseCode.InvalidPayload,
    text: 'A compressed message could not be inflated.',
  },
  'frame-after-close': {
    section: 'RFC 6455 §5.5.1',
    closeCode: CloseCode.ProtocolError,
    text: 'An endpoint must not send data frames after its close frame.',
  },
  'data-before-handshake': {
    section: 'RFC 6455 §4.1',
    closeCode: CloseCode.ProtocolError,
    text: 'The client sent frames before the server had answered its handshake.',
  },
  'handshake-too-large': {
    section: 'RFC 6455 §4.2.1',
    closeCode: CloseCode.MessageTooBig,
    text: 'The HTTP head of the handshake is larger than the wiretap reads; the rest is not decoded.',
  },
  'decoder-failure': {
    section: 'wsplay',
    closeCode: CloseCode.InternalError,
    text: 'wsplay could not decode the rest of this connection (a bug in wsplay: please report it); the bytes are still relayed.',
  },
};
