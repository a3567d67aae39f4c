import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../shared/paths';

/**
 * The files the analysts' page loads, served by the search service itself so that the page (and its
 * map) works without internet access: libraries from node_modules, the page's own from
 * services/search/page/. Only names listed here are served: a request cannot reach any other file.
 */
const ASSETS: Record<string, { file: string; type: string }> = {
  'leaflet.js': { file: 'node_modules/leaflet/dist/leaflet.js', type: 'text/javascript; charset=utf-8' },
  'leaflet.css': { file: 'node_modules/leaflet/dist/leaflet.css', type: 'text/css; charset=utf-8' },
  'leaflet.markercluster.js': { file: 'node_modules/leaflet.markercluster/dist/leaflet.markercluster.js', type: 'text/javascript; charset=utf-8' },
  'MarkerCluster.css': { file: 'node_modules/leaflet.markercluster/dist/MarkerCluster.css', type: 'text/css; charset=utf-8' },
  'MarkerCluster.Default.css': { file: 'node_modules/leaflet.markercluster/dist/MarkerCluster.Default.css', type: 'text/css; charset=utf-8' },
};

export interface PageAsset {
  body: Buffer;
  type: string;
}

const loaded = new Map<string, PageAsset>();

/** The asset of that name, read once; null for a name not listed. */
export function pageAsset(name: string): PageAsset | null {
  const asset = ASSETS[name];
  if (!asset) return null;
  let found = loaded.get(name);
  if (!found) {
    found = { body: readFileSync(path.join(PACKAGE_ROOT, asset.file)), type: asset.type };
    loaded.set(name, found);
  }
  return found;
}
