"""The label map of every data set nnunet-t1t2 writes (conversion), simulates (phantom) and scores
(evaluation): defined once, here.

Air is split by where it is: 0 is everything outside the head, including the air around it, and 3
the air inside the head (sinuses, mastoid cells), so that the two can be scored apart (the
evaluation adds the paper's merged air class, labels {0, 3}).
"""
LABELS = {"background": 0, "soft_tissue": 1, "bone": 2, "air": 3}
BACKGROUND, SOFT_TISSUE, BONE, AIR = (LABELS[name] for name in ("background", "soft_tissue", "bone", "air"))
