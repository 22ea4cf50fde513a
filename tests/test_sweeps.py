"""Sweeps and scale: multirun → one table and one image; launcher presets; DDP on CPU processes."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import CONF, ROOT, TINY, gan_lab_in_process
from hydra.core.utils import JobReturn, JobStatus
from lightning.pytorch.callbacks import Callback
from omegaconf import OmegaConf
from PIL import Image

from gan_lab.cli.summarize import main as summarize_main
from gan_lab.config import compose, run_name
from gan_lab.hardware import ddp_start_method
from gan_lab.report.sweep_summary import SweepSummary

# TINY, without an epoch's worth of extras a sweep test does not look at.
SWEEP_TINY = [*TINY, "trainer.max_epochs=1", "logger=none", "callbacks.samples.gif=false"]


def multirun(sweep_dir: Path, *overrides: str, timeout: int = 300, env: dict | None = None):
    res = subprocess.run(
        [sys.executable, "train.py", "-m", *overrides, *SWEEP_TINY, f"hydra.sweep.dir={sweep_dir}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})},
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def read_rows(sweep_dir: Path) -> list[dict]:
    with (sweep_dir / "summary.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """A 2×2 study on the built-in set with the default (sequential) launcher: `gan-lab train -m`
    in this process (the slow tier's sweeps start train.py -m itself)."""
    out = tmp_path_factory.mktemp("sweep") / "multirun"
    code = gan_lab_in_process(
        "train",
        "-m",
        "generator.kernel_size=4,6",
        "noise=normal,uniform",
        "trainer.limit_train_batches=2",
        *SWEEP_TINY,
        f"hydra.sweep.dir={out}",
    )
    assert code == 0
    return out


def test_2x2_multirun_writes_one_table_and_one_image(sweep):
    runs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [r.name.split("_")[0] for r in runs] == ["0", "1", "2", "3"]  # one folder per run
    rows = read_rows(sweep)
    assert len(rows) == 4
    # Only the overrides that differ become columns, with each run's value.
    assert [(r["generator.kernel_size"], r["noise"]) for r in rows] == [
        ("4", "normal"),
        ("4", "uniform"),
        ("6", "normal"),
        ("6", "uniform"),
    ]
    assert "data.num_images" not in rows[0]
    for row in rows:
        assert row["status"] == "ok" and row["epochs"] == "1"
        d, g = float(row["d_loss"]), float(row["g_loss"])
        assert abs(float(row["balance"]) - (g - d)) < 1e-3
        assert float(row["wall_min"]) >= 0  # minutes, rounded: a job of seconds shows 0.0
        assert (sweep / row["samples"]).name == "epoch_0001.png" and (
            sweep / row["samples"]
        ).exists()
    table = (sweep / "summary.md").read_text()
    assert table.count("](<") == 8  # a link to each run folder and to each last grid
    with Image.open(sweep / "summary.png") as im:
        assert im.width > 2 * im.height  # four grids side by side
    # One seed per setting: the settings table says there is no interval and how to get one.
    assert "one seed: no interval; add -m seed=0,1,2" in table
    with (sweep / "settings.csv").open(newline="") as f:
        settings = list(csv.DictReader(f))
    assert [(r["n"], r["low(g_loss)"]) for r in settings] == [("1", "")] * 4
    # The sweep's page and each run's page were written when the sweep and the runs ended.
    assert "one seed: no interval; add -m seed=0,1,2" in (sweep / "report.html").read_text()
    assert all((run / "report.html").exists() for run in runs)


def test_summary_lists_broken_runs_with_a_status(sweep, tmp_path, capsys):
    copy = tmp_path / "sweep"
    shutil.copytree(sweep, copy)
    runs = sorted(p for p in copy.iterdir() if p.is_dir())
    (runs[0] / "metrics.csv").unlink()  # crashed before its first epoch ended
    config = yaml.safe_load((runs[1] / ".hydra" / "config.yaml").read_text())
    config["trainer"]["max_epochs"] = 5  # killed after 1 of 5 epochs
    (runs[1] / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    SweepSummary().on_job_end(
        OmegaConf.create({"hydra": {"runtime": {"output_dir": str(runs[2])}}}),
        JobReturn(status=JobStatus.FAILED, _return_value=RuntimeError("loss is nan")),
    )
    # The evaluation issue's metrics (val/*) become columns: each run's last value.
    metrics = runs[3] / "metrics.csv"
    lines = metrics.read_text().splitlines()
    metrics.write_text(f"{lines[0]},val/fid\n{lines[1]},123.4\n")
    summarize_main([str(copy)])
    assert "4 runs" in capsys.readouterr().out
    assert [r["val/fid"] for r in read_rows(copy)] == ["", "", "", "123.4"]
    assert "| val/fid |" in (copy / "summary.md").read_text()
    status = [r["status"] for r in read_rows(copy)]
    assert status == [
        "no metrics",
        "incomplete (1/5 epochs)",
        "failed: RuntimeError: loss is nan",
        "ok",
    ]


def test_summarize_ranks_the_settings_by_the_column_asked_for(sweep, tmp_path):
    copy = tmp_path / "sweep"
    shutil.copytree(sweep, copy)
    summarize_main([str(copy), "metric=g_loss"])
    text = (copy / "summary.md").read_text()
    assert "ranked by g_loss, as asked" in text
    with (copy / "settings.csv").open(newline="") as f:
        settings = list(csv.DictReader(f))
    losses = [float(r["mean(g_loss)"]) for r in settings]
    assert losses == sorted(losses) and [r["rank"] for r in settings] == ["1", "2", "3", "4"]


def test_summarize_explains_a_wrong_folder(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        summarize_main([str(tmp_path)])
    assert err.value.code == 2
    assert "no runs in" in capsys.readouterr().err


def test_sweep_folder_names_have_no_slash_and_stay_short():
    assert run_name("data.root=/a/b,noise=gamma") == "data.root=_a_b,noise=gamma"
    assert run_name("d.k=${g.k},x=[1, 2]") == "d.k=__g.k_,x=_1,_2_"
    assert len(run_name("x" * 400)) <= 120
    text = (CONF / "hydra" / "default.yaml").read_text()
    assert "${run_name:${hydra.job.override_dirname}}" in text


@pytest.mark.slow  # two joblib worker processes; the fast tier composes the preset (below)
def test_parallel_launcher_runs_a_two_job_sweep(tmp_path):
    out = tmp_path / "parallel"
    # A value with '/' must not create nested folders.
    multirun(out, "hydra/launcher=parallel", "noise=normal,gamma", "+note=a/b")
    launcher = yaml.safe_load((out / "multirun.yaml").read_text())["hydra"]["launcher"]
    assert launcher["_target_"].endswith("JoblibLauncher") and launcher["n_jobs"] == 2
    runs = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert len(runs) == 2 and all("note=a_b" in r for r in runs)
    assert [r["noise"] for r in read_rows(out)] == ["normal", "gamma"]
    assert all(r["status"] == "ok" for r in read_rows(out))


def compose_hydra(*overrides: str):
    return compose("train", overrides, return_hydra_config=True)


def test_parallel_launcher_and_ddp_presets_compose():
    launcher = compose_hydra("hydra/launcher=parallel").hydra.launcher
    assert launcher._target_.endswith("JoblibLauncher") and launcher.n_jobs == 2
    cfg = compose_hydra("hydra/launcher=parallel", "trainer=ddp", "trainer.accelerator=cpu")
    assert cfg.trainer.strategy._target_.endswith("DDPStrategy")
    assert cfg.trainer.strategy.start_method in ("spawn", "popen")


def test_slurm_preset_composes_with_resources_from_the_trainer():
    keys = ("nodes", "gpus_per_node", "tasks_per_node", "timeout_min", "cpus_per_task", "mem_gb")
    cfg = compose_hydra("hydra/launcher=slurm")
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert {k: launcher[k] for k in keys} == {
        "nodes": 1,
        "gpus_per_node": 1,
        "tasks_per_node": 1,
        "timeout_min": 240,
        "cpus_per_task": 4,
        "mem_gb": 16,
    }
    assert launcher.partition is None
    # Multi-GPU, multi-node: one SLURM task per device, as Lightning's DDP expects.
    cfg = compose_hydra(
        "hydra/launcher=slurm",
        "trainer=ddp",
        "trainer.devices=4",
        "trainer.num_nodes=2",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.timeout_min=600",
    )
    launcher = cfg.hydra.launcher
    assert (launcher.nodes, launcher.gpus_per_node, launcher.tasks_per_node) == (2, 4, 4)
    assert (launcher.partition, launcher.timeout_min) == ("gpu", 600)


def test_ddp_start_method_never_relaunches_the_command(monkeypatch):
    for var in ("SLURM_NTASKS", "SLURM_JOB_NAME", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(var, raising=False)
    assert ddp_start_method() == "spawn"  # a local run: ranks are spawned, sys.argv is not re-run
    monkeypatch.setenv("SLURM_NTASKS", "4")
    monkeypatch.setenv("SLURM_JOB_NAME", "train")
    assert ddp_start_method() == "popen"  # SLURM started the ranks: Lightning launches nothing


class RankProbe(Callback):
    """What each DDP rank saw, gathered on rank 0 and written to ``out`` as JSON."""

    def __init__(self, out: str):
        self.out, self.batches, self.draw = out, 0, None

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if self.draw is None:  # what this rank's noise and augmentation streams give first
            self.draw = torch.rand(4)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.batches += 1

    def on_train_end(self, trainer, pl_module) -> None:
        def checksum(net):
            return torch.stack([p.detach().double().sum() for p in net.parameters()]).sum()

        fixed_z = pl_module.all_gather(pl_module.fixed_z)
        batches = pl_module.all_gather(torch.tensor(self.batches, device=pl_module.device))
        g_sum = pl_module.all_gather(checksum(pl_module.generator))
        d_sum = pl_module.all_gather(checksum(pl_module.discriminator))
        draws = pl_module.all_gather(self.draw.to(pl_module.device))
        if trainer.is_global_zero:
            report = {
                "world_size": trainer.world_size,
                "batches": batches.tolist(),
                "same_fixed_z": bool((fixed_z == fixed_z[0]).all()),
                "same_g": bool(torch.allclose(g_sum, g_sum[0])),
                "same_d": bool(torch.allclose(d_sum, d_sum[0])),
                "same_draws": bool(torch.equal(draws[0], draws[1])),
            }
            Path(self.out).write_text(json.dumps(report))


@pytest.mark.slow  # two spawned ranks (~25 s); the fast tier checks the DDP config and start method
def test_ddp_two_cpu_processes_under_multirun(tmp_path):
    """trainer=ddp inside `train.py -m`: two gloo ranks, one shard each, one set of outputs."""
    out, probe = tmp_path / "ddp", tmp_path / "probe.json"
    multirun(
        out,
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "+callbacks.probe._target_=test_sweeps.RankProbe",
        f"+callbacks.probe.out={probe}",
        env={"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])},
    )
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1  # the sweep ran once: no rank re-launched it
    run = runs[0]
    report = json.loads(probe.read_text())
    # 128 images, batch 32: 4 batches on one device, 2 on each of two ranks.
    assert report["world_size"] == 2 and report["batches"] == [2, 2]
    assert report["same_fixed_z"] and report["same_g"] and report["same_d"]
    assert not report["same_draws"]  # each rank draws its own z, label noise and augmentation
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "epoch_0001.ckpt",
        "last.ckpt",
    ]
    grids = sorted(p.name for p in (run / "samples").iterdir())
    assert grids == ["epoch_0000.png", "epoch_0001.png", "fixed_noise.pt"]
    info = json.loads((run / "run.json").read_text())  # written once, by rank 0
    assert info["sessions"][-1]["devices"] == 2 and info["sessions"][-1]["status"] == "finished"
    assert (run / "report.html").exists()
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and rows[0]["step"] == "2"
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert torch.equal(
        ckpt["state_dict"]["fixed_z"], torch.load(run / "samples" / "fixed_noise.pt")
    )


def test_sync_batchnorm_on_cpu_is_a_user_error(cfg_factory):
    from gan_lab.errors import UserError
    from gan_lab.training.train import make_trainer

    cfg = cfg_factory("trainer=ddp", "trainer.accelerator=cpu", "trainer.sync_batchnorm=true")
    with pytest.raises(UserError, match="sync_batchnorm"):
        make_trainer(cfg)
