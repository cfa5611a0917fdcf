"""nnunet-t1t2: transfer an nnU-Net head segmentation model from T1- to T2-weighted MR."""

__version__ = "0.1.0"
