/* global L */
// Leaflet and leaflet.markercluster are classic scripts served from /assets: they define window.L.

let countries = null;
let tileUrl = null;

/** The offline base layer: country outlines served by the search service, real tiles over them when configured. */
function baseLayers(map) {
  countries ??= fetch('/assets/countries.geojson').then((r) => r.json());
  countries.then((geojson) => {
    // Over real tiles only the borders: the outlines' pane lies above the tiles', and a fill would hide them.
    const fillOpacity = tileUrl ? 0 : 1;
    L.geoJSON(geojson, { style: { color: '#7b8794', weight: 1, fillColor: '#e3e8ed', fillOpacity }, interactive: false }).addTo(map).bringToBack();
  });
  if (tileUrl) L.tileLayer(tileUrl, { maxZoom: 19 }).addTo(map);
}

/** A map of one point, for the detail view. */
export function miniMap(container, gps) {
  const map = L.map(container, { worldCopyJump: true, attributionControl: false, maxZoom: 18 }).setView([gps.lat, gps.lon], 5);
  baseLayers(map);
  L.circleMarker([gps.lat, gps.lon], { radius: 7, color: '#b3261e' }).addTo(map);
  return map;
}

function wrapLon(lon) {
  return ((((lon + 180) % 360) + 360) % 360) - 180;
}

/** `minLon,minLat,maxLon,maxLat` of what the map shows, wrapped to the API's ranges. */
function bboxOf(bounds) {
  const round = (n) => Math.round(n * 1e5) / 1e5;
  const lat = (n) => round(Math.max(-90, Math.min(90, n)));
  const span = bounds.getEast() - bounds.getWest();
  const [west, east] = span >= 360 ? [-180, 180] : [round(wrapLon(bounds.getWest())), round(wrapLon(bounds.getEast()))];
  return [west, lat(bounds.getSouth()), east, lat(bounds.getNorth())].join(',');
}

/** The results with a position, clustered; "search this area" sets bbox to the view. */
export class ResultMap {
  constructor(container, { open, searchArea }) {
    this.container = container;
    this.open = open;
    this.searchArea = searchArea;
    this.map = null;
    this.markers = new Map();
  }

  configure(config) {
    tileUrl = config.mapTileUrl || null;
  }

  ensure() {
    if (this.map) return;
    this.map = L.map(this.container, { worldCopyJump: true, attributionControl: false, minZoom: 1, maxZoom: 18 }).setView([20, 0], 1);
    baseLayers(this.map);
    this.cluster = L.markerClusterGroup({ showCoverageOnHover: false });
    this.map.addLayer(this.cluster);
    const control = L.control({ position: 'topright' });
    control.onAdd = () => {
      const box = L.DomUtil.create('div', 'leaflet-bar map-actions');
      const search = L.DomUtil.create('button', 'search-area', box);
      search.type = 'button';
      search.textContent = 'Search this area';
      const fit = L.DomUtil.create('button', 'fit-markers', box);
      fit.type = 'button';
      fit.textContent = 'Fit to results';
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.on(search, 'click', () => this.searchArea(bboxOf(this.map.getBounds())));
      L.DomEvent.on(fit, 'click', () => this.fit());
      return box;
    };
    control.addTo(this.map);
  }

  show(items, bbox) {
    this.ensure();
    this.cluster.clearLayers();
    this.markers.clear();
    for (const item of items) {
      if (!item.gps) continue;
      const name = item.sources[0] ? item.sources[0].path : item.id;
      // A div icon: Leaflet's default icon is a PNG it looks for beside leaflet.css, which /assets does not serve.
      const icon = L.divIcon({ className: 'photo-marker', iconSize: [14, 14] });
      const marker = L.marker([item.gps.lat, item.gps.lon], { title: name, icon, keyboard: false });
      marker.on('click', () => this.open(item.id));
      this.markers.set(item.id, marker);
      this.cluster.addLayer(marker);
    }
    if (this.area) this.area.remove();
    this.area = null;
    if (bbox) {
      const [w, s, e, n] = bbox.split(',').map(Number);
      this.area = L.rectangle([[s, w], [n, e < w ? e + 360 : e]], { color: '#2f6fd6', weight: 1, fill: false, interactive: false }).addTo(this.map);
    }
    this.container.dataset.markers = String(this.markers.size);
    // The map follows a new result set unless the user has chosen its area; a shared link with an
    // area opens on it.
    if (!bbox) this.fit();
    else if (!this.shown) this.map.fitBounds(this.area.getBounds(), { animate: false });
    this.shown = true;
    setTimeout(() => this.map.invalidateSize(), 0);
  }

  resize() {
    if (this.map) this.map.invalidateSize();
  }

  fit() {
    const points = [...this.markers.values()].map((m) => m.getLatLng());
    if (points.length === 0) return;
    this.map.fitBounds(L.latLngBounds(points).pad(0.2), { maxZoom: 8, animate: false });
  }

  highlight(item) {
    const marker = item && this.markers.get(item.id);
    if (marker) this.cluster.zoomToShowLayer(marker, () => {});
  }
}
