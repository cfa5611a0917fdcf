"""Paired MR/CT patients to nnU-Net raw data sets with bone / soft tissue / air labels from CT.

``convert`` is the whole conversion (``nnunet-t1t2 convert``); ``install_splits`` puts a converted
data set's ``splits_final.json`` back into nnU-Net's preprocessed folder.
"""
from nnunet_t1t2.conversion.case import ConversionSettings
from nnunet_t1t2.conversion.pipeline import ConversionSummary, DatasetIds, convert
from nnunet_t1t2.conversion.quality import QualityLimits
from nnunet_t1t2.conversion.registration import RegistrationSettings
from nnunet_t1t2.conversion.splits import SplitProtocol, install_splits
from nnunet_t1t2.conversion.tissue import LABELS, Thresholds

__all__ = ["LABELS", "ConversionSettings", "ConversionSummary", "DatasetIds", "QualityLimits",
           "RegistrationSettings", "SplitProtocol", "Thresholds", "convert", "install_splits"]
