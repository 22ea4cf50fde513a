"""The fast path (gan_lab/training/fast_path.py, its probe fast_path_probe.py): every candidate
computes the same step; the fastest measured one is chosen, timed once per machine and network,
never at the cost of a short run."""

import copy
import logging
from types import SimpleNamespace

import lightning as L
import pytest
import torch

from gan_lab.models.generator import Generator
from gan_lab.training import fast_path, fast_path_probe
from gan_lab.training.fast_path import FastPath
from gan_lab.training.train import train


def small_generator(kernel_size: int, upsample: str = "nearest") -> Generator:
    return Generator(
        latent_dim=16,
        image_size=32,
        base_size=32,
        start_size=4,
        project_channels=32,
        channels=[32, 16, 8],
        kernel_size=kernel_size,
        upsample=upsample,
        convs_per_block=2,
        batch_norm=True,
        out_kernel_size=3,
        out_activation="tanh",
    )


def _images_and_grads(net, z):
    net.zero_grad()
    out = net(z)
    out.square().sum().backward()
    return out.detach(), [p.grad.clone() for p in net.parameters()]


@pytest.mark.parametrize("kernel_size", [3, 4, 5])
@pytest.mark.parametrize("channels_last", [False, True])
def test_fused_upsampling_gives_the_same_images_and_gradients(kernel_size, channels_last):
    torch.manual_seed(0)
    plain = small_generator(kernel_size)
    fused = copy.deepcopy(plain)
    assert fused.fuse_upsampling(True) == 3  # one per ×2 block
    if channels_last:
        fused.to(memory_format=torch.channels_last)
    z = torch.randn(4, 16)
    # In float64 the two paths are the same arithmetic up to summation order: equal to ~1e-12.
    a64, ga64 = _images_and_grads(copy.deepcopy(plain).double(), z.double())
    b64, gb64 = _images_and_grads(copy.deepcopy(fused).double(), z.double())
    assert b64.shape == (4, 3, 32, 32)
    torch.testing.assert_close(b64, a64, atol=1e-10, rtol=1e-9)
    for p, q in zip(ga64, gb64, strict=True):
        assert (q - p).abs().max() <= 1e-9 * max(g.abs().max() for g in ga64)
    a, ga = _images_and_grads(plain, z)
    b, gb = _images_and_grads(fused, z)
    assert a.shape == b.shape == (4, 3, 32, 32)
    # Images in [-1, 1] (tanh): float32 kernels round to ~1e-6 here; 1e-4 is 840 eps.
    torch.testing.assert_close(a.double(), a64, atol=1e-4, rtol=0)
    torch.testing.assert_close(b.double(), a64, atol=1e-4, rtol=0)
    # In float32 each kernel (oneDNN picks one per CPU kind, layout and kernel size) rounds in
    # its own order: the float64 check above proves the arithmetic is the same, this one that no
    # float32 path is broken (a wrong kernel is off by the order of the gradient itself). Measured:
    # ~10 eps × the largest gradient, and 1,600 eps for 5×5 channels_last on an AVX-512 CPU; the
    # bound is 1e-3 (8,400 eps) of the largest gradient. A conv bias before BatchNorm has a
    # gradient of ~0 (the normalisation cancels it), so the bound is not per element.
    scale = max(g.abs().max() for g in ga64)
    for p, q, r in zip(ga, gb, ga64, strict=True):
        assert (p.double() - r).abs().max() <= 1e-3 * scale
        assert (q.double() - r).abs().max() <= 1e-3 * scale
    # The same weights under the same names: checkpoints do not know whether a run fused.
    assert plain.state_dict().keys() == fused.state_dict().keys()
    assert fused.fuse_upsampling(False) == 0
    torch.testing.assert_close(fused(z), plain(z), atol=1e-5, rtol=1e-4)


def test_transposed_generators_have_nothing_to_fuse():
    assert small_generator(4, upsample="transposed").fuse_upsampling(True) == 0


