/**
 * tsgpt against PyTorch on this machine, in one run: times `tsgpt bench --json` and bench/torch_step.py on
 * the same preset, one after the other (never at once: two timings on 2 cores measure nothing), and prints
 * both with their ratios. Run by hand: node dist/bench/compare.js [--preset baby] [--threads N] (needs /usr/bin/python3
 * with Debian's python3-torch; install libopenblas0-pthread, or PyTorch runs on the reference BLAS).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const preset = process.argv.includes('--preset') ? process.argv[process.argv.indexOf('--preset') + 1]! : 'baby';
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const torchScript = fileURLToPath(new URL('../../bench/torch_step.py', import.meta.url));

function run(cmd: string, args: string[]): Record<string, number | string> {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, number | string>;
}

// Each on its default threads (tsgpt: all cores; PyTorch: its intra-op default, here one, with OpenBLAS's own
// threads for the products) unless --threads N is given.
const threadArgs = process.argv.includes('--threads') ? ['--threads', process.argv[process.argv.indexOf('--threads') + 1]!] : [];
const ours = run(process.execPath, [cli, 'bench', '--preset', preset, '--json', ...threadArgs]);
const torch = run('/usr/bin/python3', [torchScript, '--preset', preset, '--json', ...threadArgs]);
const n = (v: number | string | undefined) => Number(v);
console.log(`preset ${preset}`);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
console.log(
  `training  tsgpt (${ours.kernels}, ${ours.threads} threads): ${n(ours.ms_per_step).toFixed(1)} ms/step   ` +
    `${torch.framework} (${torch.threads} intra-op threads, OpenBLAS on ${torch.blas_threads ?? 'none'}): ` +
    `${n(torch.ms_per_step).toFixed(1)} ms/step   ` +
    `tsgpt/PyTorch time ${ratio(n(ours.ms_per_step), n(torch.ms_per_step))}`,
);
console.log(
  `sampling ${ours.sample_tokens} tokens  tsgpt: ${n(ours.sample_tokens_per_s).toFixed(0)} tok/s with the cache, ` +
    `${n(ours.sample_tokens_per_s_uncached).toFixed(0)} without   PyTorch: ${n(torch.sample_tokens_per_s_uncached).toFixed(0)} tok/s   ` +
    `tsgpt/PyTorch speed ${ratio(n(ours.sample_tokens_per_s), n(torch.sample_tokens_per_s_uncached))}`,
);
console.log(
  `sampling within the context  tsgpt: ${n(ours.sample_block_tokens_per_s).toFixed(0)} tok/s with the cache, ` +
    `${n(ours.sample_block_tokens_per_s_uncached).toFixed(0)} without   PyTorch: ${n(torch.sample_block_tokens_per_s_uncached).toFixed(0)} tok/s   ` +
    `tsgpt/PyTorch speed ${ratio(n(ours.sample_block_tokens_per_s), n(torch.sample_block_tokens_per_s_uncached))}`,
);
