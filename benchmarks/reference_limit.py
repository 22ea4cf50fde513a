"""The 003 reference networks at batch 8, 64 px, one thread: the FLOPs of a training step, this
CPU's bf16 and fp32 matmul rates, the step in fp32 and bf16 (contiguous, channels_last) and a
by-op profile of the bf16 ones (issue 37; benchmarks/README.md, "Every millisecond of the step").

    taskset -c 1 python benchmarks/reference_limit.py
"""

import statistics
import time

import bench_step as B
import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from gan_lab.core.step import Networks, step
from gan_lab.training import fast_path
from gan_lab.training.fast_path_probe import plain_optimisation
from gan_lab.training.train import build_module

torch.set_num_threads(1)

cfg, dm = B.settled(
    ["experiment=reference", "data.num_images=1024", "trainer.fast_path=off", "model.compile=false"]
)


def setup(cl):
    m = build_module(cfg, dm)
    fast_path.apply(fast_path.FastPath(channels_last=cl), [m.generator], m.discriminator)
    opts = {
        "D": B.adam(m.discriminator.parameters(), 1e-5),
        "G": B.adam(m.generator.parameters(), 1e-5),
    }
    nets = Networks(m.generator, m.discriminator, m.generator, m.discriminator, None, m.noise)
    fmt = torch.channels_last if cl else torch.contiguous_format
    real = dm.to_model_range(dm.images[:8]).contiguous(memory_format=fmt)
    return lambda: step(nets, m.procedure, real, None, plain_optimisation(opts))


one = setup(False)
with FlopCounterMode(display=False) as fc:
    one()
flops = fc.get_total_flops()
print(f"FLOPs of one step (fwd+bwd, G twice, D twice): {flops / 1e9:.1f} GFLOP")
for k, v in sorted(fc.get_flop_counts()["Global"].items(), key=lambda kv: -kv[1])[:6]:
    print(f"   {str(k):40s} {v / 1e9:.1f} GFLOP")


def rate(dtype, n=2048):
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = 1e9
    for _ in range(5):
        s = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - s)
    return 2 * n**3 / best / 1e9


r16, r32 = rate(torch.bfloat16), rate(torch.float32)
print(f"matmul 2048², 1 thread: bf16 {r16:.0f} GFLOP/s, fp32 {r32:.0f} GFLOP/s")
print(
    f"limit at the bf16 rate {flops / (r16 * 1e9) * 1000:.0f} ms, at fp32 {flops / (r32 * 1e9) * 1000:.0f} ms"
)
res = {}
for name, cl, bf in (
    ("fp32 contiguous", False, False),
    ("bf16 contiguous", False, True),
    ("bf16 channels_last", True, True),
):
    f = setup(cl)
    ac = torch.autocast("cpu", torch.bfloat16, enabled=bf)
    ts = []
    for _ in range(4):
        s = time.process_time()
        with ac:
            f()
        ts.append(time.process_time() - s)
    res[name] = statistics.median(ts[1:]) * 1000
    print(
        f"{name}: {res[name]:.0f} ms a step (CPU time), {flops / res[name] / 1e6:.0f} GFLOP/s effective",
        flush=True,
    )
    if bf:
        with profile(activities=[ProfilerActivity.CPU]) as prof, ac:
            f()
        print(
            prof.key_averages().table(
                sort_by="self_cpu_time_total", row_limit=14, max_name_column_width=38
            )
        )
