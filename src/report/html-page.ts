/**
 * The report's HTML: one self-contained page (inline CSS, images as data: URIs, no script,
 * nothing fetched), readable offline and printable.
 */

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** The width and height attributes of an SVG document's root element. */
function svgSize(svg: string): { width: number; height: number } {
  const head = svg.slice(0, svg.indexOf('>'));
  return { width: Number(/width="([\d.]+)"/.exec(head)?.[1] ?? 640), height: Number(/height="([\d.]+)"/.exec(head)?.[1] ?? 400) };
}

/**
 * An SVG chart as an <img>: each chart is its own document, so ids inside one (clip paths)
 * never clash with another's.
 */
export function svgImage(svg: string, alt: string, className = 'chart'): string {
  const { width, height } = svgSize(svg);
  const uri = `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
  return `<img class="${className}" src="${uri}" width="${width}" height="${height}" alt="${escapeHtml(alt)}">`;
}

/** A PNG as an <img>; small pictures are shown at twice their size (pixels kept sharp). */
export function pngImage(png: Buffer, width: number, height: number, alt: string, className = 'sample'): string {
  const zoom = height < 200 ? 2 : 1;
  return `<img class="${className}" src="data:image/png;base64,${png.toString('base64')}" width="${width * zoom}" height="${height * zoom}" alt="${escapeHtml(alt)}">`;
}

const CSS = `
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1400px; padding: 0 16px; color: #222; }
h1 { font-size: 24px; margin-bottom: 4px; }
h2 { font-size: 19px; margin-top: 32px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 16px; margin-top: 20px; }
.meta { color: #555; font-size: 13px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
img.chart, img.heatmap { max-width: 100%; height: auto; border: 1px solid #e5e5e5; box-sizing: border-box; }
.charts.two img.chart { max-width: calc(50% - 8px); }
.charts.three img.chart { max-width: calc(33.3% - 10px); }
img.sample { image-rendering: pixelated; border: 1px solid #e5e5e5; max-width: 100%; height: auto; box-sizing: border-box; }
table.settings th { font-weight: normal; color: #555; }
figure { margin: 0 0 12px 0; }
figcaption { font-size: 12px; color: #555; }
table { border-collapse: collapse; font-size: 13px; }
td, th { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: left; }
th { background: #f6f6f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.bar { display: inline-block; height: 10px; background: #0072B2; vertical-align: middle; margin-right: 6px; }
.bar.best { background: #D55E00; }
pre { background: #f7f7f7; border: 1px solid #e5e5e5; padding: 10px; overflow-x: auto; font-size: 12px; }
details { margin: 8px 0; }
summary { cursor: pointer; font-weight: bold; }
.note { color: #8a5a00; font-size: 13px; }
`;

/** Marks a page as seg's: only such a file is ever replaced by a new report. */
export const REPORT_GENERATOR = 'seg report';

export function htmlPage(title: string, body: string): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta name="generator" content="${REPORT_GENERATOR}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
