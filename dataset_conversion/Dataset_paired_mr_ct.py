"""Paired MR/CT patients to nnU-Net data sets: ``DIR/<patient>/{t1,t2,ct}`` (files or DICOM folders).

    python -m nnunet_t1t2.dataset_conversion.Dataset_paired_mr_ct --input DIR --t1-id 101 --t2-id 102 --t1t2-id 103

The same as ``nnunet-t1t2 convert --layout paired``; every other option of that command applies.
"""
import sys

from nnunet_t1t2.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", "--layout", "paired", *sys.argv[1:]]))
