"""The machine a command runs on: its device, and the fastest numerics it runs natively (detect,
don't guess)."""

import ctypes
import functools
import os
from pathlib import Path

import torch

from gan_lab.errors import UserError


def pick_device(name: str) -> torch.device:
    """``auto``: the GPU when there is one, else the CPU; or any torch device name."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise UserError(f"device={name} is not a device ({err}); use auto, cpu or cuda.") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            raise UserError(
                f"device={name} asks for a GPU this machine does not have (torch sees {count} "
                "CUDA device(s)); use auto (the GPU when there is one) or cpu."
            )
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"device={name}: torch sees no mps device here; use auto or cpu.")
    elif device.type not in ("cpu", "mps"):
        raise UserError(f"device={name} is not a device gan-lab runs on; use auto, cpu or cuda.")
    return device


def check_accelerator(name: str, key: str = "trainer.accelerator") -> None:
    """An accelerator Lightning knows and this machine has, or one paragraph saying which are
    here (Lightning's own error would come from deep inside the Trainer)."""
    from lightning.pytorch.accelerators import AcceleratorRegistry

    name = str(name)
    if name == "auto":
        return
    known = sorted({"gpu", *AcceleratorRegistry.available_accelerators()})
    here = ["auto", "cpu"]
    if torch.cuda.is_available():
        here += ["gpu", "cuda"]
    if torch.backends.mps.is_available():
        here += ["mps"]
    if name not in known:
        raise UserError(
            f"{key}={name} is not an accelerator Lightning knows ({', '.join(known)}); on this "
            f"machine use one of {', '.join(here)}."
        )
    if name in here:
        return
    try:
        available = name != "gpu" and bool(AcceleratorRegistry.get(name).is_available())
    except Exception:  # noqa: BLE001 — Lightning raises its own error for a missing package (tpu)
        available = False
    if not available:
        raise UserError(
            f"{key}={name} asks for a device this machine does not have (torch sees no {name}); "
            f"use one of {', '.join(here)} (auto takes the GPU when there is one)."
        )


@functools.cache
def cpu_has_native_bf16() -> bool:
    """AVX-512 BF16 or AMX (x86) — where bf16 matmuls are really faster than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(f in flags for f in (" avx512_bf16", " amx_bf16"))


def auto_precision(accelerator: str) -> str:
    """``bf16-mixed`` on a GPU or CPU with native bf16, else ``32-true``.

    fp16 is never chosen automatically: GAN losses under-/overflow without a
    scaler tuned per phase, and bf16 has fp32's range.
    """
    use_cuda = accelerator in ("gpu", "cuda") or (
        accelerator == "auto" and torch.cuda.is_available()
    )
    if use_cuda:
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"
    if accelerator in ("cpu", "auto"):
        return "bf16-mixed" if cpu_has_native_bf16() else "32-true"
    return "32-true"


def out_of_memory(err: BaseException) -> bool:
    """A device's out-of-memory error: CUDA's is torch.OutOfMemoryError; a CPU allocation that
    fails is a plain RuntimeError ("DefaultCPUAllocator: can't allocate memory ..."). Where a
    batch or a trial may not fit (recipe=auto's budget rule, gan-lab tune's trials), this is the
    one error that means "too big here" rather than a bug."""
    said = str(err).lower()
    return isinstance(err, torch.OutOfMemoryError) or (
        isinstance(err, RuntimeError)
        and ("can't allocate memory" in said or "out of memory" in said)
    )


def device_name(device: torch.device) -> str:
    """What ran a run, for its report: the GPU's name, or the CPU's model and its widest vector
    unit (bf16 speed depends on it: see auto_precision)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "CPU"
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in info.splitlines()
            if line.startswith("model name")
        ),
        "CPU",
    )
    units = [u for u in ("amx_bf16", "avx512_bf16", "avx2") if f" {u}" in info]
    return f"{model} ({units[0]})" if units else model


# Lightning sets PYTORCH_NVML_BASED_CUDA_CHECK=1 when imported, so that torch.cuda.is_available()
# asks NVML rather than initialising CUDA (which would poison forked DDP ranks). torch asks it again
# inside every optimiser step (Optimizer._accelerator_graph_capture_health_check), and on a machine
# without NVML (a CPU machine with torch's CUDA build) each ask tries to load the library, fails,
# and falls back to the CUDA runtime's count anyway: 0.031 ms an Adam step (0.0008 ms asking the
# runtime) on an AVX-512 BF16 EPYC core (benchmarks/README.md, "Every millisecond of the step").
NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"
NVML_LIBRARY = "libnvidia-ml.so.1"  # the name torch.cuda loads


def skip_absent_nvml() -> bool:
    """Ask the CUDA runtime directly where NVML cannot be loaded — what torch falls back to after
    each failed load — so the answer is the same and the failed load is not paid every step.
    True when the setting was changed."""
    if os.environ.get(NVML_CHECK) != "1" or not torch.backends.cuda.is_built():
        return False
    try:
        ctypes.CDLL(NVML_LIBRARY)
    except OSError:
        os.environ[NVML_CHECK] = "0"
        return True
    return False


def ddp_start_method() -> str:
    """How DDP starts its ranks here (the ``${ddp_start_method:}`` of conf/trainer/ddp.yaml):
    ``popen`` inside a cluster job that started the ranks itself, else ``spawn``."""
    # Imported here: config resolvers are registered by tools that never train.
    from lightning.fabric.plugins.environments import (
        LSFEnvironment,
        SLURMEnvironment,
        TorchElasticEnvironment,
    )

    external = (TorchElasticEnvironment, SLURMEnvironment, LSFEnvironment)
    return "popen" if any(env.detect() for env in external) else "spawn"
