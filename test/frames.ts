/** Decodes a stream of unmasked server frames into their text payloads (test helper). */
export function decodeFrames(data: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < data.length) {
    const second = data[at + 1]!;
    let length = second & 0x7f;
    let header = 2;
    if (length === 126) { length = data.readUInt16BE(at + 2); header = 4; }
    else if (length === 127) { length = Number(data.readBigUInt64BE(at + 2)); header = 10; }
    if ((data[at]! & 0x80) === 0 || (second & 0x80) !== 0) throw new Error('not an unmasked FIN frame');
    out.push(data.subarray(at + header, at + header + length).toString('utf8'));
    at += header + length;
  }
  return out;
}
