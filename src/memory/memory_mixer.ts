/**
 * Sampling with a memory: at every step generate's mix point hands the model's distribution and its hidden
 * state to the memory, which mixes in its own next-token distribution, p = lambda p_mem + (1 - lambda) p_model
 * (lambda rising to matchLambda on a near-exact context match), before top-k, top-p and the draw.
 */
import type { NextTokenMixer } from '../sample/generate.js';
import type { Memory } from './memory.js';
import type { MemoryScoring } from './memory_config.js';

export function memoryMixer(memory: Memory, scoring: MemoryScoring = memory.config.scoring): NextTokenMixer {
  const fromMemory = new Float32Array(memory.config.model.vocabSize);
  return {
    hiddenPoint: memory.config.point,
    mix(probs, hidden, context) {
      const neighbours = memory.neighbours(hidden, [context], scoring);
      const lambda = memory.distribution(neighbours, 0, scoring, fromMemory);
      for (let v = 0; v < probs.length; v++) probs[v] = lambda * fromMemory[v]! + (1 - lambda) * probs[v]!;
      return probs;
    },
  };
}
