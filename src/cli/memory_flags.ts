/**
 * What every command that reads a memory shares: the scoring flags (--memory-k, --memory-lambda, ...), each
 * overriding the memory's recorded setting, and opening a memory for a run, refused with one line when it was
 * built by another model.
 */
import { TsgptError } from '../errors.js';
import type { LoadedRun } from '../node/run_folder.js';
import { loadMemory } from '../node/memory_folder.js';
import { MAX_MATCH } from '../memory/context_index.js';
import type { Memory } from '../memory/memory.js';
import { checkScoring, type MemoryScoring } from '../memory/memory_config.js';
import type { FlagSpec, FlagValue } from './flags.js';

export const MEMORY_SCORING_FLAGS: FlagSpec[] = [
  { name: 'memory-k', type: 'int', min: 1, max: 1e6, help: 'neighbours read from the memory per token', defaultText: "the memory's" },
  {
    name: 'memory-lambda',
    type: 'float',
    min: 0,
    max: 1,
    help: "the memory's share of the next-token distribution",
    defaultText: "the memory's",
  },
  {
    name: 'memory-temperature',
    type: 'float',
    min: 1e-9,
    max: 1e9,
    help: "divides the neighbours' scores before the softmax (lower is sharper)",
    defaultText: "the memory's (calibrated when built)",
  },
  { name: 'memory-score', type: 'string', choices: ['dot', 'l2'], help: 'q.k/sqrt(d) or -|q-k|^2', defaultText: "the memory's" },
  {
    name: 'memory-match-bonus',
    type: 'float',
    min: 0,
    max: 1e6,
    help: 'added per token of recent text a neighbour shares exactly with the query (0: plain kNN-LM)',
    defaultText: "the memory's",
  },
  {
    name: 'memory-match-min',
    type: 'int',
    min: 1,
    max: MAX_MATCH,
    help: 'shared tokens that make a neighbour by themselves and open the gate',
    defaultText: "the memory's",
  },
  {
    name: 'memory-match-lambda',
    type: 'float',
    min: 0,
    max: 1,
    help: "the memory's share when a neighbour shares at least --memory-match-min tokens",
    defaultText: "the memory's",
  },
];

const FIELDS: [string, keyof MemoryScoring][] = [
  ['memory-k', 'k'],
  ['memory-lambda', 'lambda'],
  ['memory-temperature', 'temperature'],
  ['memory-score', 'score'],
  ['memory-match-bonus', 'matchBonus'],
  ['memory-match-min', 'matchMin'],
  ['memory-match-lambda', 'matchLambda'],
];

/** The scoring fields the flags give (build records them as the memory's defaults). */
export function scoringOverrides(flags: Map<string, FlagValue>): Partial<MemoryScoring> {
  const given: Record<string, unknown> = {};
  for (const [flag, field] of FIELDS) if (flags.has(flag)) given[field] = flags.get(flag);
  return given as Partial<MemoryScoring>;
}

/** The memory's recorded scoring with the flags given on top, checked against the memory's size. */
export function scoringFromFlags(flags: Map<string, FlagValue>, memory: Memory): MemoryScoring {
  const scoring = { ...memory.config.scoring, ...scoringOverrides(flags) };
  checkScoring(scoring, 'memory scoring', memory.count);
  return scoring;
}

/** Whether any scoring flag was given (a command without --memory refuses them). */
export function scoringFlagGiven(flags: Map<string, FlagValue>): string | undefined {
  return FIELDS.map(([flag]) => flag).find((f) => flags.has(f));
}

/** Loads the memory in `dir` and checks it answers `run`'s model: same weights, width and tokenizer. */
export function openMemoryFor(dir: string, runDir: string, run: LoadedRun): Memory {
  const memory = loadMemory(dir);
  const { model } = memory.config;
  const refuse = (what: string) => {
    memory.dispose();
    throw new TsgptError(`memory ${dir} was built by ${what}; build one for this run with 'tsgpt memory build --from ${runDir}'`);
  };
  if (model.weightsSha256 !== run.weightsSha256) {
    refuse(`a different model (weights SHA-256 ${model.weightsSha256.slice(0, 12)}…, ${runDir}'s is ${run.weightsSha256.slice(0, 12)}…)`);
  }
  const width = run.file.model.kind === 'gpt' ? run.file.model.nEmbd : run.file.model.vocabSize;
  if (model.width !== width) refuse(`a model of width ${model.width} (${runDir}'s is ${width})`);
  if (model.vocabSize !== run.tokenizer.vocabSize || JSON.stringify(memory.config.tokenizer) !== JSON.stringify(run.tokenizer.toJSON())) {
    refuse(`a model with another tokenizer than ${runDir}'s`);
  }
  return memory;
}
