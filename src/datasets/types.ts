/** One decoded dataset entry: RGB bytes and class indices (255 = void). */
export interface Sample {
  id: string;
  width: number;
  height: number;
  /** HxWx3 RGB bytes. */
  image: Uint8Array;
  /** HxW class indices, 255 = void. */
  label: Uint8Array;
}
