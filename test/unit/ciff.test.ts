import { ciffCamera } from '../../shared/image/ciff';
import { canonCiffJpeg, ciffHeap, ciffSegment } from '../helpers/fixtures';

const SOI = Buffer.from([0xff, 0xd8]);
const SOS = Buffer.from([0xff, 0xda, 0x00, 0x02]);
const jpegWith = (...segments: Buffer[]) => Buffer.concat([SOI, ...segments, SOS]);
const makeModel = (value: string) => ({ tag: 0x080a, data: Buffer.from(value, 'latin1') });

describe('Canon CIFF heap in a JPEG APP0 segment', () => {
  it('finds the Make/Model record in a sub-heap, after a JFIF APP0', async () => {
    expect(ciffCamera(await canonCiffJpeg())).toEqual({ make: 'Canon', model: 'Canon PowerShot A5' });
  });

  it('reads big-endian heaps, records at the root, and a make stored in the directory entry itself', () => {
    expect(ciffCamera(jpegWith(ciffSegment(ciffHeap([makeModel('Canon\0Canon PowerShot 600\0')], false), false)))).toEqual({
      make: 'Canon',
      model: 'Canon PowerShot 600',
    });
    // Tag bit 0x4000: the value is the entry's 8 size and offset bytes.
    const inDirectory = ciffHeap([{ tag: 0x080a, data: Buffer.alloc(0) }]);
    const at = inDirectory.length - 4 - 10;
    inDirectory.writeUInt16LE(0x4000 | 0x080a, at);
    inDirectory.write('Canon\0\0\0', at + 2, 'latin1');
    expect(ciffCamera(jpegWith(ciffSegment(inDirectory)))).toEqual({ make: 'Canon', model: null });
  });

  it('gives null, and throws nothing, for heaps that loop, nest without end, or point outside themselves', async () => {
    // A sub-heap entry that spans its own heap.
    const looping = ciffHeap([{ tag: 0x300a, data: Buffer.alloc(0) }]);
    looping.writeUInt32LE(looping.length, looping.length - 4 - 8);
    expect(ciffCamera(jpegWith(ciffSegment(looping)))).toBeNull();
    let deep = ciffHeap([makeModel('Canon\0Deep\0')]);
    for (let i = 0; i < 20; i++) deep = ciffHeap([{ tag: 0x300a, data: deep }]);
    expect(ciffCamera(jpegWith(ciffSegment(deep)))).toBeNull();
    const outside = ciffHeap([makeModel('Canon\0Canon PowerShot A5\0')]);
    outside.writeUInt32LE(0x7fffffff, outside.length - 4 - 4);
    expect(ciffCamera(jpegWith(ciffSegment(outside)))).toBeNull();
    const manyEntries = ciffHeap([makeModel('Canon\0X\0')]);
    manyEntries.writeUInt16LE(0xffff, manyEntries.length - 4 - 10 - 2);
    expect(ciffCamera(jpegWith(ciffSegment(manyEntries)))).toEqual({ make: 'Canon', model: 'X' });
    const canon = await canonCiffJpeg();
    for (let cut = 0; cut < 300; cut += 7) expect(() => ciffCamera(canon.subarray(0, cut))).not.toThrow();
    expect(ciffCamera(canon.subarray(0, 100))).toBeNull();
    expect(ciffCamera(Buffer.from('not a jpeg'))).toBeNull();
  });

  it('looks no further than the first scan', async () => {
    const canon = await canonCiffJpeg();
    expect(ciffCamera(Buffer.concat([SOI, SOS, canon.subarray(2)]))).toBeNull();
  });
});
