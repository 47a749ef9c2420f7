/**
 * GPT-2's tokenizer, exactly: its split pattern (gpt2_split.ts), its byte-level vocabulary of 50,257 tokens
 * (read from encoder.json and vocab.bpe, gpt2_vocab_files.ts) and its merge order. The ids are tiktoken's
 * (js-tiktoken's `gpt2` encoding): "Hello, world" is [15496, 11, 995].
 *
 * Browser-safe: it takes the files' text. tsgpt/node's loadGpt2Tokenizer finds that text (a download, kept in a
 * cache, or a local folder).
 */
import { ByteLevelBpe } from './byte_level_bpe.js';
import { gpt2PieceEnd } from './gpt2_split.js';
import { GPT2_BYTE_ORDER, type Gpt2VocabularySources, parseGpt2Vocabulary } from './gpt2_vocab_files.js';
import { NO_MERGE, PairTable } from './pair_table.js';
import { type TokenBytes, tokenBytesFromMerges } from './token_bytes.js';
import type { TokenizerJSON } from './tokenizer.js';

export interface GPT2TokenizerJSON extends TokenizerJSON {
  readonly type: 'gpt2';
}

export class GPT2Tokenizer extends ByteLevelBpe {
  private constructor(bytes: TokenBytes, ordinary: number, specials: Map<string, number>) {
    const byteIds = new Int32Array(256);
    GPT2_BYTE_ORDER.forEach((b, id) => {
      byteIds[b] = id;
    });
    super({ bytes, byteIds, pairs: mergesOfEverySplit(bytes, ordinary), specials, split: gpt2PieceEnd });
  }

  /** From the text of encoder.json and vocab.bpe (or vocab.json and merges.txt); `from` names them in errors. */
  static fromVocabFiles(
    encoderJson: string,
    merges: string,
    from: Gpt2VocabularySources = { encoder: 'encoder.json', merges: 'vocab.bpe' },
  ): GPT2Tokenizer {
    const vocab = parseGpt2Vocabulary(encoderJson, merges, from);
    const bytes = tokenBytesFromMerges(GPT2_BYTE_ORDER, vocab.merges, vocab.specials);
    return new GPT2Tokenizer(bytes, 256 + vocab.merges.length / 2, vocab.specials);
  }

  /** The vocabulary is GPT-2's, known by name: a saved run records only that. */
  toJSON(): GPT2TokenizerJSON {
    return { type: 'gpt2' };
  }
}

/**
 * tiktoken merges two adjacent parts when the bytes they make together are a token, whichever merge first made
 * that token; so every way of cutting a token into two tokens is a pair that merges into it, with the token's id
 * as its rank. (vocab.bpe's pairs alone give the same ids on Tiny Shakespeare and the tests' torture text; taking
 * every cut makes the equality with tiktoken hold by construction rather than by observation.)
 */
function mergesOfEverySplit({ pool, offsets }: TokenBytes, ordinary: number): PairTable {
  // Two tries of the tokens' bytes, one read forwards and one backwards, give in one walk along a token the ids
  // of all its prefixes and of all its suffixes that are tokens.
  const forwards = new ByteTrie(pool, offsets, ordinary, false);
  const backwards = new ByteTrie(pool, offsets, ordinary, true);
  const pairs = new PairTable(ordinary * 4);
  let prefixes = new Int32Array(64);
  for (let id = 0; id < ordinary; id++) {
    const start = offsets[id]!;
    const n = offsets[id + 1]! - start;
    if (prefixes.length < n + 1) prefixes = new Int32Array(2 * n);
    for (let cut = 1, node = 0; cut < n; cut++) {
      node = forwards.child(node, pool[start + cut - 1]!);
      prefixes[cut] = forwards.tokenAt(node);
    }
    for (let cut = n - 1, node = 0; cut >= 1; cut--) {
      node = backwards.child(node, pool[start + cut]!);
      const right = backwards.tokenAt(node);
      const left = prefixes[cut]!;
      if (left >= 0 && right >= 0) pairs.add(left, right, id);
    }
  }
  return pairs;
}

/** The tokens' byte strings as a trie: node 0 is the root, an edge is a (node, byte) pair in a PairTable. */
class ByteTrie {
  private readonly edges: PairTable;
  private readonly tokens: Int32Array;
  private nodes = 1;

  constructor(pool: Uint8Array, offsets: Int32Array, count: number, reversed: boolean) {
    const total = offsets[count]!;
    // Tokens share most of their prefixes (GPT-2's 320,000 bytes make about 100,000 nodes): the table grows as needed.
    this.edges = new PairTable(count);
    this.tokens = new Int32Array(total + 1).fill(-1);
    for (let id = 0; id < count; id++) {
      const start = offsets[id]!;
      const end = offsets[id + 1]!;
      let node = 0;
      for (let k = start; k < end; k++) {
        const b = pool[reversed ? start + end - 1 - k : k]!;
        let next = this.edges.get(node, b);
        if (next === NO_MERGE) this.edges.add(node, b, (next = this.nodes++));
        node = next;
      }
      this.tokens[node] = id;
    }
  }

  /** The node below `node` along `byte`; every walk here follows a token's own bytes, so it exists. */
  child(node: number, byte: number): number {
    return this.edges.get(node, byte);
  }

  /** The id of the token whose bytes lead to `node`, or -1. */
  tokenAt(node: number): number {
    return this.tokens[node]!;
  }
}
