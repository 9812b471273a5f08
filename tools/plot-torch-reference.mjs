#!/usr/bin/env node
// seg's softmax val mIoU next to tools/torch_fashion_reference.py's, in one chart:
//   node tools/plot-torch-reference.mjs OUT.png TORCH.csv SEG_TRACE.csv[:LR[:NAME]] ...
// TORCH.csv: run,output_stride,iters,iter,miou,wall_s (one line per evaluation; every run is drawn).
// SEG_TRACE.csv: a trace.csv; its softmax runs are drawn (at LR only, when given; NAME goes in the legend).
// Needs the built library (npm run build).
import { readFileSync } from 'node:fs';
import { renderLineChartSvg, writeChartFiles } from '../dist/visualization/line-chart.js';

const [out, torchCsv, ...traces] = process.argv.slice(2);
if (out === undefined || torchCsv === undefined || traces.length === 0) {
  console.error('usage: node tools/plot-torch-reference.mjs OUT.png TORCH.csv SEG_TRACE.csv[:LR[:NAME]] ...');
  process.exit(2);
}

function rows(path) {
  const [header, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  const names = header.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((value, i) => [names[i], value])));
}

function addPoint(curves, label, x, y) {
  const curve = curves.get(label) ?? [];
  curve.push({ x, y: 100 * y, lo: 100 * y, hi: 100 * y });
  curves.set(label, curve);
}

const curves = new Map();
for (const trace of traces) {
  const [path, lrText, name] = trace.split(':');
  const lr = lrText === '' ? undefined : lrText;
  for (const row of rows(path)) {
    if (row.head !== 'softmax' || row.val_miou === '' || (lr !== undefined && Number(row.lr) !== Number(lr))) continue;
    const label = `seg softmax lr ${row.lr}, seed ${row.seed}${name === undefined ? '' : `, ${name}`}`;
    addPoint(curves, label, Number(row.iter), Number(row.val_miou));
  }
}
for (const row of rows(torchCsv)) {
  addPoint(curves, `PyTorch OS${row.output_stride}, ${row.iters} iterations`, Number(row.iter), Number(row.miou));
}
const series = [...curves].map(([label, points]) => ({ label, points: points.sort((a, b) => a.x - b.x) }));
const svg = renderLineChartSvg(series, {
  title: 'seg and an independent PyTorch implementation: softmax val mIoU',
  subtitle: 'Fashion scenes 96 px, DeepLab-v3 ResNet-18 width 0.5, batch 8, SGD 0.9, poly; PyTorch seed 0',
  xLabel: 'iteration',
  yLabel: 'val mIoU (%)',
  markers: true,
});
await writeChartFiles(svg, out.replace(/\.png$/, '.svg'), out);
console.log(`${series.length} curves -> ${out}`);
