"""nnunet-t1t2's trainers as nnU-Net finds them: this folder is listed in ``nnUNet_extTrainer``.

nnU-Net imports every module of an ``nnUNet_extTrainer`` folder under its top-level name. This
folder holds only this module, so nnU-Net imports nothing of ours twice: the trainers stay the
classes of ``nnunet_t1t2.trainers`` (one identity, picklable for nnU-Net's worker processes).
When nnunet-t1t2 is gone but the folder is still listed (a source checkout named in a shell
profile), the module is empty instead of failing every trainer lookup.
"""
from importlib.util import find_spec

if find_spec("nnunet_t1t2") is not None:
    from nnunet_t1t2.trainers import *  # noqa: F401,F403
