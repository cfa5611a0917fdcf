"""SynthRAD2023 Task 1 brain (``Task1/brain/1BAxxx/{mr,ct,mask}.nii.gz``) to an nnU-Net T1 data set.

    python -m nnunet_t1t2.dataset_conversion.Dataset_synthrad2023_task1_brain --input Task1/brain --t1-id 111

MR and CT are already registered, so registration is skipped; the MR is taken as T1 and the mask as
the head outline. SynthRAD has no T2, so only the T1 data set is written. The same as
``nnunet-t1t2 convert --layout synthrad``; every other option of that command applies.
"""
import sys

from nnunet_t1t2.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", "--layout", "synthrad", *sys.argv[1:]]))
