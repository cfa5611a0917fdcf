"""nnU-Net trainers of nnunet-t1t2.

Stock nnU-Net finds them through ``nnUNet_extTrainer`` (it then imports each module of this folder
on its own, so the modules import only from the ``nnunet_t1t2`` library, never from each other) or
through the shim that ``nnunet-t1t2 register-trainers`` writes, which imports this package.
"""
from nnunet_t1t2.trainers.fine_tuning import *  # noqa: F401,F403
from nnunet_t1t2.trainers.hybrid import *  # noqa: F401,F403
from nnunet_t1t2.trainers.se_unet import *  # noqa: F401,F403
