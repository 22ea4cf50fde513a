"""Run the test suite (or any gan-lab command) on an AVX-512 BF16 CPU the way an AVX2-only CPU
runs it, to time it there (README "Tests"):

    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 PYTHONPATH=benchmarks/avx2_like:src \
        python -m pytest -m "not slow" -q

torch's kernels are capped at AVX2 by the two variables; this file (Python imports a
``sitecustomize`` from the path at start-up, in every child process too) tells gan-lab's
precision=auto that the CPU has no native bf16, so it picks fp32 as it would there. Clock speed,
caches and memory stay this machine's: it shows what the instruction set costs, not what a slower
machine costs.
"""

import os

if os.environ.get("ATEN_CPU_CAPABILITY") == "avx2":
    import gan_lab.hardware as _hardware

    _hardware.cpu_has_native_bf16 = lambda: False
