/**
 * The Node-only edges of tsgpt, kept apart from the engine so the engine runs in a browser: loading a corpus
 * (with the Tiny Shakespeare download and cache), GPT-2's vocabulary files (downloaded and cached, or from a
 * folder), tokenizer files, run folders on disk, nanoGPT's ckpt.pt both ways, atomic file writes, helper threads for the WebAssembly kernels.
 */
export { loadCorpus, TINY_SHAKESPEARE, type Corpus, type LoadCorpusOptions } from './corpus.js';
export { loadGpt2Tokenizer, readGpt2Folder, GPT2_VOCAB, type LoadGpt2Options } from './gpt2_vocab.js';
export { loadTokenizer, readTokenizerFile, writeTokenizerFile } from './tokenizer_file.js';
export { saveRun, loadRun, WEIGHTS_FILE, CONFIG_FILE, LOG_FILE, type LoadedRun } from './run_folder.js';
export { parseRunFile, type RunFile } from '../checkpoint/run_config.js';
export { writeFileAtomicSync } from './atomic_write.js';
export { exportToNanoGpt, importNanoGpt, type ExportOptions, type ImportOptions } from './nanogpt_files.js';
export { spawnNodeKernelWorker, coreCount } from './kernel_threads.js';
