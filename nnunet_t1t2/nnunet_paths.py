"""nnU-Net's folders and data set names, with errors worded for users."""
from __future__ import annotations

from nnunet_t1t2.errors import UserError


def raw_dataset_folder_name(dataset_id: int, name: str, kind: str) -> str:
    """The folder of one of the data sets a conversion writes: ``Dataset011_PhantomT1``."""
    return f"Dataset{dataset_id:03d}_{name}{kind}"


def dataset_name(dataset_name_or_id: str | int) -> str:
    """``DatasetXXX_Name`` for an id or a name, looked up as nnU-Net does."""
    from nnunetv2.utilities.dataset_name_id_conversion import maybe_convert_to_dataset_name

    try:
        return maybe_convert_to_dataset_name(dataset_name_or_id)
    except RuntimeError as e:
        raise UserError(f"data set {dataset_name_or_id}: {e}") from None
