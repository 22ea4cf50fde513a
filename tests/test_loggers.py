"""Loggers as config options: logger=csv, mlflow and wandb, alone or beside TensorBoard
(logger=[tensorboard,csv]), each writing inside the run folder, each read back with its own
tools; a stored logger config that stays in the run folder; a missing package as one paragraph."""

import csv
import logging
from pathlib import Path

import pytest
import torch
import yaml
from conftest import CONF, TINY, make_cfg
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from gan_lab.config.resume import use_stored_config
from gan_lab.config.schema import GROUPS, TRAIN
from gan_lab.config.validate import check_config, read_stored
from gan_lab.errors import UserError
from gan_lab.runs import keys, layout
from gan_lab.training import loggers
from gan_lab.training.train import make_trainer, train

QUICK = ["trainer.max_epochs=1", "callbacks.samples.gif=false", "trainer.fast_path=off"]
HAS_MLFLOW = loggers.installed("mlflow")
NO_MLFLOW = 'mlflow is not installed: pip install "gan-lab[mlflow]" (make dev installs it)'
# The lab's names, as Lightning's loggers receive them: the epoch means and the run's final values.
EPOCH_MEANS = [keys.epoch_key(k) for k in keys.STAT_KEYS]
FINAL = [f"final/{k}" for k in keys.STAT_KEYS]


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory):
    """One epoch with TensorBoard, CSV and (where installed) MLflow at once: every test of a
    logger reads its files from this run."""
    run = tmp_path_factory.mktemp("loggers") / "run"
    chosen = ["tensorboard", "csv"] + (["mlflow"] if HAS_MLFLOW else [])
    train(make_cfg(run, TINY + QUICK + [f"logger=[{','.join(chosen)}]"]))
    return run


def _leaves(node: dict, prefix: str) -> set[str]:
    return {
        key
        for k, v in node.items()
        for key in (_leaves(v, f"{prefix}.{k}") if isinstance(v, dict) else {f"{prefix}.{k}"})
    }


def test_each_logger_preset_is_in_the_schema_and_writes_inside_the_run_folder(tmp_path):
    """Every key of conf/logger/*.yaml has its rule; each logger's folder is the layout's."""
    options = sorted(p.stem for p in (CONF / "logger").glob("*.yaml"))
    assert {"tensorboard", "csv", "mlflow", "wandb", "none"} <= set(options)
    for option in options:
        node = yaml.safe_load((CONF / "logger" / f"{option}.yaml").read_text()) or {}
        for name, settings in node.items():
            assert f"logger.{name}" in GROUPS
            assert settings["save_dir"].startswith("${paths.output_dir}"), option
            for key in _leaves(settings, f"logger.{name}"):
                assert key in TRAIN and TRAIN[key].meaning, key
    read = {p.stem: yaml.safe_load(p.read_text()) for p in (CONF / "logger").glob("*.yaml")}
    assert read["csv"]["csv"]["name"] == layout.CSV_LOGS
    assert read["mlflow"]["mlflow"]["save_dir"] == f"${{paths.output_dir}}/{layout.MLRUNS}"
    assert read["wandb"]["wandb"]["offline"] is True  # nothing leaves the machine unless asked
    # A Hydra list of the group's options: every logger at once, each under its own name.
    cfg = make_cfg(tmp_path, ["logger=[tensorboard,csv,mlflow,wandb]"])
    assert list(cfg.logger) == ["tensorboard", "csv", "mlflow", "wandb"]
    check_config(cfg)


def test_csv_writes_lightnings_metrics_csv_with_the_labs_names(logged_run):
    folder = logged_run / layout.CSV_LOGS / "version_0"
    with open(folder / ExperimentWriter.NAME_METRICS_FILE, newline="") as file:
        rows = list(csv.DictReader(file))
    assert set(EPOCH_MEANS + FINAL) <= set(rows[0])
    (means,) = [r for r in rows if r[EPOCH_MEANS[0]]]
    (final,) = [r for r in rows if r[FINAL[0]]]
    assert float(final[FINAL[0]]) == pytest.approx(float(means[EPOCH_MEANS[0]]))
    hparams = yaml.safe_load((folder / ExperimentWriter.NAME_HPARAMS_FILE).read_text())
    assert hparams["model"]["lr_d"] == pytest.approx(2e-4) and hparams["seed"] == 0


def test_tensorboard_and_csv_write_side_by_side(logged_run):
    events = EventAccumulator(str(layout.tensorboard_dir(logged_run)), size_guidance={"images": 0})
    events.Reload()
    assert EPOCH_MEANS[0] in events.Tags()["scalars"]
    assert [e.step for e in events.Images("samples/fixed_noise")] == [0, 3]
    assert (logged_run / layout.CSV_LOGS / "version_0").is_dir()


