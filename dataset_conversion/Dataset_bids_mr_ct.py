"""A BIDS data set with CT (``sub-*/[ses-*/]anat/*_T1w.nii.gz``, ``*_T2w.nii.gz``, CT ``*_ct.nii.gz`` in
``anat/`` or ``ct/``) to nnU-Net data sets.

    python -m nnunet_t1t2.dataset_conversion.Dataset_bids_mr_ct --input BIDS_ROOT --t1-id 141 --t2-id 142 --t1t2-id 143

One patient per subject, or per subject and session (``sub-X_ses-Y``); of several runs of an image
the last is taken (named in the summary). The CT is registered to each MR image. The same as
``nnunet-t1t2 convert --layout bids``; every other option of that command applies.
"""
import sys

from nnunet_t1t2.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", "--layout", "bids", *sys.argv[1:]]))
