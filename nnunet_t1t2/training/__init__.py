"""What every nnunet-t1t2 trainer adds to nnU-Net's: short schedules, convergence records, the paper's schedule."""
