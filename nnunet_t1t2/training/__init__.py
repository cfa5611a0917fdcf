"""What every nnunet-t1t2 trainer adds to nnU-Net's: short schedules, convergence records, freezing what
must not train, the paper's schedule."""
