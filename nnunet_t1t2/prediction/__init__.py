"""``nnunet-t1t2 predict``: new scans in any format to labels, volumes, a QC picture and a
bulk-density pseudo-CT, through nnU-Net's own ``nnUNetPredictor``.

* :mod:`.inputs`: finding scans (DICOM series folders, NIfTI, ``.mha``, ``.nrrd``) and reading them;
* :mod:`.model`: the model folder from ``-d/-tr/-p/-c``, a folder or an exported zip; its checks;
* :mod:`.inference`: one image through the predictor, back on the image's grid;
* :mod:`.pseudo_ct`: HU per class, with the sources of the defaults;
* :mod:`.outputs`: file names, atomic writing per case, ``volumes.csv``;
* :mod:`.runner`: all cases, one failure not stopping the others.
"""
