/**
 * The application layer as the views show it (ui/src/lib/app-layer.ts): badges, filters and the
 * layers of the Message view. Decoded units here are written out to pin the view's wording;
 * the decoders themselves are tested against the real libraries.
 */
import { describe, expect, it } from 'vitest';
import type { AppInfo } from '../../server/capture/events.ts';
import { appBadge, matchesApp, NO_APP_FILTER, shownLayers, unitFields } from '../../ui/src/lib/app-layer.ts';

const chat: AppInfo = {
  protocol: 'socket.io',
  type: 'EVENT',
  summary: 'EVENT "chat" ["hi"]',
  engineType: 'message',
  socketType: 'EVENT',
  nsp: '/',
  event: 'chat',
  args: ['hi'],
  layers: [
    { name: 'Engine.IO packet', start: 0, end: 14, label: '4 message' },
    { name: 'Socket.IO packet', start: 1, end: 14, label: '2 EVENT' },
    { name: 'JSON arguments', start: 2, end: 14, label: '["chat","hi"]' },
  ],
};

describe('application layer in the views', () => {
  it('badges say the protocol and the unit a person looks for', () => {
    expect(appBadge(chat)).toBe('socket.io EVENT "chat"');
    expect(appBadge({ protocol: 'graphql-transport-ws', type: 'subscribe', summary: '', id: '1', operationName: 'OnMessage' })).toBe('graphql subscribe OnMessage');
    expect(appBadge({ protocol: 'stomp', type: 'SEND', summary: '', command: 'SEND', headers: [['destination', '/queue/a']] })).toBe('stomp SEND /queue/a');
    expect(appBadge({ protocol: 'mqtt', type: 'PUBLISH', summary: '', packetType: 'PUBLISH', topic: 'sensors/1' })).toBe('mqtt PUBLISH sensors/1');
    expect(appBadge({ protocol: 'json-rpc', type: 'request', summary: '', kind: 'request', method: 'add', id: 1 })).toBe('json-rpc request add');
    expect(appBadge({ protocol: 'json-rpc', type: 'response', summary: '', kind: 'response', id: 7 })).toBe('json-rpc response #7');
    expect(appBadge({ protocol: 'socket.io', type: 'ping', summary: '', engineType: 'ping' })).toBe('engine.io ping');
    expect(appBadge({ protocol: 'socket.io', type: 'EVENT', summary: '', socketType: 'EVENT', event: 'x'.repeat(500) }).length).toBeLessThan(70);
  });

  it('filters by protocol, by part of a name, and by a whole id', () => {
    expect(matchesApp(undefined, NO_APP_FILTER)).toBe(true);
    expect(matchesApp(undefined, { ...NO_APP_FILTER, protocol: 'decoded' })).toBe(false);
    expect(matchesApp(chat, { ...NO_APP_FILTER, protocol: 'socket.io' })).toBe(true);
    expect(matchesApp(chat, { ...NO_APP_FILTER, protocol: 'mqtt' })).toBe(false);
    expect(matchesApp(chat, { ...NO_APP_FILTER, name: 'CHA' })).toBe(true);
    expect(matchesApp(chat, { ...NO_APP_FILTER, name: 'typing' })).toBe(false);
    const rpc: AppInfo = { protocol: 'json-rpc', type: 'request', summary: '', kind: 'request', method: 'add', id: 10 };
    expect(matchesApp(rpc, { ...NO_APP_FILTER, id: '10' })).toBe(true);
    expect(matchesApp(rpc, { ...NO_APP_FILTER, id: '1' })).toBe(false);
    const gql: AppInfo = { protocol: 'graphql-ws', type: 'start', summary: '', id: '3' };
    expect(matchesApp(gql, { ...NO_APP_FILTER, protocol: 'graphql', id: '3' })).toBe(true);
  });

  it('nests the layers inside the TCP bytes and the frame, past the frame header, and clips spans a decoder got wrong', () => {
    const layers = shownLayers(chat, { headerLength: 6, dataLength: 14, tcp: { from: 200, to: 220 }, frames: 1, frameLabel: 'TEXT' });
    expect(layers.map((l) => [l.name, l.start, l.end, l.depth])).toEqual([
      ['TCP bytes', 0, 20, 0],
      ['WebSocket frame', 0, 20, 1],
      ['Engine.IO packet', 6, 20, 2],
      ['Socket.IO packet', 7, 20, 3],
      ['JSON arguments', 8, 20, 4],
    ]);
    const wild = shownLayers({ ...chat, layers: [{ name: 'x', start: -5, end: 1e12, label: '' }] }, { headerLength: 2, dataLength: 3, tcp: null, frames: 1, frameLabel: '' });
    expect(wild.at(-1)).toMatchObject({ start: 2, end: 5 });
  });

  it('lists fields by their protocol names, long values cut', () => {
    expect(unitFields(chat)).toContainEqual(['event', 'chat']);
    expect(unitFields(chat)).toContainEqual(['arguments', '["hi"]']);
    const long = unitFields({ ...chat, args: ['y'.repeat(10_000)] }).find(([k]) => k === 'arguments')![1];
    expect(long.length).toBeLessThan(700);
  });
});