@pytest.mark.skipif(not HAS_MLFLOW, reason=NO_MLFLOW)
def test_mlflow_writes_a_run_its_own_client_reads_back(logged_run):
    from mlflow.tracking import MlflowClient

    uri, artifacts = layout.mlflow_store(logged_run / layout.MLRUNS)
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("gan-lab")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    (mean,) = client.get_metric_history(run.info.run_id, EPOCH_MEANS[0])
    assert mean.step == 3 and run.data.metrics[FINAL[0]] == pytest.approx(mean.value)
    assert run.data.params["model/lr_d"] == "0.0002" and run.data.params["seed"] == "0"
    grids = [a.path for a in client.list_artifacts(run.info.run_id, layout.SAMPLES)]
    assert grids == [layout.grid_path("", e).as_posix() for e in (0, 1)]
    assert artifacts.is_relative_to(logged_run) and any(artifacts.rglob("*.png"))


def _stored(run) -> dict:
    ckpt = torch.load(layout.last_checkpoint(run), weights_only=True, map_location="cpu")
    return ckpt["gan_lab"]["config"]


def test_a_stored_logger_config_passes_and_stays_in_the_run_folder(logged_run, caplog):
    """A run's own stored loggers come back unchanged; someone else's cannot log elsewhere."""
    stored = _stored(logged_run)
    with caplog.at_level(logging.WARNING):
        read = read_stored(stored, "last.ckpt", logged_run)
    assert not caplog.records and read["logger"] == stored["logger"]
    hostile = _stored(logged_run)
    hostile["logger"]["csv"] |= {"name": "../../elsewhere", "save_dir": "/elsewhere"}
    hostile["logger"]["mlflow"] = {
        **read["logger"].get("mlflow", {"_target_": loggers.MLFLOW}),
        "tracking_uri": "http://tracker.example:5000",
        "save_dir": "/elsewhere/mlruns",
        "log_model": "all",  # not one gan-lab passes on
    }
    hostile["logger"]["wandb"] = {
        "_target_": loggers.WANDB,
        "save_dir": str(logged_run),
        "offline": False,
        "project": "p",
    }
    with caplog.at_level(logging.WARNING):
        read = read_stored(hostile, "hostile.ckpt", logged_run)
    said = " ".join(r.getMessage() for r in caplog.records)
    for key in ("logger.csv.name", "logger.mlflow.log_model", "logger.mlflow.tracking_uri"):
        assert key in said
    assert read["logger"]["mlflow"]["tracking_uri"] is None
    assert read["logger"]["wandb"]["offline"] is True
    assert read["logger"]["csv"]["save_dir"] is None and "name" not in read["logger"]["csv"]
    # What a resume with the default logger builds from it: the stored loggers, in the run folder.
    cfg = make_cfg(logged_run, TINY + [f"ckpt_path={layout.last_checkpoint(logged_run)}"])
    stored = read_stored(_stored(logged_run), "last.ckpt", logged_run)
    built = {
        type(lg).__name__: lg for lg in make_trainer(use_stored_config(cfg, [], stored)).loggers
    }
    assert {"TensorBoardLogger", "CSVLogger"} <= set(built)
    assert all(Path(lg.log_dir).is_relative_to(logged_run) for lg in built.values() if lg.log_dir)
    if HAS_MLFLOW:  # MLflow's own store in the run folder, never the stored server
        uri, _ = layout.mlflow_store(logged_run / layout.MLRUNS)
        assert built["MLFlowLogger"]._tracking_uri == uri


def test_a_missing_package_is_one_paragraph_with_exit_2(monkeypatch, gan_lab_cli, tmp_path):
    monkeypatch.setattr(loggers, "installed", lambda module: False)
    code, _, err = gan_lab_cli(
        "train", *TINY, "logger=[tensorboard,mlflow]", f"hydra.run.dir={tmp_path / 'run'}"
    )
    assert code == 2 and "Traceback" not in err, err
    assert 'pip install "gan-lab[mlflow]"' in err and len(err.strip().splitlines()) == 1, err
    assert not layout.checkpoints_dir(tmp_path / "run").exists()
    cfg = OmegaConf.create({"wandb": {"_target_": loggers.WANDB, "save_dir": str(tmp_path)}})
    with pytest.raises(UserError, match=r'logger=wandb needs .*pip install "gan-lab\[wandb\]"'):
        loggers.build_loggers(cfg)


def test_wandb_logs_offline_into_the_run_folder(tmp_path, monkeypatch):
    if not loggers.installed("wandb"):
        pytest.skip("wandb is not installed: pip install wandb")
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):  # not the user's home
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = tmp_path / "run"
    train(make_cfg(run, TINY + QUICK + ["logger=wandb"]))
    (offline,) = (run / layout.WANDB).glob("offline-run-*")
    summary = yaml.safe_load(next(offline.rglob("wandb-summary.json")).read_text())
    assert EPOCH_MEANS[0] in summary and "samples/fixed_noise" in summary
    assert "lr_d" in next(offline.rglob("config.yaml")).read_text()


@pytest.mark.skipif(not HAS_MLFLOW, reason=NO_MLFLOW)
def test_a_tracking_uri_mlflow_cannot_open_is_one_paragraph(tmp_path):
    node = {"_target_": loggers.MLFLOW, "tracking_uri": "nonsense://x", "save_dir": str(tmp_path)}
    with pytest.raises(UserError, match=r"logger.mlflow.tracking_uri=nonsense://x: MLflow cannot"):
        loggers.build_loggers(OmegaConf.create({"mlflow": node}))
