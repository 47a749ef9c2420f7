/**
 * A memory's keys in LanceDB (embedded, on disk: npm `@lancedb/lancedb`, an optional package), behind the same
 * KeyIndex as the exact search. For memories that outgrow what exact search answers fast enough: an IVF-PQ index
 * clusters the keys into partitions and compresses them, and a query reads only the `nprobes` partitions nearest
 * to it, so it can miss keys. tsgpt rescores what LanceDB proposes against the memory's own keys (key_index.ts),
 * so only the misses differ from the exact search, and `bench/vector_index.ts` measures them (recall@k).
 *
 * The index lives in the memory folder, as `lancedb/` beside memory.safetensors, with `lancedb/index.json`
 * naming the memory it was built from (the SHA-256 of memory.safetensors, count, width) and how. Rebuilding the
 * memory replaces its folder and so drops a stale index; an index that does not match is refused in one line.
 * Built aside and renamed into place, so a failed build leaves no index, or the old one.
 */
import { existsSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { TsgptError } from '../errors.js';
import type { SearchScore } from '../memory/exact_search.js';
import { type KeyIndex, rescoreProposals } from '../memory/key_index.js';
import type { Memory } from '../memory/memory.js';
import { MEMORY_TENSORS_FILE } from '../memory/memory_config.js';
import { describe, integer, parseVersionedJson } from '../validate.js';
import { removeAtomicSync, writeFileAtomicSync } from './atomic_write.js';
import { errorText } from './download.js';
import { readTextBounded } from './read_bounded.js';

export const LANCE_FOLDER = 'lancedb';
const INDEX_CONFIG = 'index.json';
const INDEX_FORMAT = 'tsgpt-lancedb-index';
const TABLE = 'keys';
/** Rows handed to LanceDB per write: 65,536 keys of width 384 are 100 MB of Arrow data at once. */
const ROWS_PER_BATCH = 65536;

/** What index.json records. */
export interface LanceIndexConfig {
  format: typeof INDEX_FORMAT;
  version: 1;
  memory_sha256: string;
  count: number;
  width: number;
  /** The score the index was built for ('dot' or 'l2'): LanceDB's partitions are made for one distance. */
  score: SearchScore;
  /** ivf_pq: keys compressed into sub-vector codes (small, approximate scores); ivf_flat: full keys per partition. */
  kind: LanceIndexKind;
  partitions: number;
  /** PQ sub-vectors (0 for ivf_flat). */
  sub_vectors: number;
  build_seconds: number;
}

export type LanceIndexKind = 'ivf_pq' | 'ivf_flat';

export interface LanceBuildOptions {
  score: SearchScore;
  /** Default ivf_pq. */
  kind?: LanceIndexKind;
  /** IVF partitions; default about sqrt(count), as LanceDB advises. */
  partitions?: number;
  /** PQ sub-vectors (must divide the width); default width / 8 (8 dimensions each). */
  subVectors?: number;
  onProgress?: (rowsWritten: number, total: number) => void;
}

export interface LanceSearchOptions {
  /** Partitions read per query: more find more of the true neighbours, slower (default 20, LanceDB's). */
  nprobes?: number;
  /** LanceDB reranks refine x k of its candidates by their full vectors before answering (default 1). */
  refine?: number;
}

type LanceModule = typeof import('@lancedb/lancedb');
type ArrowModule = typeof import('apache-arrow');

/** The optional packages, or one line saying how to get them. */
async function lanceModules(): Promise<{ lancedb: LanceModule; arrow: ArrowModule }> {
  try {
    // LanceDB's native logger prints warnings (a new dataset, deprecations) on stderr, where a tsgpt command
    // promises one line; it reads its level once, when the module loads. A user's own setting wins.
    process.env.LANCEDB_LOG ??= 'error';
    const lancedb = await import('@lancedb/lancedb');
    // LanceDB is CommonJS and recognises Arrow tables by class: they must come from the same (CommonJS) build of
    // apache-arrow that it requires, not the ES module build an import would load (its tables would be read as
    // empty).
    const arrow = createRequire(import.meta.url)('apache-arrow') as ArrowModule;
    return { lancedb, arrow };
  } catch {
    throw new TsgptError(
      'the LanceDB index needs the optional packages @lancedb/lancedb and apache-arrow: npm install @lancedb/lancedb@0.31.0 apache-arrow@18.1.0',
    );
  }
}

/** Writes `memory`'s keys and an IVF-PQ index into `memDir`/lancedb, replacing an older index there. */
export async function buildLanceIndex(memDir: string, memory: Memory, options: LanceBuildOptions): Promise<LanceIndexConfig> {
  const { lancedb, arrow } = await lanceModules();
  const { count, width } = memory;
  const partitions = options.partitions ?? Math.max(1, Math.round(Math.sqrt(count)));
  const subVectors = options.subVectors ?? Math.max(1, Math.floor(width / 8));
  if (width % subVectors !== 0) throw new TsgptError(`--sub-vectors ${subVectors} does not divide the keys' width ${width}`);
  if (partitions > count) throw new TsgptError(`--partitions ${partitions} is more than the memory's ${count} keys`);
  if (count < 256) throw new TsgptError(`the memory holds ${count} keys; LanceDB's index needs at least 256`);
  const started = performance.now();
  const fresh = join(memDir, `${LANCE_FOLDER}.new-${process.pid}`);
  const final = join(memDir, LANCE_FOLDER);
  try {
    const db = await lancedb.connect(fresh);
    const keys = memory.keys.data;
    let table: Awaited<ReturnType<typeof db.createTable>> | null = null;
    for (let start = 0; start < count; start += ROWS_PER_BATCH) {
      const rows = Math.min(ROWS_PER_BATCH, count - start);
      const batch = keyBatch(arrow, keys.slice(start * width, (start + rows) * width), start, rows, width);
      if (table === null) table = await db.createTable(TABLE, batch);
      else await table.add(batch);
      options.onProgress?.(start + rows, count);
    }
    const kind = options.kind ?? 'ivf_pq';
    await table!.createIndex('vector', {
      config:
        kind === 'ivf_pq'
          ? lancedb.Index.ivfPq({ numPartitions: partitions, numSubVectors: subVectors, distanceType: options.score })
          : lancedb.Index.ivfFlat({ numPartitions: partitions, distanceType: options.score }),
    });
    table!.close();
    db.close();
    const config: LanceIndexConfig = {
      format: INDEX_FORMAT,
      version: 1,
      memory_sha256: memory.config.files[MEMORY_TENSORS_FILE]!.sha256,
      count,
      width,
      score: options.score,
      kind,
      partitions,
      sub_vectors: kind === 'ivf_pq' ? subVectors : 0,
      build_seconds: Math.round((performance.now() - started) / 10) / 100,
    };
    writeFileAtomicSync(join(fresh, INDEX_CONFIG), `${JSON.stringify(config, null, 2)}\n`);
    if (existsSync(final)) removeAtomicSync(final);
    renameSync(fresh, final);
    return config;
  } catch (err) {
    try {
      removeAtomicSync(fresh);
    } catch {
      // The error that stopped the build is the one worth reporting.
    }
    if (err instanceof TsgptError) throw err;
    throw new TsgptError(`cannot build the LanceDB index in ${final}: ${errorText(err).slice(0, 300)}`);
  }
}

/** Opens the LanceDB index of the memory in `memDir`, refused in one line when it was built for another memory. */
export async function openLanceIndex(
  memDir: string,
  memory: Memory,
  options: LanceSearchOptions = {},
): Promise<KeyIndex & { config: LanceIndexConfig }> {
  const folder = join(memDir, LANCE_FOLDER);
  const configPath = join(folder, INDEX_CONFIG);
  if (!existsSync(configPath))
    throw new TsgptError(`memory ${memDir} has no LanceDB index; make one with tsgpt memory index --memory ${memDir}`);
  const config = parseIndexConfig(readTextBounded(configPath, 64 * 1024), configPath);
  const sha = memory.config.files[MEMORY_TENSORS_FILE]!.sha256;
  if (config.memory_sha256 !== sha || config.count !== memory.count || config.width !== memory.width) {
    throw new TsgptError(`${configPath} was built for another memory than ${memDir} (rebuild it with tsgpt memory index)`);
  }
  const { lancedb } = await lanceModules();
  let db: Awaited<ReturnType<LanceModule['connect']>>;
  let table: Awaited<ReturnType<typeof db.openTable>>;
  try {
    db = await lancedb.connect(folder);
    table = await db.openTable(TABLE);
  } catch (err) {
    throw new TsgptError(`cannot open the LanceDB index in ${folder}: ${errorText(err).slice(0, 300)}`);
  }
  const nprobes = options.nprobes ?? 20;
  const refine = options.refine ?? 1;
  const keys = memory.keys.data;
  const width = memory.width;
  return {
    kind: `lancedb ${config.kind} (${config.partitions} partitions, nprobes ${nprobes})`,
    config,
    async search(queries, k, score) {
      if (score !== config.score) throw new TsgptError(`the LanceDB index was built for the ${config.score} score, not ${score}`);
      const Q = queries.length / width;
      const proposals = await Promise.all(
        Array.from({ length: Q }, async (_, q) => {
          const rows = await table
            .vectorSearch(queries.slice(q * width, (q + 1) * width))
            .distanceType(score)
            .nprobes(nprobes)
            .refineFactor(refine)
            .limit(k)
            .select(['id', '_distance'])
            .toArray();
          return rows.map((r: { id: number }) => r.id);
        }),
      );
      return rescoreProposals(keys, width, queries, proposals, k, score);
    },
    async close() {
      table.close();
      db.close();
    },
  };
}

/** An Arrow table of `rows` keys: id (int32, the key's position) and vector (fixed-size list of float32). */
function keyBatch(arrow: ArrowModule, floats: Float32Array, start: number, rows: number, width: number) {
  const ids = new Int32Array(rows);
  for (let i = 0; i < rows; i++) ids[i] = start + i;
  const idType = new arrow.Int32();
  const vectorType = new arrow.FixedSizeList(width, new arrow.Field('item', new arrow.Float32(), true));
  const schema = new arrow.Schema([new arrow.Field('id', idType, true), new arrow.Field('vector', vectorType, true)]);
  const children = [
    arrow.makeData({ type: idType, length: rows, nullCount: 0, data: ids }),
    arrow.makeData({
      type: vectorType,
      length: rows,
      nullCount: 0,
      child: arrow.makeData({ type: new arrow.Float32(), length: rows * width, nullCount: 0, data: floats }),
    }),
  ];
  const struct = arrow.makeData({ type: new arrow.Struct(schema.fields), length: rows, nullCount: 0, children });
  return new arrow.Table(schema, [new arrow.RecordBatch(schema, struct)]);
}

function parseIndexConfig(text: string, label: string): LanceIndexConfig {
  const o = parseVersionedJson(text, label, INDEX_FORMAT, 1, 'a tsgpt LanceDB index description');
  if (typeof o.memory_sha256 !== 'string')
    throw new TsgptError(`${label}: memory_sha256 must be a string, got ${describe(o.memory_sha256)}`);
  if (o.score !== 'dot' && o.score !== 'l2') throw new TsgptError(`${label}: score must be "dot" or "l2", got ${describe(o.score)}`);
  integer(o.count, `${label}: count`, 1, 2 ** 31 - 1);
  integer(o.width, `${label}: width`, 1, 1 << 16);
  integer(o.partitions, `${label}: partitions`, 1, 2 ** 31 - 1);
  if (o.kind !== 'ivf_pq' && o.kind !== 'ivf_flat')
    throw new TsgptError(`${label}: kind must be "ivf_pq" or "ivf_flat", got ${describe(o.kind)}`);
  integer(o.sub_vectors, `${label}: sub_vectors`, 0, 1 << 16);
  return o as unknown as LanceIndexConfig;
}
