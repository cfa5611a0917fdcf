"""Label volumes: one function for the conversion's manifest and the prediction's volumes.csv."""
import numpy as np
import SimpleITK as sitk

from nnunet_t1t2.labels import LABELS
from nnunet_t1t2.volumes import label_volumes_ml


def test_volumes_are_voxel_counts_times_voxel_size_for_every_foreground_label():
    array = np.zeros((4, 5, 6), dtype=np.uint8)
    array[0] = LABELS["bone"]  # 30 voxels
    array[1, :2] = LABELS["air"]  # 12 voxels
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((2.0, 2.0, 2.5))  # 10 mm^3 = 0.01 ml per voxel
    assert label_volumes_ml(image) == {"soft_tissue": 0.0, "bone": 0.3, "air": 0.12}
    assert label_volumes_ml(image, {"background": 0, "bone": 2, "tumour": 7}) == {"bone": 0.3, "tumour": 0.0}