class FakeProbe:
    """Step times by path, no networks: counts what choose() times."""

    def __init__(self, ms: dict[FastPath, float], compile_s: float = 0.0):
        self.ms, self.compile_s, self.timed = ms, compile_s, []

    def key(self) -> str:
        return "fake machine | fake nets"

    def time(self, path: FastPath) -> tuple[list[float], float]:
        self.timed.append(path)
        s = self.ms[path] / 1000
        return [s] * fast_path.STEPS_PER_ROUND, self.compile_s if path.compile else 0.0


PLAIN, CL = FastPath(), FastPath(channels_last=True)
CL_FUSED = FastPath(channels_last=True, fuse_upsampling=True)


def test_the_fastest_measured_path_is_chosen_and_cached():
    probe = FakeProbe({PLAIN: 100.0, CL: 90.0, CL_FUSED: 70.0})
    chosen, why = fast_path.choose(probe, [PLAIN, CL, CL_FUSED], planned_steps=10_000)
    assert chosen == CL_FUSED
    assert "timed" in why and "70 ms" in why
    assert len(probe.timed) == 3 * fast_path.ROUNDS
    assert fast_path.cache_file().exists()
    # Another run on this machine with these networks: no timing at all.
    again = FakeProbe({PLAIN: 1.0, CL: 1.0, CL_FUSED: 1.0})
    chosen, why = fast_path.choose(again, [PLAIN, CL, CL_FUSED], planned_steps=10_000)
    assert chosen == CL_FUSED and again.timed == [] and "measured earlier" in why


