"""SynthRAD2025 Task 1 (``Task1/<region>/<patient>/{mr,ct,mask}.mha``, regions HN, TH, AB) to an nnU-Net T1 data set.

    python -m nnunet_t1t2.dataset_conversion.Dataset_synthrad2025_task1 --input Task1 --t1-id 121
    python -m nnunet_t1t2.dataset_conversion.Dataset_synthrad2025_task1 --input Task1/HN --t1-id 122

``--input`` is the task folder (all its regions; patient ids are unique across regions) or one region
folder. MR and CT are already registered, so registration is skipped; the MR is taken as T1 and the
mask as the patient outline. The same as ``nnunet-t1t2 convert --layout synthrad``; every other
option of that command applies.
"""
import sys

from nnunet_t1t2.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", "--layout", "synthrad", *sys.argv[1:]]))
