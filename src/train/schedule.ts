/**
 * nanoGPT's learning-rate schedule: linear warm-up over warmupIters steps, then cosine decay from
 * learningRate to minLr by lrDecayIters, then minLr. With decay off, the rate is constant (the lecture).
 */
export interface ScheduleConfig {
  learningRate: number;
  minLr: number;
  warmupIters: number;
  lrDecayIters: number;
  decayLr: boolean;
}

export function learningRateAt(step: number, c: ScheduleConfig): number {
  if (!c.decayLr) return c.learningRate;
  if (step < c.warmupIters) return (c.learningRate * (step + 1)) / (c.warmupIters + 1);
  if (step > c.lrDecayIters) return c.minLr;
  const span = c.lrDecayIters - c.warmupIters;
  const ratio = span <= 0 ? 1 : (step - c.warmupIters) / span;
  const coeff = 0.5 * (1 + Math.cos(Math.PI * ratio)); // 1 at the start of the decay, 0 at its end
  return c.minLr + coeff * (c.learningRate - c.minLr);
}
