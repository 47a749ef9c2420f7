"""
Runs nanoGPT's own sample.py (from the current folder, with the arguments given) and times its generation alone:
model.GPT.generate is wrapped with a clock before sample.py imports it, so Python's start-up, importing torch and
loading the checkpoint are left out. Prints the seconds spent in generate() as the last line on stderr:
    generate_seconds <float>
Used by bench/fast_vs_nanogpt.ts, which copies it into its scratch copy of nanoGPT.
"""
import runpy
import sys
import time

import model

spent = []
untimed = model.GPT.generate


def timed_generate(self, *args, **kwargs):
    started = time.perf_counter()
    out = untimed(self, *args, **kwargs)
    spent.append(time.perf_counter() - started)
    return out


model.GPT.generate = timed_generate
sys.argv = ['sample.py'] + sys.argv[1:]
runpy.run_path('sample.py', run_name='__main__')
print(f'generate_seconds {sum(spent)}', file=sys.stderr)
