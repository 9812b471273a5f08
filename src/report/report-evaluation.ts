/**
 * What a report computes with `--data`: a checkpoint evaluated on the val split, for the
 * confusion matrix (traces written before eval rows carried it) and for the first few val
 * images drawn as image | ground truth | prediction.
 */
import { loadTrainedModel } from '../checkpoint/load-model.js';
import { evaluateModel } from '../inference/evaluate.js';
import { tfjsEngine } from '../inference/engines/tfjs.js';
import { blendSegmentation, encodePng, SHOW_ALPHA, sideBySide } from '../inference/show-images.js';
import { openDataset } from '../datasets/open-dataset.js';
import type { ReportPicture } from './run-report.js';

export interface ReportEvaluation {
  counts: number[][];
  pictures: ReportPicture[];
  images: number;
}

export interface ReportEvaluationOptions {
  split: string;
  /** Evaluate only the first N images of the split (0: all). */
  limit: number;
  /** Val images to draw. */
  pictures: number;
  onProgress?: (done: number, total: number) => void;
}

export async function evaluateForReport(checkpoint: string, data: string, options: ReportEvaluationOptions): Promise<ReportEvaluation> {
  const trained = loadTrainedModel(checkpoint);
  const pictures: ReportPicture[] = [];
  try {
    const dataset = openDataset(data);
    const result = await evaluateModel(tfjsEngine(trained.model), trained.head, dataset, options.split, {
      ...(options.limit > 0 ? { limit: options.limit } : {}),
      ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}),
      onPrediction: async (sample, mask) => {
        if (pictures.length >= options.pictures) return;
        const panels = [
          sample.rgb,
          blendSegmentation(sample.rgb, sample.label, SHOW_ALPHA, dataset.palette),
          blendSegmentation(sample.rgb, mask, SHOW_ALPHA, dataset.palette),
        ];
        const png = await encodePng(sideBySide(panels, sample.width, sample.height), 3 * sample.width, sample.height);
        pictures.push({ id: sample.id, png, width: 3 * sample.width, height: sample.height });
      },
    });
    const k = result.confusion.numClasses;
    const counts = Array.from({ length: k }, (_, t) => Array.from({ length: k }, (_, p) => result.confusion.get(t, p)));
    return { counts, pictures, images: result.images };
  } finally {
    trained.model.dispose();
  }
}
