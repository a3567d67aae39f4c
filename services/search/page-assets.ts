import { readFileSync } from 'node:fs';
import path from 'node:path';
import { feature } from 'topojson-client';
import { PACKAGE_ROOT } from '../../shared/paths';

/**
 * The files the analysts' page loads, served by the search service itself so that the page (and its
 * map) works without internet access: libraries from node_modules, the page's own from
 * services/search/page/. Only names listed here are served: a request cannot reach any other file.
 */
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const ASSETS: Record<string, { file: string; type: string }> = {
  'leaflet.js': { file: 'node_modules/leaflet/dist/leaflet.js', type: JS },
  'leaflet.css': { file: 'node_modules/leaflet/dist/leaflet.css', type: CSS },
  'leaflet.markercluster.js': { file: 'node_modules/leaflet.markercluster/dist/leaflet.markercluster.js', type: JS },
  'MarkerCluster.css': { file: 'node_modules/leaflet.markercluster/dist/MarkerCluster.css', type: CSS },
  'MarkerCluster.Default.css': { file: 'node_modules/leaflet.markercluster/dist/MarkerCluster.Default.css', type: CSS },
  'page.css': { file: 'services/search/page/page.css', type: CSS },
  'page.js': { file: 'services/search/page/page.js', type: JS },
  'api.js': { file: 'services/search/page/api.js', type: JS },
  'dom.js': { file: 'services/search/page/dom.js', type: JS },
  'facets.js': { file: 'services/search/page/facets.js', type: JS },
  'map.js': { file: 'services/search/page/map.js', type: JS },
  'detail.js': { file: 'services/search/page/detail.js', type: JS },
  'sources.js': { file: 'services/search/page/sources.js', type: JS },
};

/**
 * Assets made from a library's data once, on first request: the map's base layer, world-atlas's
 * 1:110m country outlines (TopoJSON) as the GeoJSON Leaflet draws.
 */
const COMPUTED: Record<string, { make: () => unknown; type: string }> = {
  'countries.geojson': {
    type: 'application/geo+json',
    make: () => {
      const topology = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'node_modules/world-atlas/countries-110m.json'), 'utf8'));
      return feature(topology, topology.objects.countries);
    },
  },
};

export interface PageAsset {
  body: Buffer;
  type: string;
}

const loaded = new Map<string, PageAsset>();

/** The asset of that name, read (or made) once; null for a name not listed. */
export function pageAsset(name: string): PageAsset | null {
  const found = loaded.get(name);
  if (found) return found;
  const file = Object.hasOwn(ASSETS, name) ? ASSETS[name] : null;
  const computed = Object.hasOwn(COMPUTED, name) ? COMPUTED[name] : null;
  if (!file && !computed) return null;
  const asset = file
    ? { body: readFileSync(path.join(PACKAGE_ROOT, file.file)), type: file.type }
    : { body: Buffer.from(JSON.stringify(computed!.make())), type: computed!.type };
  loaded.set(name, asset);
  return asset;
}
