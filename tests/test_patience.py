"""NNUNET_T1T2_PATIENCE: stop once the bone class's validation pseudo Dice stops improving, never
while it has not been learned at all."""
from __future__ import annotations

import pytest

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.training.patience import monitored_history, patience_epochs, plateau_reason

LABELS = {"background": 0, "soft_tissue": 1, "bone": 2, "air": 3}
#: nnU-Net's logged dice_per_class_or_region: one list per epoch, one value per foreground label.
LOGGED = [[0.8, 0.0, 0.0], [0.85, 0.2, 0.0], [0.86, 0.5, 0.1], [0.9, 0.45, 0.1], [0.9, 0.49, 0.2]]


def test_bone_is_monitored_by_its_label_position():
    name, history = monitored_history(LOGGED, LABELS, [1, 2, 3])
    assert name == "bone" and history == [0.0, 0.2, 0.5, 0.45, 0.49]


def test_without_a_bone_label_the_foreground_mean_is_monitored():
    name, history = monitored_history([[0.2, 0.4]], {"background": 0, "a": 1, "b": 2}, [1, 2])
    assert name == "mean foreground" and history == pytest.approx([0.3])


def test_stops_after_patience_epochs_without_improvement():
    history = [0.0, 0.2, 0.5, 0.45, 0.49]
    assert plateau_reason(history, 2) == "no improvement for 2 epochs (best 0.5000 at epoch 2)"
    assert plateau_reason(history, 3) is None
    assert plateau_reason(history[:4], 2) is None


def test_a_class_not_learned_yet_is_no_plateau():
    assert plateau_reason([0.0] * 20, 3) is None
    assert plateau_reason([0.05, 0.0, 0.02, 0.01, 0.0], 2) is None


@pytest.mark.parametrize("value", ["0", "-1", "two", ""])
def test_invalid_patience_is_a_user_error(value):
    with pytest.raises(UserError, match="NNUNET_T1T2_PATIENCE"):
        patience_epochs({"NNUNET_T1T2_PATIENCE": value})
    assert patience_epochs({}) is None and patience_epochs({"NNUNET_T1T2_PATIENCE": "4"}) == 4
