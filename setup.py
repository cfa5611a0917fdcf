"""nnunet-t1t2: T1-to-T2 transfer learning for head MR segmentation, as an nnU-Net v2 plugin.

`trainers/`, `plans/` and `dataset_conversion/` live at the top of the repository (the design card's
layout) and ship inside the wheel as `nnunet_t1t2.trainers`, `nnunet_t1t2.plans` and
`nnunet_t1t2.dataset_conversion`, so that a non-editable `pip install .` carries them.
"""
from setuptools import setup

LIBRARY = [
    "nnunet_t1t2",
    "nnunet_t1t2.cli",
    "nnunet_t1t2.conversion",
    "nnunet_t1t2.evaluation",
    "nnunet_t1t2.networks",
    "nnunet_t1t2.phantom",
    "nnunet_t1t2.study",
    "nnunet_t1t2.training",
    "nnunet_t1t2.transfer",
]
TOP_LEVEL = {
    "nnunet_t1t2.trainers": "trainers",
    "nnunet_t1t2.plans": "plans",
    "nnunet_t1t2.dataset_conversion": "dataset_conversion",
}

setup(
    name="nnunet-t1t2",
    version="0.1.0",
    description="Transfer nnU-Net head segmentation (bone, soft tissue, air) from T1- to T2-weighted MR",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=LIBRARY + list(TOP_LEVEL),
    package_dir={"": ".", **TOP_LEVEL},
    package_data={"nnunet_t1t2.plans": ["*.json"]},
    install_requires=[
        "torch>=2.1",
        # the versions the code is tested with: build_network_architecture(plans_manager, ...) is 2.7+,
        # lazy nnunetv2.paths and nnUNet_extTrainer are 2.8+
        "nnunetv2>=2.8.1,<2.9",
        "dynamic-network-architectures>=0.4.4,<0.5",
        "SimpleITK>=2.2",
        "nibabel>=4",
        "batchgenerators>=0.25",
        "acvl-utils>=0.2",
        "numpy>=1.24",
        "scipy>=1.10",
        "matplotlib>=3.6",
        "tqdm>=4.60",
        "distributed",
    ],
    extras_require={
        # dask-cuda is not listed: it pins dask/distributed to exact versions and its resolver fallback
        # fails to build on machines without nvidia-smi (README, "Running a study on a cluster")
        "cluster": ["dask-jobqueue"],
        "test": ["pytest>=7", "dask-jobqueue"],
    },
    entry_points={"console_scripts": ["nnunet-t1t2 = nnunet_t1t2.cli:main"]},
)
