"""The sentence a run ends with: "Finished 8 epoch(s)." told a learner nothing they could not
count. It now gives the epochs in plain English and where the run ended up."""

from studio.training import Trainer, load_data, seed_everything
from studio.training.run_summary import finished
from tests.training.training_helpers import make_settings, mlp


def test_a_finished_run_says_where_it_ended_up():
    s = make_settings(data={"kind": "moons", "n": 120}, epochs=3)
    seed_everything(0)
    r = Trainer(mlp(), load_data(s), s, []).fit()
    last = r.history[-1]
    assert r.status == "completed"
    assert r.message.startswith("Finished 3 epochs: validation loss ")
    assert (
        f"validation loss {last['val_loss']:.4g}, validation accuracy {last['val_accuracy']:.4g}"
        in r.message
    )
    assert "epoch(s)" not in r.message


def test_one_epoch_is_singular_and_an_earlier_best_is_named():
    history = [
        {"epoch": 1, "train_loss": 0.9, "val_loss": 0.5, "val_accuracy": 0.8, "lr": 0.01},
        {"epoch": 2, "train_loss": 0.7, "val_loss": 0.6, "val_accuracy": 0.75, "lr": 0.01},
    ]
    assert finished(history[:1], 1, "val_loss") == (
        "Finished 1 epoch: validation loss 0.5, validation accuracy 0.8."
    )
    assert finished(history, 1, "val_loss") == (
        "Finished 2 epochs: validation loss 0.6, validation accuracy 0.75 "
        "(the best validation loss was at epoch 1)."
    )
    no_validation = [{"epoch": 1, "train_loss": 0.25, "train_perplexity": 1.28, "lr": 0.1}]
    assert finished(no_validation, 1, "train_loss") == (
        "Finished 1 epoch: training loss 0.25, training perplexity 1.28."
    )
