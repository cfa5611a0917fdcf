"""nnunet-t1t2: T1-to-T2 transfer learning for head MR segmentation, as an nnU-Net v2 plugin.

`trainers/`, `plans/` and `dataset_conversion/` live at the top of the repository (the design card's
layout); `nnunet_t1t2/trainers` etc. are committed relative symlinks to them, so the one import path
`nnunet_t1t2.trainers` works from a source checkout, an editable install and a wheel (which holds
real copies). The wheel also carries `nnunet_t1t2-trainers.pth` at its root, through which stock
nnU-Net finds the trainers (nnunet_t1t2/discovery.py).
"""
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

DISCOVERY_PTH = "nnunet_t1t2-trainers.pth"


class build_py_with_pth(build_py):
    """Also put the discovery .pth at the root of the wheel, hence of site-packages (the way setuptools
    ships its distutils-precedence.pth); `pip uninstall` removes it with the rest. A wheel's root is
    build_lib; an editable wheel discards build_lib and packs install_lib instead."""

    def run(self) -> None:
        super().run()
        root = self.get_finalized_command("install").install_lib if self.editable_mode else self.build_lib
        self.copy_file(DISCOVERY_PTH, str(Path(root) / DISCOVERY_PTH), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        return outputs if self.editable_mode else [*outputs, str(Path(self.build_lib) / DISCOVERY_PTH)]


setup(
    name="nnunet-t1t2",
    version="0.1.0",
    description="Transfer nnU-Net head segmentation (bone, soft tissue, air) from T1- to T2-weighted MR",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["nnunet_t1t2", "nnunet_t1t2.*"]),
    package_data={"nnunet_t1t2": ["nnunet_ext_trainer/*.py"], "nnunet_t1t2.plans": ["*.json"]},
    cmdclass={"build_py": build_py_with_pth},
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
        # dask-cuda is not listed: it pins dask and distributed to exact versions (rapids-dask-dependency)
        # and pip's fallback to older releases fails to build without nvidia-smi; on GPU nodes a user
        # installs a dask-cuda matching the installed distributed
        # cryptography: the TLS credentials made for each study that runs batch jobs
        "cluster": ["dask-jobqueue", "cryptography"],
        "test": ["pytest>=7", "pytest-xdist>=3", "filelock", "dask-jobqueue", "cryptography", "psutil"],
    },
    entry_points={"console_scripts": ["nnunet-t1t2 = nnunet_t1t2.cli:main"]},
)
