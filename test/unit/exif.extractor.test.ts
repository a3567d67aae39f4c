import { captureTime, extractMetadata } from '../../services/processor/exif.extractor';
import { cameraJpeg, plainPng } from '../helpers/fixtures';
import { heicFromJpeg } from '../helpers/heic';

describe('EXIF, GPS and XMP extraction', () => {
  it("keeps the camera's wall-clock time and its offset, instead of reading it as UTC", () => {
    expect(captureTime('2024:05:01 12:34:56', '+02:00', null)).toBe('2024-05-01T12:34:56+02:00');
    expect(captureTime('2024:05:01 12:34:56', null, '25')).toBe('2024-05-01T12:34:56.25');
    expect(captureTime('2024:05:01 12:34:56', 'garbage', null)).toBe('2024-05-01T12:34:56');
    expect(captureTime('0000:00:00 00:00:00', null, null)).toBeNull();
    expect(captureTime(undefined, null, null)).toBeNull();
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

  it('gives nulls, not guesses, for an image without metadata', async () => {
    const meta = await extractMetadata(await plainPng(), 'png');
    expect(meta).toMatchObject({ capturedAt: null, camera: { make: null, model: null, serial: null }, gps: null, keywords: [], caption: null });
  });
});
