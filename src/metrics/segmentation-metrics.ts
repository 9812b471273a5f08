/**
 * Segmentation scores from a confusion matrix (rows: ground truth, columns: prediction).
 *
 * Per class c, with TP = m[c][c], GT = row sum, PRED = column sum, UNION = GT + PRED - TP:
 *   iou = TP / UNION, or null when UNION = 0 (the class neither occurs nor is predicted);
 *   acc = TP / GT,    or null when GT = 0.
 * NaN policy, explicit:
 *   mIoU  = mean of iou over classes whose union is non-zero (null ious are excluded; a class
 *           that is predicted but absent from the ground truth counts, with iou 0, as in the
 *           VOC devkit);
 *   mAcc  = mean of acc over classes with at least one ground-truth pixel;
 *   aAcc  = sum TP / total pixels (pixel accuracy);
 *   fwIoU = sum over classes of (GT / total) * iou.
 * With no counted pixel at all, the four summaries are null.
 */
import type { ConfusionMatrix } from './confusion-matrix.js';
import { mean } from '../core/numbers.js';

export interface ClassMetrics {
  name: string;
  /** Intersection over union, null when the union is empty. */
  iou: number | null;
  /** Recall (TP / ground-truth pixels), null when the class has no ground-truth pixel. */
  acc: number | null;
  /** Ground-truth pixels of this class. */
  pixels: number;
}

export interface SegMetrics {
  /** Mean IoU over classes with a non-empty union. */
  mIoU: number | null;
  /** Pixel accuracy. */
  aAcc: number | null;
  /** Mean class accuracy over classes with ground-truth pixels. */
  mAcc: number | null;
  /** Frequency-weighted IoU. */
  fwIoU: number | null;
  /** Valid (non-void) pixels counted. */
  pixels: number;
  classes: ClassMetrics[];
}

export function computeMetrics(cm: ConfusionMatrix, classNames: readonly string[]): SegMetrics {
  const k = cm.numClasses;
  if (classNames.length !== k) {
    throw new Error(`computeMetrics: ${classNames.length} class names for a ${k}-class confusion matrix`);
  }
  const m = cm.counts;
  const gt = new Float64Array(k);
  const pred = new Float64Array(k);
  let total = 0;
  let correct = 0;
  for (let t = 0; t < k; t++) {
    for (let p = 0; p < k; p++) {
      const c = m[t * k + p];
      gt[t] += c;
      pred[p] += c;
      total += c;
    }
    correct += m[t * k + t];
  }
  const classes: ClassMetrics[] = [];
  let fw = 0;
  for (let c = 0; c < k; c++) {
    const tp = m[c * k + c];
    const union = gt[c] + pred[c] - tp;
    const iou = union > 0 ? tp / union : null;
    const acc = gt[c] > 0 ? tp / gt[c] : null;
    if (iou !== null && gt[c] > 0) fw += (gt[c] / total) * iou;
    classes.push({ name: classNames[c], iou, acc, pixels: gt[c] });
  }
  const ious = classes.flatMap((c) => (c.iou === null ? [] : [c.iou]));
  const accs = classes.flatMap((c) => (c.acc === null ? [] : [c.acc]));
  return {
    mIoU: mean(ious),
    aAcc: total > 0 ? correct / total : null,
    mAcc: mean(accs),
    fwIoU: total > 0 ? fw : null,
    pixels: total,
    classes,
  };
}
