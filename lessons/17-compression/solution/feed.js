// Given: what the server sends each client, the same on every run (so the sizes you read in the
// inspector are the ones the check reads): price updates as JSON, short acknowledgements, and a
// photo, whose bytes are already compressed (as a JPEG's are).
const SYMBOLS = ['ACME', 'GLOBEX', 'INITECH', 'UMBRELLA', 'HOOLI', 'STARK'];

const updates = [];
let price = 100;
for (let i = 0; i < 30; i++) {
  price = Math.round((price + Math.sin(i) * 3) * 100) / 100;
  updates.push({
    type: 'update',
    seq: i + 1,
    symbol: SYMBOLS[i % SYMBOLS.length],
    exchange: 'NASDAQ',
    currency: 'USD',
    price,
    change: Math.round(Math.sin(i) * 300) / 100,
    volume: 1000 + ((i * 7919) % 5000),
    bid: Math.round((price - 0.05) * 100) / 100,
    ask: Math.round((price + 0.05) * 100) / 100,
    time: `2026-12-05T10:${String(i).padStart(2, '0')}:00.000Z`,
    source: 'wsplay-ticker',
    note: 'Prices are made up for the lesson; every field name repeats in every update.',
  });
}

const acks = ['ok', '{"ack":true}', 'pong?', '{"ok":1}'];

// 16 KiB of bytes that look random, as compressed data does: deflate cannot shrink them.
const photo = Buffer.alloc(16 * 1024);
let x = 2463534242;
for (let i = 0; i < photo.length; i++) {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  photo[i] = x & 0xff;
}

module.exports = { updates, acks, photo };
