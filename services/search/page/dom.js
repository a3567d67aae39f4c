// Building the page's DOM: elements, the numbers and tables every view shows.

export function el(tag, props, children) {
  const { dataset, ...rest } = props || {};
  const node = Object.assign(document.createElement(tag), rest);
  Object.assign(node.dataset, dataset);
  for (const child of children || []) if (child != null) node.append(child);
  return node;
}

export function text(value) {
  return value == null ? '' : String(value);
}

export function count(n) {
  return Number(n).toLocaleString('en-US');
}

/** A table of `{ cells, className }` rows; a cell is text or a node. */
export function table(className, headings, rows) {
  return el('table', { className }, [
    el('thead', {}, [el('tr', {}, headings.map((h) => el('th', { textContent: h })))]),
    el('tbody', {}, rows.map((row) => el('tr', { className: row.className || '' },
      row.cells.map((v) => el('td', {}, [v instanceof Node ? v : text(v)]))))),
  ]);
}