def test_a_short_run_does_not_pay_for_timing(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # nothing cached
    probe = FakeProbe({PLAIN: 100.0, CL: 200.0})
    chosen, why = fast_path.choose(probe, [PLAIN, CL], planned_steps=50)
    assert probe.timed == [] and chosen == CL  # the documented guess, not a measurement
    assert "too short" in why and "guessed" in why


def test_compile_must_repay_its_compile_time(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    compiled = FastPath(channels_last=True, compile="default")
    # 10 % faster per step, 60 s to compile.
    ms = {CL: 100.0, compiled: 90.0}
    # A 5-minute run: compile is not even timed (eager runs under COMPILE_MIN_RUN_S).
    probe = FakeProbe(ms, compile_s=60.0)
    assert fast_path.choose(probe, [CL, compiled], planned_steps=3_000)[0] == CL
    assert compiled not in probe.timed
    # A 10-hour run: timed, and 3.6 ks saved ≫ 60 s of compiling.
    probe = FakeProbe(ms, compile_s=60.0)
    assert fast_path.choose(probe, [CL, compiled], planned_steps=360_000)[0] == compiled
    # Endless epochs under a 5-minute trainer.max_time: the time limit is the run's length.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "limited"))
    probe = FakeProbe(ms, compile_s=60.0)
    chosen, _ = fast_path.choose(probe, [CL, compiled], 10**9, max_seconds=300)
    assert chosen == CL and compiled not in probe.timed
    # Slower when compiled (as on an AVX2 CPU): never chosen.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "other"))
    probe = FakeProbe({CL: 100.0, compiled: 110.0}, compile_s=60.0)
    assert fast_path.choose(probe, [CL, compiled], planned_steps=360_000)[0] == CL


def test_config_keys_fix_their_dimension():
    device = torch.device("cpu")
    options = fast_path.candidates(False, None, True, device)
    assert {p.channels_last for p in options} == {False}
    assert {p.fuse_upsampling for p in options} == {False, True}
    assert all(p.compile is None for p in options)
    assert {p.compile for p in fast_path.candidates(None, "default", False, device)} == {"default"}
    with pytest.raises(Exception, match="model.compile"):
        fast_path.parse_compile("fastest")


class Watch(L.Callback):
    def on_fit_start(self, trainer, pl_module):
        self.module = pl_module


def test_timing_changes_nothing_but_speed(cfg_factory, tmp_path, monkeypatch, caplog):
    """A timed start, off and the cache: the same losses (timing leaves the random streams and the
    weights alone), the layout chosen is applied, and the choice is logged in one line."""
    monkeypatch.setattr(fast_path, "TIMING_SHARE", 0)  # time even this tiny run
    caplog.set_level(logging.INFO, logger="gan_lab.training.module")
    runs = {}
    for name, mode in [("timed", "auto"), ("cached", "auto"), ("off", "off")]:
        watch = Watch()
        metrics = train(
            cfg_factory(
                f"trainer.fast_path={mode}",
                "trainer.max_epochs=1",
                "model.channels_last=false",  # one layout, so the runs match bit for bit
                # float32: under bf16 autocast (AVX-512 BF16 CPUs) a fused upsampling rounds
                # differently by ~1e-3; what is tested is that timing leaves streams and weights
                # alone, which float32 shows on every CPU kind.
                "trainer.precision=32-true",
                "callbacks=none",
                "logger=none",
                out=tmp_path / name,
            ),
            callbacks=[watch],
        )
        runs[name] = (metrics, watch.module)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("fast path:")]
    assert len(lines) == 3
    assert "timed in" in lines[0] and "fused upsampling" in lines[0]
    assert "measured earlier" in lines[1]
    assert lines[2] == "fast path: contiguous, eager — trainer.fast_path=off"
    assert runs["timed"][1].fast_path == runs["cached"][1].fast_path
    assert runs["off"][1].fast_path == FastPath()
    for name in ("cached", "off"):
        for key, value in runs["timed"][0].items():
            assert runs[name][0][key] == pytest.approx(value, rel=1e-4), (name, key)


def probe_of(module, dm) -> fast_path.Probe:
    """The probe a CPU fp32 run of ``module`` on ``dm`` would time."""
    trainer = SimpleNamespace(
        datamodule=dm, strategy=SimpleNamespace(root_device=torch.device("cpu")), precision="32"
    )
    return fast_path.probe_for(module, trainer, module.procedure)


def test_the_probe_times_the_training_step_itself(cfg_factory, monkeypatch):
    """The probe runs gan_lab.core.step.step — the function GAN.training_step runs — with the run's
    procedure (loss, R1, gradient penalty, augmentation, EMA): what is timed cannot drift from
    what trains. Its copies leave the run's weights and ADA state as they were."""
    from gan_lab.core import step as step_py
    from gan_lab.training import module as module_py
    from gan_lab.training.train import build

    assert fast_path_probe.step is step_py.step and module_py.step is step_py.step
    ran = []

    def spy(nets, proc, real, y, opt):
        ran.append((nets, proc))
        return step_py.step(nets, proc, real, y, opt)

    monkeypatch.setattr(fast_path_probe, "step", spy)
    module, dm = build(
        cfg_factory("model.loss=wgan_gp", "model.r1_gamma=1", "model.diffaug=[color]")
    )
    before = {k: v.clone() for k, v in module.state_dict().items()}
    times, _ = probe_of(module, dm).time(FastPath(channels_last=True))
    assert all(t > 0 for t in times)
    assert len(ran) == fast_path.WARMUP_STEPS + fast_path.STEPS_PER_ROUND
    nets, proc = ran[0]
    assert type(proc.loss) is type(module.loss) and fast_path.procedure_key(
        proc
    ) == fast_path.procedure_key(module.procedure)
    assert (proc.gp_weight, proc.r1_gamma, proc.diffaug_ops) == (10.0, 1.0, module.diffaug_ops)
    assert nets.ema is not None and nets.generator is not module.generator  # copies
    for key, value in module.state_dict().items():
        assert torch.equal(value, before[key]), key
    # ADA: the probe observes D on a copy; the run's p and sums are untouched.
    module, dm = build(cfg_factory("model.ada.enabled=true"))
    probe_of(module, dm).time(FastPath())
    assert ran[-1][1].ada is not module.ada and ran[-1][1].ada.signs[1] > 0
    assert module.ada.signs.sum() == 0 and module.ada.p == 0


def test_a_change_of_procedure_is_a_change_of_cache_key(cfg_factory):
    """Timings are cached per procedure: the gradient penalty's double backward, R1 or
    augmentation make a different step than the plain one."""
    from gan_lab.training.train import build

    keys = []
    for overrides in ([], ["model.loss=wgan_gp"], ["model.r1_gamma=1"], ["model.diffaug=[color]"]):
        module, dm = build(cfg_factory(*overrides))
        keys.append(probe_of(module, dm).key())
    assert len(set(keys)) == len(keys)
