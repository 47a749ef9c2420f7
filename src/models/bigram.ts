/**
 * The lecture's bigram model: each token reads the logits for the next token straight off a row of a
 * [vocab, vocab] table. No context beyond the current token; the baseline every later chapter improves on.
 */
import { crossEntropy } from '../engine/ops/cross_entropy.js';
import type { Rng } from '../engine/random.js';
import type { Tensor } from '../engine/tensor.js';
import { Embedding } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { BigramDecoder } from './bigram_decoder.js';
import type { Decoder, DecoderOptions, PastContext } from './decoder.js';
import type { LanguageModel } from './language_model.js';

export interface BigramConfig {
  kind: 'bigram';
  vocabSize: number;
  /** Only the training windows' length: the model itself looks at one token. */
  blockSize: number;
}

export class BigramLanguageModel extends Module implements LanguageModel {
  readonly token_embedding_table: Embedding;

  constructor(
    readonly config: BigramConfig,
    rng: Rng,
  ) {
    super();
    // nn.Embedding's default init, N(0, 1), as in the lecture's bigram.py.
    this.token_embedding_table = this.registerModule(
      'token_embedding_table',
      new Embedding(config.vocabSize, config.vocabSize, rng, { std: 1 }),
    );
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  get blockSize(): number {
    return this.config.blockSize;
  }

  /** Its logits read the last token alone: cropping loses nothing, and there is nothing to roll. */
  readonly pastContexts: readonly PastContext[] = ['crop'];

  forward(idx: Tensor, targets?: Tensor): { logits: Tensor; loss: Tensor | null } {
    const logits = this.token_embedding_table.forward(idx);
    return { logits, loss: targets === undefined ? null : crossEntropy(logits, targets) };
  }

  decoder(batch: number, opts?: DecoderOptions): Decoder {
    return new BigramDecoder(this.token_embedding_table.weight, batch, this.config.blockSize, opts);
  }
}
