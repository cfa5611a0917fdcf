"""nnU-Net style dataset conversion scripts (thin wrappers around `nnunet-t1t2 convert`)."""
