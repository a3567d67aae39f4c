import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { captureTime, extractMetadata, iptcCaptureTime, xmpCaptureTime } from '../../services/processor/exif.extractor';
import { cameraJpeg, canonCiffJpeg, insertSegments, jpegSegment, plainPng } from '../helpers/fixtures';
import { heicFromJpeg } from '../helpers/heic';

const dir = mkdtempSync(path.join(tmpdir(), 'exif-'));

function saved(name: string, data: Buffer): string {
  const file = path.join(dir, name);
  writeFileSync(file, data);
  return file;
}

describe('EXIF, GPS and XMP extraction', () => {
  it("keeps the camera's wall-clock time and its offset, instead of reading it as UTC", () => {
    expect(captureTime('2024:05:01 12:34:56', '+02:00', null)).toBe('2024-05-01T12:34:56+02:00');
    expect(captureTime('2024:05:01 12:34:56', null, '25')).toBe('2024-05-01T12:34:56.25');
    expect(captureTime('2024:05:01 12:34:56', 'garbage', null)).toBe('2024-05-01T12:34:56');
    expect(captureTime('0000:00:00 00:00:00', null, null)).toBeNull();
    expect(captureTime(undefined, null, null)).toBeNull();
    // XMP exif:DateTimeOriginal, which exifr puts in the EXIF block, carries its fraction and offset inline.
    expect(captureTime('2024-05-01T12:34:56.25+02:00', null, null)).toBe('2024-05-01T12:34:56.25+02:00');
    expect(captureTime('2024:13:01 12:34:56', null, null)).toBeNull();
  });

  it('reads XMP and IPTC dates with their offsets; a date alone is its midnight, without zone', () => {
    expect(xmpCaptureTime('2024-05-01T12:34:56+02:00')).toBe('2024-05-01T12:34:56+02:00');
    expect(xmpCaptureTime('2024-05-01T12:34:56.5-07:00')).toBe('2024-05-01T12:34:56.5-07:00');
    expect(xmpCaptureTime('2024-05-01T12:34Z')).toBe('2024-05-01T12:34:00+00:00');
    expect(xmpCaptureTime('2024-05-01')).toBe('2024-05-01T00:00:00');
    expect(xmpCaptureTime('2024-05')).toBeNull();
    expect(xmpCaptureTime(2024)).toBeNull();
    expect(iptcCaptureTime('20240501', '123456+0200')).toBe('2024-05-01T12:34:56+02:00');
    expect(iptcCaptureTime('20240501', '123456')).toBe('2024-05-01T12:34:56');
    expect(iptcCaptureTime('20240501', '12:34:56-05:00')).toBe('2024-05-01T12:34:56-05:00');
    expect(iptcCaptureTime('20240501', undefined)).toBe('2024-05-01T00:00:00');
    expect(iptcCaptureTime('00000000', '123456')).toBeNull();
    expect(iptcCaptureTime(undefined, '123456')).toBeNull();
  });

  it('takes the capture time from EXIF first, then XMP photoshop:DateCreated, IPTC, and XMP xmp:CreateDate last', async () => {
    const dates = {
      dateTimeDigitized: '2024:01:02 03:04:05',
      xmpDateCreated: '2024-05-01T12:34:56+02:00',
      iptcDateCreated: '20240502',
      iptcTimeCreated: '080910-0400',
      xmpCreateDate: '2024-06-10T10:00:00+01:00',
    };
    const capturedAt = async (options: Parameters<typeof cameraJpeg>[0]) =>
      (await extractMetadata(await cameraJpeg({ width: 64, height: 48, ...options }), 'jpeg')).capturedAt;
    expect(await capturedAt({ ...dates, dateTimeOriginal: '2023:12:31 23:59:58' })).toBe('2023-12-31T23:59:58');
    expect(await capturedAt(dates)).toBe('2024-01-02T03:04:05');
    const { dateTimeDigitized: _exif, ...withoutExif } = dates;
    expect(await capturedAt(withoutExif)).toBe('2024-05-01T12:34:56+02:00');
    const { xmpDateCreated: _photoshop, ...iptcAndCreateDate } = withoutExif;
    expect(await capturedAt(iptcAndCreateDate)).toBe('2024-05-02T08:09:10-04:00');
    expect(await capturedAt({ xmpCreateDate: dates.xmpCreateDate })).toBe('2024-06-10T10:00:00+01:00');
    expect(await capturedAt({ xmpDateCreated: '2019-08-15', xmpCreateDate: dates.xmpCreateDate })).toBe('2019-08-15T00:00:00');
    expect(await capturedAt({ iptcDateCreated: '20240502' })).toBe('2024-05-02T00:00:00');
  });

  it('reads camera, time, GPS with altitude, keywords and caption from a camera JPEG', async () => {
    const jpeg = await cameraJpeg({
      make: 'Canon', model: 'EOS R5', serial: '0123', dateTimeOriginal: '2023:12:31 23:59:58',
      gps: { lat: -33.856784, lon: 151.215297, alt: -12.5 }, keywords: ['opera', 'harbour'], caption: 'Sydney at night',
    });
    const meta = await extractMetadata(jpeg, 'jpeg');
    expect(meta.capturedAt).toBe('2023-12-31T23:59:58');
    expect(meta.camera).toEqual({ make: 'Canon', model: 'EOS R5', serial: '0123' });
    expect(meta.gps!.lat).toBeCloseTo(-33.856784, 6);
    expect(meta.gps!.lon).toBeCloseTo(151.215297, 6);
    expect(meta.gps!.alt).toBeCloseTo(-12.5, 2);
    expect(meta.keywords).toEqual(['opera', 'harbour']);
    expect(meta.caption).toBe('Sydney at night');
  });

  it('reads the Exif and XMP items of an HEVC HEIC, which exifr alone misses when libheif wrote the file', async () => {
    const heic = await heicFromJpeg(await cameraJpeg({
      width: 640, height: 480, make: 'Apple', model: 'iPhone 15 Pro', dateTimeOriginal: '2024:07:04 18:30:00', offsetTimeOriginal: '-04:00',
      gps: { lat: 40.712776, lon: -74.005974, alt: 10 }, keywords: ['skyline'], caption: 'Evening over the river',
    }));
    const meta = await extractMetadata(heic, 'heic');
    expect(meta.capturedAt).toBe('2024-07-04T18:30:00-04:00');
    expect(meta.camera).toEqual({ make: 'Apple', model: 'iPhone 15 Pro', serial: null });
    expect(meta.gps!.lat).toBeCloseTo(40.712776, 6);
    expect(meta.gps!.lon).toBeCloseTo(-74.005974, 6);
    expect(meta.keywords).toEqual(['skyline']);
    expect(meta.caption).toBe('Evening over the river');
  });

  it('reads the same from a file path as from the bytes', async () => {
    const jpeg = await cameraJpeg({
      width: 640, height: 480, make: 'Nikon', model: 'D850', dateTimeOriginal: '2024:05:01 12:34:56', offsetTimeOriginal: '+02:00',
      gps: { lat: 48.8584, lon: 2.2945 }, keywords: ['tower'], caption: 'Paris', iptcDateCreated: '20240501',
    });
    const fromPath = await extractMetadata(saved('camera.jpg', jpeg), 'jpeg');
    expect(fromPath).toEqual(await extractMetadata(jpeg, 'jpeg'));
    expect(fromPath).toMatchObject({ capturedAt: '2024-05-01T12:34:56+02:00', camera: { make: 'Nikon', model: 'D850' }, keywords: ['tower'] });
  });

  it('reads the Exif item of an AVIF, from its bytes or a path', async () => {
    const avif = await sharp(await cameraJpeg({ width: 320, height: 240 }))
      .withExif({ IFD0: { Make: 'Google', Model: 'Pixel 8' }, IFD2: { DateTimeOriginal: '2024:03:03 09:08:07', OffsetTimeOriginal: '+09:00' } })
      .avif()
      .toBuffer();
    for (const input of [avif, saved('photo.avif', avif)]) {
      const meta = await extractMetadata(input, 'avif');
      expect(meta.camera).toEqual({ make: 'Google', model: 'Pixel 8', serial: null });
      expect(meta.capturedAt).toBe('2024-03-03T09:08:07+09:00');
    }
  });

  it('names the camera of a 1998 Canon JPEG, which keeps make and model only in a CIFF heap in APP0', async () => {
    const jpeg = await canonCiffJpeg();
    for (const input of [jpeg, saved('AUT_0001.JPG', jpeg)]) {
      expect((await extractMetadata(input, 'jpeg')).camera).toEqual({ make: 'Canon', model: 'Canon PowerShot A5', serial: null });
    }
    // EXIF, where there is any, names the camera.
    let app0End = 2;
    while (jpeg[app0End + 1] === 0xe0) app0End += 2 + jpeg.readUInt16BE(app0End + 2);
    const withExif = insertSegments(await cameraJpeg({ width: 64, height: 48, make: 'Canon', model: 'PowerShot A50' }), jpeg.subarray(2, app0End));
    expect((await extractMetadata(withExif, 'jpeg')).camera).toMatchObject({ make: 'Canon', model: 'PowerShot A50' });
  });

  it('gives nulls, and throws nothing, for metadata that is broken', async () => {
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#333' } }).jpeg().toBuffer();
    const brokenExif = jpegSegment(0xe1, Buffer.concat([Buffer.from('Exif\0\0MM\0*', 'latin1'), Buffer.from([0xff, 0xff, 0xff, 0xf0]), Buffer.alloc(8)]));
    const brokenCiff = jpegSegment(0xe0, Buffer.concat([Buffer.from('II\x1a\0\0\0HEAPJPGM', 'latin1'), Buffer.alloc(12), Buffer.from([0xff, 0xff, 0xff, 0x7f])]));
    for (const input of [insertSegments(jpeg, brokenExif), insertSegments(jpeg, brokenCiff), Buffer.from([0xff, 0xd8, 0xff, 0xe1, 0xff])]) {
      await expect(extractMetadata(input, 'jpeg')).resolves.toMatchObject({ capturedAt: null, camera: { make: null, model: null } });
    }
  });

  it('gives nulls, not guesses, for an image without metadata', async () => {
    const meta = await extractMetadata(await plainPng(), 'png');
    expect(meta).toMatchObject({ capturedAt: null, camera: { make: null, model: null, serial: null }, gps: null, keywords: [], caption: null });
  });
});
