/**
 * A JPEG that is complete by its markers and keeps its APPn segments (EXIF, XMP), but whose image
 * data cannot be decoded (its frame header and tables are gone): the processor must dead-letter it
 * and still index what its metadata says.
 */
export function undecodableJpeg(jpeg: Buffer): Buffer {
  const parts = [jpeg.subarray(0, 2)];
  let at = 2;
  while (jpeg[at] === 0xff && jpeg[at + 1] >= 0xe0 && jpeg[at + 1] <= 0xef) {
    const length = jpeg.readUInt16BE(at + 2);
    parts.push(jpeg.subarray(at, at + 2 + length));
    at += 2 + length;
  }
  // SOS for one component, then data no decoder can use, then EOI.
  parts.push(Buffer.from([0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00]), Buffer.alloc(5000, 0x55), Buffer.from([0xff, 0xd9]));
  return Buffer.concat(parts);
}
