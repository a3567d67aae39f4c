import { readHeifMetadataItems } from '../../shared/image/heif-items';

const box = (type: string, ...parts: Buffer[]) => {
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + body.length, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, body]);
};
const fullBox = (type: string, version: number, ...parts: Buffer[]) => box(type, Buffer.from([version, 0, 0, 0]), ...parts);
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const infe = (id: number, type: string, extra = Buffer.alloc(0)) => fullBox('infe', 2, u16(id), u16(0), Buffer.from(type, 'latin1'), Buffer.from('\0'), extra);

const tiff = Buffer.concat([Buffer.from('MM\0*', 'latin1'), u32(8), Buffer.alloc(6)]);
const exifBlock = Buffer.concat([u32(6), Buffer.from('Exif\0\0', 'latin1'), tiff]);
const xmp = Buffer.from('<x:xmpmeta xmlns:x="adobe:ns:meta/"/>');

/** A HEIF whose Exif item sits in idat (construction method 1) and whose XMP item is reached through a base offset. */
function heif(xmpAt: number): Buffer {
  const iinf = fullBox('iinf', 0, u16(2), infe(1, 'Exif'), infe(2, 'mime', Buffer.from('application/rdf+xml\0')));
  // iloc v1: offset 4, length 4, base offset 4, index 0 bytes.
  const iloc = fullBox('iloc', 1, Buffer.from([0x44, 0x40]), u16(2),
    u16(1), u16(1), u16(0), u32(0), u16(1), u32(0), u32(exifBlock.length),
    u16(2), u16(0), u16(0), u32(xmpAt), u16(1), u32(0), u32(xmp.length));
  const meta = fullBox('meta', 0, fullBox('hdlr', 0, u32(0), Buffer.from('pict'), Buffer.alloc(13)), iinf, iloc, box('idat', exifBlock));
  return Buffer.concat([box('ftyp', Buffer.from('heic'), u32(0), Buffer.from('mif1heic')), meta]);
}

describe('HEIF metadata items', () => {
  it('reads an Exif item stored in idat and an XMP item placed through an iloc base offset', () => {
    const head = heif(0);
    const file = Buffer.concat([heif(head.length + 8), box('mdat', xmp)]);
    const items = readHeifMetadataItems(file);
    expect(items.exif).toEqual(tiff);
    expect(items.xmp).toEqual(xmp);
  });

  it('gives nothing, and throws nothing, for a file whose tables point outside it', () => {
    expect(readHeifMetadataItems(heif(1_000_000))).toEqual({ exif: tiff, xmp: null });
    expect(readHeifMetadataItems(heif(0).subarray(0, 120))).toEqual({ exif: null, xmp: null });
    expect(readHeifMetadataItems(Buffer.from('not a heif at all'))).toEqual({ exif: null, xmp: null });
  });
});
