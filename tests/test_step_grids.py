"""callbacks.samples.every_n_steps: a grid every N training iterations, named by the layout
(samples/step_000002.png), off by default; a roll-back sets the later ones aside."""

from conftest import QUIET
from PIL import Image

from gan_lab.runs import layout, rollback
from gan_lab.training.train import train

# 3 batches an epoch, 2 epochs: iterations 1-6.
ARGS = ["trainer.limit_train_batches=3", "trainer.max_epochs=2", *QUIET]


def test_a_grid_every_n_iterations_and_none_by_default(cfg_factory, tmp_path):
    run = tmp_path / "run"
    train(cfg_factory(*ARGS, "callbacks.samples.every_n_steps=2", out=run))
    steps = layout.step_grids(run)
    assert [s for s, _ in steps] == [2, 4, 6]
    assert steps[0][1] == run / "samples" / "step_000002.png"
    with Image.open(steps[1][1]) as grid:  # step 4 is the first of epoch 2
        assert grid.text[layout.GRID_EPOCH] == "2"
    # The epoch grids and the GIF are as before: the step grids are not frames.
    assert [e for e, _ in layout.grids(run)] == [0, 1, 2]

    plain = tmp_path / "plain"
    train(cfg_factory(*ARGS, "trainer.max_epochs=1", out=plain))
    assert layout.step_grids(plain) == []

    # Back to epoch 1: the grids drawn in epoch 2 go with the abandoned path.
    dest = rollback.set_aside(run, 1, "back")
    assert [s for s, _ in layout.step_grids(run)] == [2]
    assert sorted(p.name for p in (dest / "samples").glob("step_*")) == [
        "step_000004.png",
        "step_000006.png",
    ]
