"""The paper schedule's plateau rule, the environment schedule and the convergence record."""
import pytest
import torch

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.training.convergence import convergence_record
from nnunet_t1t2.training.plateau import PlateauLR, plateau_state
from nnunet_t1t2.training.short_schedule import inference_mirroring, schedule_overrides


def test_plateau_state_counts_reductions_and_epochs_since_best():
    assert plateau_state([], 5) == plateau_state([], 5).__class__(0, 0, None)
    rising = [0.1, 0.2, 0.3]
    assert plateau_state(rising, 5).epochs_since_best == 0
    flat = [0.5] + [0.5] * 12  # best at epoch 0, then 12 epochs without improvement
    state = plateau_state(flat, 5)
    assert (state.best_epoch, state.epochs_since_best, state.reductions) == (0, 12, 2)
    recovered = flat[:7] + [0.9]  # a reduction after 5 flat epochs, then an improvement resets
    state = plateau_state(recovered, 5)
    assert (state.best_epoch, state.epochs_since_best, state.reductions) == (7, 0, 1)


def test_plateau_lr_is_derived_from_history_so_resuming_gives_the_same_rate():
    history = [0.5] * 11
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-4)
    scheduler = PlateauLR(optimizer, 1e-4, lambda: history, factor=0.75, patience=5)
    scheduler.step(6)  # five flat epochs after the best one: one reduction
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.75e-4)
    scheduler.step(11)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.75 ** 2 * 1e-4)
    fresh = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-4)
    PlateauLR(fresh, 1e-4, lambda: history, 0.75, 5).step(11)
    assert fresh.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]


def test_schedule_overrides_from_environment():
    env = {"NNUNET_T1T2_EPOCHS": "2", "NNUNET_T1T2_ITERATIONS": "3", "UNRELATED": "x"}
    assert schedule_overrides(env) == {"num_epochs": 2, "num_iterations_per_epoch": 3}
    assert schedule_overrides({}) == {}
    for bad in ({"NNUNET_T1T2_EPOCHS": "two"}, {"NNUNET_T1T2_ITERATIONS": "0"}, {"NNUNET_T1T2_EPOCHS": "-1"}):
        with pytest.raises(UserError, match="NNUNET_T1T2_"):
            schedule_overrides(bad)


def test_convergence_record_reads_time_and_best_epoch():
    record = convergence_record([0, 10, 30], [5, 25, 32], [0.2, 0.6, 0.5], stopped_early=True)
    assert record["epochs_trained"] == 3 and record["stopped_early"]
    assert record["best_epoch"] == 1 and record["epochs_to_convergence"] == 2
    assert record["seconds_total"] == pytest.approx(5 + 15 + 2)
    assert record["seconds_to_convergence"] == pytest.approx(20)
    assert record["seconds_per_epoch"] == pytest.approx(22 / 3)
    empty = convergence_record([], [], [], stopped_early=False)
    assert empty["epochs_trained"] == 0 and empty["best_epoch"] is None and empty["seconds_total"] == 0


def test_inference_mirroring_switch():
    assert inference_mirroring({}) and inference_mirroring({"NNUNET_T1T2_MIRRORING": "1"})
    assert not inference_mirroring({"NNUNET_T1T2_MIRRORING": "0"})
    with pytest.raises(UserError, match="NNUNET_T1T2_MIRRORING"):
        inference_mirroring({"NNUNET_T1T2_MIRRORING": "no"})


def test_the_selected_epoch_is_the_best_once_something_was_learned():
    from nnunet_t1t2.training.selection import selected_epoch

    assert selected_epoch([]) is None
    assert selected_epoch([0.0, 0.27, 0.35, 0.28, 0.0, 0.0]) == 2  # learned, then lost: the peak
    assert selected_epoch([0.4, 0.4, 0.40001]) == 0  # within the plateau's min_delta: the first to reach it
    assert selected_epoch([0.0, 0.05, 0.0]) == 2  # never learned: nothing to select on, the last epoch
