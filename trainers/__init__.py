"""nnU-Net trainers of nnunet-t1t2 (found by stock nnU-Net through `nnUNet_extTrainer`)."""
