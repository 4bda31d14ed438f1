// wsplay's preload for the learner's server (node --require this-file server.js).
//
// The course's server code says `new WebSocketServer({ port: 9900 })`, and it must run as
// written. But the wiretap sits on 9900, in front of the server. So this preload moves any
// listen on the public port (WSPLAY_PUBLIC_PORT, 9900 by default) to a free port on 127.0.0.1,
// and tells the playground where the server really listens, over the IPC channel:
//   { type: 'listening', port, requested }   (requested: the port the code asked for)
// Listens on any other port are left alone and reported too, so the playground can say
// "your server listens on 8080, not 9900". Nothing else in the learner's process is touched.
'use strict';
const net = require('net');

const PUBLIC = Number(process.env.WSPLAY_PUBLIC_PORT || 9900);
const listen = net.Server.prototype.listen;

function requestedPort(args) {
  const first = args[0];
  if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
    if (first.path !== undefined || first.fd !== undefined || first._handle) return null;
    return first.port === undefined ? 0 : Number(first.port);
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return null; // a pipe path
  if (first === undefined || typeof first === 'function') return 0;
  return Number(first);
}

net.Server.prototype.listen = function wsplayListen(...args) {
  const requested = requestedPort(args);
  if (requested === null) return listen.apply(this, args);
  if (requested === PUBLIC) {
    const callback = args.find((a) => typeof a === 'function');
    const options = typeof args[0] === 'object' && args[0] !== null ? { ...args[0] } : {};
    options.port = 0;
    options.host = '127.0.0.1';
    args = callback ? [options, callback] : [options];
  }
  // Every accepted socket, for `buffered?` below.
  this.on('connection', track);
  this.once('listening', () => {
    const address = this.address();
    if (process.send && address && typeof address === 'object') {
      process.send({ type: 'listening', port: address.port, requested });
    }
  });
  return listen.apply(this, args);
};

// Bytes the server holds to send, summed over the sockets it accepted (each socket's writable
// buffer: what `ws` queued and the kernel has not taken yet), for a check that asks how much a
// slow client costs the server (lesson 18): { type: 'buffered?', id } → { type: 'buffered', id,
// bytes, sockets }. Asked over the IPC channel; the channel stays unreferenced, so a server.js
// that ends on its own still exits.
const sockets = new Set();
function track(socket) {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
}
if (process.send) {
  process.on('message', (msg) => {
    if (!msg || msg.type !== 'buffered?') return;
    let bytes = 0;
    for (const socket of sockets) bytes += socket.writableLength;
    process.send({ type: 'buffered', id: msg.id, bytes, sockets: sockets.size });
  });
  if (process.channel) process.channel.unref();
}

// If the playground goes away (even killed outright), the IPC channel closes: go with it, so
// no orphan keeps holding a port.
process.on('disconnect', () => process.exit(0));
