"""RIRE-style patients (``DIR/<patient>/{ct,mr_T1,mr_T2}/*.mhd``) to nnU-Net data sets.

    python -m nnunet_t1t2.dataset_conversion.Dataset_rire_mr_ct --input DIR --t1-id 131 --t2-id 132 --t1t2-id 133

Where both are there, ``mr_T1_rectified``/``mr_T2_rectified`` (corrected for geometric distortion) are
taken over ``mr_T1``/``mr_T2``, with a note in the summary. The CT is registered to each MR image.
The same as ``nnunet-t1t2 convert --layout rire``; every other option of that command applies.
"""
import sys

from nnunet_t1t2.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", "--layout", "rire", *sys.argv[1:]]))
