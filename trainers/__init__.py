"""nnU-Net trainers of nnunet-t1t2 (``nnunet-t1t2 trainers`` lists them with their purpose).

Stock nnU-Net finds them through the folder that the installed ``nnunet_t1t2-trainers.pth`` adds
to ``nnUNet_extTrainer`` (see :mod:`nnunet_t1t2.discovery`), whose one module imports this package.
"""
from nnunet_t1t2.trainers import fine_tuning, hybrid, se_unet
from nnunet_t1t2.trainers.fine_tuning import *  # noqa: F401,F403
from nnunet_t1t2.trainers.hybrid import *  # noqa: F401,F403
from nnunet_t1t2.trainers.se_unet import *  # noqa: F401,F403

__all__ = [*se_unet.__all__, *fine_tuning.__all__, *hybrid.__all__]
