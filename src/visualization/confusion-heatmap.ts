/**
 * A confusion matrix as an SVG heatmap: one row per ground-truth class, one column per
 * predicted class, each cell shaded by the share of its row (the row's recall spread over
 * predictions), with the percentage written in cells when the classes are few enough to
 * read. Rows with no pixels stay blank. Same fonts and conventions as line-chart.ts.
 */
const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** White to the charts' blue (#0072B2) by `t` in [0, 1]. */
function shade(t: number): string {
  const mix = (a: number, b: number): number => Math.round(a + (b - a) * t);
  return `rgb(${mix(255, 0)},${mix(255, 114)},${mix(255, 178)})`;
}

export interface HeatmapOptions {
  title?: string;
  /** Side of a cell in pixels (default: 44, fewer pixels for many classes). */
  cell?: number;
}

/** `counts[t][p]`: pixels of ground truth t predicted as p. */
export function confusionHeatmapSvg(
  counts: readonly (readonly number[])[],
  classNames: readonly string[],
  options: HeatmapOptions = {},
): string {
  const k = classNames.length;
  const cell = options.cell ?? (k <= 12 ? 44 : k <= 24 ? 30 : 18);
  const labelWidth = Math.min(180, 12 + 7.2 * Math.max(...classNames.map((n) => n.length), 4));
  const left = labelWidth + 28;
  const top = 70 + labelWidth;
  const title = options.title ?? 'Confusion matrix';
  // Wide enough for the title (18 px bold) and the subtitle (12 px), about 0.6 em per character.
  const width = Math.max(left + k * cell + 20, Math.ceil(title.length * 18 * 0.62) + 20, 600);
  const height = top + k * cell + 20;
  const showText = cell >= 30;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="26" text-anchor="middle" font-size="18" font-weight="bold" fill="#222">${escapeXml(title)}</text>`,
    `<text x="${width / 2}" y="46" text-anchor="middle" font-size="12" fill="#555">rows: ground truth; columns: prediction; shade and %: share of the row's pixels</text>`,
    `<text x="${left + (k * cell) / 2}" y="${66}" text-anchor="middle" font-size="13" fill="#222">predicted</text>`,
    `<text transform="translate(14 ${top + (k * cell) / 2}) rotate(-90)" text-anchor="middle" font-size="13" fill="#222">ground truth</text>`,
  ];
  classNames.forEach((name, i) => {
    const y = top + i * cell + cell / 2 + 4;
    const x = left + i * cell + cell / 2 + 4;
    out.push(`<text class="row-label" x="${left - 6}" y="${y}" text-anchor="end" font-size="12" fill="#333">${escapeXml(name)}</text>`);
    out.push(
      `<text class="col-label" transform="translate(${x} ${top - 6}) rotate(-90)" text-anchor="start" font-size="12" fill="#333">${escapeXml(name)}</text>`,
    );
  });
  for (let t = 0; t < k; t++) {
    const row = counts[t] ?? [];
    const total = row.reduce((a, b) => a + b, 0);
    for (let p = 0; p < k; p++) {
      const share = total > 0 ? (row[p] ?? 0) / total : 0;
      const x = left + p * cell;
      const y = top + t * cell;
      out.push(
        `<rect class="cell" x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${total > 0 ? shade(share) : '#f4f4f4'}" stroke="#ddd" stroke-width="0.5"><title>${escapeXml(`${classNames[t]} -> ${classNames[p]}: ${row[p] ?? 0} px (${(share * 100).toFixed(1)}%)`)}</title></rect>`,
      );
      if (showText && total > 0 && share >= 0.005) {
        out.push(
          `<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" font-size="11" fill="${share > 0.55 ? '#fff' : '#222'}">${Math.round(share * 100)}</text>`,
        );
      }
    }
  }
  out.push(`<rect x="${left}" y="${top}" width="${k * cell}" height="${k * cell}" fill="none" stroke="#444" stroke-width="1"/>`);
  out.push('</svg>');
  return out.join('\n');
}
