import { it } from 'vitest';
import { decodeFrames } from '../helpers/decode.ts';
import { buildStream, mutate } from '../helpers/encode.ts';
it('dbg', async () => {
  const spec = {"items":[{"kind":"message","binary":false,"data":Buffer.from([97,97,97,97,97,97,97,97,97,97]),"compress":false,"cuts":[0],"between":[[{"kind":"ping","data":Buffer.from([])}]]},{"kind":"message","binary":false,"data":Buffer.from([]),"compress":false,"cuts":[0,0,0,0],"between":[[],[],[],[]]},{"kind":"message","binary":false,"data":Buffer.from([]),"compress":false,"cuts":[],"between":[]},{"kind":"message","binary":true,"data":Buffer.from([0,0,0,0]),"compress":true,"cuts":[],"between":[]},{"kind":"ping","data":Buffer.from([104,195,169,108,108,111,32,240,159,145,139])},{"kind":"ping","data":Buffer.from([0,0,0,0,0,0])},{"kind":"message","binary":false,"data":Buffer.from([]),"compress":true,"cuts":[],"between":[]}],"close":{"code":null,"reason":""},"maskSeed":0} as any;
  const v = await buildStream(spec, 'client', {"windowBits":8,"noContextTakeover":false,"level":9});
  const b = mutate(v.bytes, [{"kind":"delete","at":0.9068,"n":4},{"kind":"flip","at":0.5878,"bit":0}]);
  console.log(v.bytes.toString('hex')); console.log(b.toString('hex'));
  console.log(decodeFrames('client', b, { chunks: [1], deflate: { windowBits: 8, noContextTakeover: false } }).filter(e => e.type !== 'frame').map((e) => JSON.stringify(e)).join('\n'));
});
