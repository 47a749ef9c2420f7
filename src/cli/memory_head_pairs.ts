/**
 * Where `tsgpt memory train-head` gets its pairs, one source per run:
 *   --synthetic              vectors whose answers are known by construction
 *   --from RUN [--pairs SET] passages of a text (by default the run's corpus) read by the run's own model
 *   --queries F --items F    the user's vectors from another embedder, row i of F answering row i
 * Each returns the pairs and a description of them for the summary and the exported file's metadata.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../engine/random.js';
import { TsgptError } from '../errors.js';
import { passageStates } from '../memory/passage_states.js';
import { TEXT_PAIR_SETS, type TextPairSet, textPairs } from '../memory/text_pairs.js';
import { makePairs, syntheticPairs, type VectorPairs } from '../memory/vector_pairs.js';
import type { HiddenPoint } from '../models/decoder.js';
import { loadCorpus, TINY_SHAKESPEARE } from '../node/corpus.js';
import { digest, loadRun, WEIGHTS_FILE } from '../node/run_folder.js';
import { readVectorFile } from '../node/vector_file.js';

export interface PairSource {
  pairs: VectorPairs;
  /** One line for the summary: what the pairs are. */
  summary: string;
  /** What the exported head's metadata records about the vectors it applies to. */
  metadata: Record<string, string>;
}

export interface SyntheticOptions {
  count: number;
  width: number;
  noise: number;
  seed: number;
}

export function syntheticSource(o: SyntheticOptions): PairSource {
  const pairs = syntheticPairs(o.count, o.width, o.noise, new Rng(o.seed));
  return {
    pairs,
    summary: `${o.count} synthetic pairs of width ${o.width} (query = a hidden linear map of its item + noise ${o.noise})`,
    metadata: { source: 'synthetic', synthetic: JSON.stringify({ count: o.count, width: o.width, noise: o.noise, seed: o.seed }) },
  };
}

export interface RunPairOptions {
  run: string;
  set: TextPairSet;
  /** The text's path; by default the corpus the run was trained on. */
  data?: string;
  point: HiddenPoint;
  count: number;
  damage: number;
  seed: number;
  log: (line: string) => void;
}

export async function runSource(o: RunPairOptions): Promise<PairSource> {
  if (!TEXT_PAIR_SETS.includes(o.set)) throw new TsgptError(`unknown pair set ${o.set}`);
  const { model, tokenizer, file } = loadRun(o.run);
  try {
    // The run's corpus: the file it names, or Tiny Shakespeare from the cache when it was downloaded.
    const dataPath = o.data ?? (file.data === TINY_SHAKESPEARE.url ? undefined : file.data);
    const corpus = await loadCorpus({ ...(dataPath !== undefined ? { path: dataPath } : {}), log: o.log });
    tokenizer.encode(corpus.text, { label: `the text ${corpus.source}` });
    const text = textPairs(o.set, corpus.text, new Rng(o.seed), { count: o.count, damage: o.damage });
    const started = performance.now();
    const passages = [...text.queries, ...text.items];
    // A line every tenth of the way: reading thousands of passages takes a minute or more on a CPU.
    let shown = 0;
    const states = passageStates(model, tokenizer, passages, o.point, (done, total) => {
      if (done < total && done < shown + total / 10) return;
      shown = done;
      o.log(`reading passages through ${o.run}'s model: ${done}/${total}`);
    });
    const n = text.queries.length,
      w = states.width;
    o.log(`read ${passages.length} passages through ${o.run}'s model in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const pairs = makePairs(
      { rows: n, width: w, data: states.data.slice(0, n * w) },
      { rows: n, width: w, data: states.data.slice(n * w) },
      'the queries',
      'the items',
    );
    const weights = digest(readFileSync(join(o.run, WEIGHTS_FILE)));
    return {
      pairs,
      summary: `${n} ${o.set} pairs from ${corpus.source}, read by ${o.run}'s model at ${o.point} (width ${w})`,
      metadata: {
        source: 'run',
        run: o.run,
        run_weights_sha256: weights.sha256,
        hidden_point: o.point,
        pair_set: o.set,
        text: corpus.source,
        ...(o.set === 'damaged-lines' ? { damage: String(o.damage) } : {}),
      },
    };
  } finally {
    model.dispose();
  }
}

export interface FilePairOptions {
  queries: string;
  items: string;
  queriesField?: string;
  itemsField?: string;
}

export function fileSource(o: FilePairOptions): PairSource {
  const queriesLabel = `queries file ${o.queries}`,
    itemsLabel = `items file ${o.items}`;
  const q = readVectorFile(o.queries, queriesLabel, o.queriesField);
  const k = readVectorFile(o.items, itemsLabel, o.itemsField);
  const pairs = makePairs(q, k, queriesLabel, itemsLabel);
  return {
    pairs,
    summary: `${pairs.count} pairs of width ${pairs.width} from ${o.queries} and ${o.items}`,
    metadata: { source: 'files', queries: o.queries, items: o.items },
  };
}
