/**
 * tsgpt as a library: the engine (tensors, autograd, ops), the lecture's modules, the models, the tokenizers
 * (characters, GPT-2's BPE, a trainable BPE), training and sampling. Everything exported here runs in Node and in a browser; the Node-only
 * edges (reading files, downloading the corpus, run folders on disk) are exported from 'tsgpt/node'.
 */
export * from './engine/index.js';
export { TsgptError } from './errors.js';

export { Module } from './nn/module.js';
export {
  Linear,
  Embedding,
  LayerNorm,
  RMSNorm,
  type Norm,
  Dropout,
  ReLU,
  GELU,
  ReLU2,
  Sequential,
  ModuleList,
  ACTIVATIONS,
  type Activation,
  type Layer,
} from './nn/layers.js';
export { Head, MultiHeadAttention, CausalSelfAttention, type AttentionObserver } from './nn/attention.js';
export { FeedForward, MLP } from './nn/feedforward.js';
export { Block, type BlockConfig, type BlockStyle } from './nn/block.js';

export { GPT, type GPTConfig, type ModernOptions } from './models/gpt.js';
export { BigramLanguageModel, type BigramConfig } from './models/bigram.js';
export { createModel, reportedParameterCount, type ModelConfig } from './models/index.js';
export type { LanguageModel } from './models/language_model.js';
export type { Decoder, DecoderOptions, HiddenPoint } from './models/decoder.js';
export { GPTDecoder } from './models/gpt_decoder.js';
export { BigramDecoder } from './models/bigram_decoder.js';

export { CharTokenizer, type CharTokenizerJSON } from './tokenizers/char.js';
export type { Tokenizer, TokenizerJSON, EncodeOptions, UnknownPolicy, SpecialPolicy } from './tokenizers/tokenizer.js';
export { GPT2Tokenizer, type GPT2TokenizerJSON } from './tokenizers/gpt2.js';
export { GPT2_SPLIT_PATTERN } from './tokenizers/gpt2_split.js';
export { BpeTokenizer, MAX_BPE_VOCAB_SIZE, type BpeTokenizerJSON } from './tokenizers/bpe.js';
export { trainBpe, type TrainBpeOptions, type LearntMerge } from './tokenizers/bpe_train.js';
export { SPLIT_PATTERN_NAMES, GPT4_SPLIT_PATTERN, type SplitPatternName } from './tokenizers/split_patterns.js';
export { tokenizerFromJSON } from './tokenizers/from_json.js';

export { getBatch } from './data/batches.js';
export { splitTrainVal } from './data/split.js';

export { AdamW, gradientNorm, type AdamWConfig } from './train/adamw.js';
export { Muon, type MuonConfig } from './train/muon.js';
export { optimizerGroups, type OptimizerGroups } from './train/optimizer_groups.js';
export { learningRateAt, type ScheduleConfig } from './train/schedule.js';
export {
  PRESETS,
  modelConfigFor,
  isPresetName,
  type PresetName,
  type RunConfig,
  type OptimizerKind,
  type NormKind,
} from './train/config.js';
export { HYPERPARAMETERS, type HyperparameterSpec } from './checkpoint/hyperparameters.js';
export { Trainer, type StepReport, type EvalReport, type TrainerCallbacks, type TrainerState } from './train/trainer.js';

export { generate, generateBatch, type GenerateOptions, type NextTokenMixer } from './sample/generate.js';
export { sampleToken, temperatureWeights, normalise, pickToken, type SamplingOptions } from './sample/sampling.js';

export { encodeWeights, loadWeights } from './checkpoint/weights.js';
export { encodeSafetensors, decodeSafetensors, type NamedTensor, type SafetensorsTensor } from './io/safetensors.js';
export { unpickle, PyTuple, type PickleGlobal, type UnpickleOptions } from './io/pickle.js';
export { pickle, py, type PyValue } from './io/pickle_write.js';
export { decodeTorchFile, TorchFileWriter, type TorchTensor } from './io/torch_file.js';
export { parseNanoGptCheckpoint, buildNanoGptRun, type NanoGptCheckpoint, type NanoGptRun } from './checkpoint/nanogpt_import.js';
export { encodeNanoGptCheckpoint, checkExportable, type NanoGptExport } from './checkpoint/nanogpt_export.js';
export { encodeNanoGptMeta, decodeNanoGptMeta } from './checkpoint/nanogpt_meta.js';

export { LADDER, LECTURE_STAGE, type LadderStage } from './train/ladder.js';
export { trainingStepFlops, forwardFlops } from './measure/flops.js';
export { benchPreset, type BenchResult, type BenchOptions } from './measure/bench_preset.js';
export * as viz from './viz/index.js';
export { exactSearch, keyNorms, type SearchOptions, type SearchResult, type SearchScore } from './memory/exact_search.js';
// A memory the model reads by attention (kNN-LM), how to measure and tune it, and a retrieval head to train.
export { Memory, type Neighbours } from './memory/memory.js';
export { buildMemory, calibrateTemperature, type BuildMemoryOptions } from './memory/build_memory.js';
export { type MemoryConfig, type MemoryScoring, parseMemoryConfig } from './memory/memory_config.js';
export { memoryMixer } from './memory/memory_mixer.js';
export { collectEvidence, lossWithMemory, sweep, type Evidence, type LossReport, type SweepResult } from './memory/memory_eval.js';
export { passages, type Passage } from './memory/passages.js';
export { exactKeyIndex, rescoreProposals, recallAt, type KeyIndex } from './memory/key_index.js';
export { RetrievalHead, type RetrievalHeadOptions } from './memory/retrieval_head.js';
export { trainRetrievalHead, type HeadTrainingConfig } from './memory/retrieval_training.js';
export { evaluateRetrieval, type RetrievalMetrics } from './memory/retrieval_metrics.js';
export { makePairs, syntheticPairs, type VectorPairs } from './memory/vector_pairs.js';
export { encodeRetrievalHead, decodeRetrievalHead } from './memory/retrieval_head_file.js';
export { decodeNpy } from './io/npy.js';
export {
  createWasmKernels,
  createWasmKernelsSync,
  wasmSimdSupported,
  wasmVariant,
  type WasmKernelOptions,
} from './engine/wasm/wasm_kernels.js';
export { serveKernels, type KernelWorker, type KernelWorkerInit, type SpawnKernelWorker } from './engine/wasm/thread_team.js';

// In a browser: helper threads, training in a worker, run folders from Files, Blobs and zips.
export {
  createBrowserKernels,
  spawnBrowserKernelWorker,
  threadsFor,
  crossOriginIsolated,
  NOT_ISOLATED_NOTE,
  type BrowserKernelOptions,
  type BrowserKernels,
} from './browser/threads.js';
export { TrainingWorker, serveTrainingWorker, type TrainingWorkerOptions, type TrainCallbacks } from './browser/training_worker.js';
export type {
  ThreadReport,
  ModelSummary,
  SampleRequest,
  AttentionResult,
  TrainingOutcome,
} from './browser/training_protocol.js';
export {
  readRunFolderFiles,
  loadRunFromFiles,
  loadRunFolder,
  runFolderEntries,
  runFolderZip,
  type RunFolderInput,
  type RunFolderFiles,
  type RunFileSource,
  type RunFolderContents,
  type RunSnapshot,
} from './browser/run_folder.js';
export { parseRunFile, type RunFile } from './checkpoint/run_config.js';
export { bestMetadata, type LoadedRun } from './checkpoint/run_files.js';
export { encodeStoredZip, decodeStoredZip, readZip, type ZipEntry } from './io/zip.js';
export { sha256Hex } from './io/sha256.js';
