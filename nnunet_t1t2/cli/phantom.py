"""``nnunet-t1t2 phantom``: write a seeded set of paired head phantoms (T1, some T2, CT, truth)."""
from __future__ import annotations

import argparse

HELP = "generate paired T1/T2/CT head phantoms with ground-truth bone, soft-tissue and air labels"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (one sub-folder per patient)")
    parser.add_argument("--n", type=int, required=True, metavar="N", help="number of patients")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="random seed [0]")
    parser.add_argument("--size", choices=("small", "paper"), default="small",
                        help="small: about 3 mm MR voxels, fast; paper: the paper's grids (MR 256x256x250, CT 512x512x150) [small]")
    parser.add_argument("--n-t2", type=int, default=None, metavar="K",
                        help="how many patients also get a T2 [round(0.28*N), at least 1]")
    parser.add_argument("--ct-dtype", choices=("int16", "uint16"), default="int16",
                        help="storage of the CT: int16 HU, or uint16 HU+1024 with the NIfTI rescale intercept -1024 [int16]")
    variation = parser.add_argument_group("variation", "heads and acquisitions unlike the default phantom's, "
                                          "for checking that a model or schedule is not tuned to it")
    variation.add_argument("--mr-voxel", type=float, metavar="MM",
                           help="in-plane MR voxel size in mm [the size's own: small 3, paper 0.86]")
    variation.add_argument("--slice-thickness", type=float, metavar="MM",
                           help="slice thickness of the MR (axial) in mm [the size's own: small 3.5, paper 1]")
    variation.add_argument("--skull-scale", type=float, default=1.0, metavar="F",
                           help="factor on every bone plate's thickness, the size's floor on it included [1]")
    variation.add_argument("--table-scale", type=float, default=1.0, metavar="F",
                           help="factor on the skull's cortical tables: below 1 a wider diploe between thinner tables [1]")
    variation.add_argument("--marrow-t1-contrast", type=float, default=1.0, metavar="F",
                           help="marrow's T1 signal above cortical bone's, relative: below 1 marrow looks more like bone [1]")
    variation.add_argument("--noise-scale", type=float, default=1.0, metavar="F", help="factor on the MR noise [1]")
    variation.add_argument("--bias-scale", type=float, default=1.0, metavar="F",
                           help="factor on the MR bias field's strength [1]")
    variation.add_argument("--head-scale", type=float, default=1.0, metavar="F",
                           help="factor on head size; the fields of view follow it [1]")
    variation.add_argument("--cushion", action="store_true",
                           help="a moulded cushion (-400 to -100 HU) under the back of the head, touching it, on the CT only")
    variation.add_argument("--thermoplastic-mask", action="store_true",
                           help="a thermoplastic mask (+100 to +300 HU) over the face and front of the head, on the CT only")
    parser.add_argument("--overwrite", action="store_true", help="replace the phantom in a non-empty output folder")


def run(args: argparse.Namespace) -> int:
    from nnunet_t1t2.phantom import PhantomVariation, generate_phantom

    variation = PhantomVariation(mr_voxel_mm=args.mr_voxel, slice_mm=args.slice_thickness,
                                 skull_scale=args.skull_scale, table_scale=args.table_scale,
                                 marrow_t1_contrast=args.marrow_t1_contrast, noise_scale=args.noise_scale,
                                 bias_scale=args.bias_scale, head_scale=args.head_scale, cushion=args.cushion,
                                 thermoplastic_mask=args.thermoplastic_mask)
    folders = generate_phantom(args.out, args.n, seed=args.seed, size=args.size, n_t2=args.n_t2,
                               overwrite=args.overwrite, ct_dtype=args.ct_dtype, progress=print,
                               variation=variation)
    print(f"wrote {len(folders)} patients to {args.out}")
    return 0
