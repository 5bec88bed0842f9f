/** In-memory dataset shapes shared by the loaders, the sharder and the trainer. */

/** One split: `n` examples, images as NHWC floats in [0, 1], labels as class indices. */
export interface Split {
  readonly n: number;
  /** Length n * h * w * c, NHWC, values in [0, 1]. */
  readonly x: Float32Array;
  /** Length n, values in [0, numClasses); -1 (`UNLABELED`) in a split whose labels were removed (worker/data/unlabeled.ts). */
  readonly y: Int32Array;
}

export interface Dataset {
  readonly name: string;
  /** [height, width, channels]. */
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly train: Split;
  readonly test: Split;
}
