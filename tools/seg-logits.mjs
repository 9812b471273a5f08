#!/usr/bin/env node
// seg's logits for one dataset image, saved for `torchvision_roundtrip.py compare`:
//   node tools/seg-logits.mjs CHECKPOINT DATA [ID] [OUT.safetensors]
// writes `input` [1,H,W,3] (normalised as the checkpoint says), `logits` [1,H,W,K] (seg's
// whole-image inference: the network on the image as it is) and, for a model with the aux
// classifier, its logits `aux` [1,H,W,K]. Needs the built library (npm run build).
import * as seg from '../dist/index.js';
import { writeSafetensors } from '../dist/checkpoint/safetensors.js';
import { loadSample } from '../dist/datasets/sample.js';
import { normalizeImage } from '../dist/data-loading/normalize.js';

const [checkpoint, data, idArg, out = 'seg-logits.safetensors'] = process.argv.slice(2);
if (checkpoint === undefined || data === undefined) {
  console.error('usage: node tools/seg-logits.mjs CHECKPOINT DATA [ID (default: first val id)] [OUT.safetensors]');
  process.exit(2);
}
await seg.selectBackend(process.env.SEG_BACKEND ?? 'auto');
const trained = seg.loadTrainedModel(checkpoint);
const dataset = seg.openDataset(data);
const id = idArg ?? dataset.listSplit('val')[0];
const sample = await loadSample(dataset, id);
const input = normalizeImage(sample.image, trained.normalization);
const x = seg.tf.tensor4d(input, [1, sample.height, sample.width, 3]);
const { logits, aux } = trained.model.forwardWithAux(x, { training: false });
const tensors = new Map([
  ['input', { shape: [1, sample.height, sample.width, 3], data: input }],
  ['logits', { shape: [...logits.shape], data: await logits.data() }],
]);
if (aux !== undefined) tensors.set('aux', { shape: [...aux.shape], data: await aux.data() });
writeSafetensors(out, tensors, { producer: 'tools/seg-logits.mjs', checkpoint: trained.dir, id });
console.log(`${seg.tf.getBackend()}: ${id} (${sample.width}x${sample.height}) logits [${logits.shape}] -> ${out}`);
