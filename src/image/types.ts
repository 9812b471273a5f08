/**
 * The vocabulary of images and labels. Images are row-major HxWx3 RGB; labels are row-major HxW
 * class indices with 255 = void (never trained on, never scored).
 */
/** Class indices of one label PNG, exactly as stored (palette index or gray value). */
export interface LabelImage {
  width: number;
  height: number;
  /** HxW indices. */
  data: Uint8Array;
}

/** A decoded image: HxWx3 RGB bytes. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** The label value that marks pixels never trained on and never scored. */
export const VOID_LABEL = 255;
