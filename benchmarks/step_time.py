"""Training-step time and peak memory of the networks, measured side by side in one run.

    python benchmarks/step_time.py                      # demo topology on the CPU
    python benchmarks/step_time.py --preset paper --device cuda

One step = zero_grad, forward, nnU-Net's deep-supervised Dice+CE loss, backward, optimizer step,
on a random batch of the preset's batch size and patch size; on a GPU as nnU-Net trains there, with
mixed precision (autocast, gradient scaling) and gradients clipped at norm 12. Reported ratios and
their targets:

* SEUNet / PlainConvUNet (same plans): SE overhead, target <= 1.3
* first half of the conv layers frozen / open fine-tuning (same SEUNet): target <= 0.85
* hybrid (each fusion) / SEUNet: target <= 1.6; peak memory of every fusion beside SEUNet's

Peak memory is what one step adds on top of the network, its optimizer and the batch: the CUDA
allocator's peak on a GPU; on the CPU (Linux) the peak resident set size, reset before the step.
"""
from __future__ import annotations

import argparse
import json
import gc
import subprocess
import sys
import time

import numpy as np
import torch
from dynamic_network_architectures.architectures.unet import PlainConvUNet
from nnunetv2.training.loss.compound_losses import DC_and_CE_loss
from nnunetv2.training.loss.deep_supervision import DeepSupervisionWrapper
from nnunetv2.training.loss.dice import MemoryEfficientSoftDiceLoss
from torch import nn

from nnunet_t1t2.networks.conv_layers import conv_layers_from_output, last_conv_layers
from nnunet_t1t2.networks.hybrid import HybridUNet
from nnunet_t1t2.networks.se_unet import SEUNet
from nnunet_t1t2.plans.presets import PRESETS
from nnunet_t1t2.training.freezing import freeze_all_but

NETWORKS = ("plain", "seunet", "frozen_half", "hybrid_concat", "hybrid_mul", "hybrid_avg", "hybrid_max")


def topology(preset: str) -> dict:
    t = PRESETS[preset]
    return dict(input_channels=1, n_stages=t.n_stages, conv_op=nn.Conv3d, kernel_sizes=3,
                features_per_stage=[min(t.base_features * 2 ** s, t.max_features) for s in range(t.n_stages)],
                strides=[1] + [2] * (t.n_stages - 1), n_conv_per_stage=t.convs_per_stage, num_classes=4,
                n_conv_per_stage_decoder=t.convs_per_stage, conv_bias=True, norm_op=nn.BatchNorm3d,
                norm_op_kwargs={"eps": 1e-5, "affine": True}, nonlin=nn.ReLU, nonlin_kwargs={"inplace": True},
                deep_supervision=True)


def build(name: str, preset: str) -> nn.Module:
    kwargs = topology(preset)
    if name == "plain":
        return PlainConvUNet(**kwargs)
    if name.startswith("hybrid_"):
        return HybridUNet(SEUNet(**kwargs), SEUNet(**kwargs), name.removeprefix("hybrid_"))
    network = SEUNet(**kwargs)
    if name == "frozen_half":
        n_layers = len(conv_layers_from_output(network))
        freeze_all_but(network, last_conv_layers(network, n_layers - n_layers // 2))
    return network


def step_function(name: str, preset: str, device: torch.device):
    torch.manual_seed(0)
    return training_step(build(name, preset).to(device).train(), preset, device)


def training_step(network: nn.Module, preset: str, device: torch.device):
    """One training step of ``network`` (on ``device``; plain or wrapped by ``torch.compile``) on a
    fixed random batch of the preset's size, with nnU-Net's loss and an SGD optimizer (``gpu_check.py``
    compiles the network it passes)."""
    t = PRESETS[preset]
    data = torch.randn(t.batch_size, 1, *t.patch_size, device=device)
    targets = [torch.randint(0, 4, (t.batch_size, 1, *[p // 2 ** i for p in t.patch_size]), device=device).float()
               for i in range(t.n_stages - 1)]
    weights = np.array([1 / 2 ** i for i in range(len(targets))])
    weights[-1] = 0
    loss = DeepSupervisionWrapper(DC_and_CE_loss({"batch_dice": False, "smooth": 1e-5, "do_bg": False}, {},
                                                 dice_class=MemoryEfficientSoftDiceLoss), weights / weights.sum())
    optimizer = torch.optim.SGD([p for p in network.parameters() if p.requires_grad], lr=1e-3, momentum=0.99)
    scaler = torch.amp.GradScaler("cuda") if device.type == "cuda" else None

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, enabled=scaler is not None):
            value = loss(network(data), targets)
        if scaler is None:
            value.backward()
            optimizer.step()
            return
        scaler.scale(value).backward()  # as nnU-Net's train_step on a GPU: mixed precision, gradients clipped
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(network.parameters(), 12)
        scaler.step(optimizer)
        scaler.update()
        torch.cuda.synchronize()

    return step


def median_step_seconds(name: str, preset: str, device: torch.device, repeats: int) -> float:
    step = step_function(name, preset, device)
    step()  # warm-up: allocator, cuDNN algorithm choice
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 1024


def peak_memory_mb(name: str, preset: str, device: torch.device, in_this_process: bool = False) -> float:
    """Peak memory of one step beyond what the network, optimizer and batch hold before it; on the
    CPU in a fresh process, so that memory freed by earlier measurements cannot hide a peak."""
    if device.type == "cpu" and not in_this_process:
        out = subprocess.run([sys.executable, __file__, "--preset", preset, "--peak-memory-of", name],
                             capture_output=True, encoding="utf-8", errors="replace", check=True)
        return float(out.stdout.strip().splitlines()[-1])
    return step_peak_memory_mb(step_function(name, preset, device), device)


def step_peak_memory_mb(step, device: torch.device) -> float:
    """What one call of ``step`` adds to the memory held before it (in MB)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        step()
        return (torch.cuda.max_memory_allocated() - before) / 2 ** 20
    with open("/proc/self/clear_refs", "w") as f:  # Linux: reset the peak resident set size to the current one
        f.write("5")
    before = _status_mb("VmRSS")
    step()
    return _status_mb("VmHWM") - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="demo", choices=sorted(PRESETS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--peak-memory-of", choices=NETWORKS, help=argparse.SUPPRESS)  # one CPU measurement
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.peak_memory_of:
        print(peak_memory_mb(args.peak_memory_of, args.preset, device, in_this_process=True))
        return

    seconds = {n: median_step_seconds(n, args.preset, device, args.repeats) for n in NETWORKS}
    memory = {n: peak_memory_mb(n, args.preset, device) for n in NETWORKS if n != "frozen_half"}
    ratios = {
        "seunet / plain (target <= 1.3)": seconds["seunet"] / seconds["plain"],
        "frozen first half / open (target <= 0.85)": seconds["frozen_half"] / seconds["seunet"],
        **{f"{n} / seunet (target <= 1.6)": seconds[n] / seconds["seunet"] for n in NETWORKS if "hybrid" in n},
    }
    t = PRESETS[args.preset]
    print(f"preset {args.preset}: batch {t.batch_size}, patch {t.patch_size}, device {device}, "
          f"median of {args.repeats} steps")
    print(f"{'network':<16}{'step [s]':>10}{'peak memory [MB]':>18}")
    for n in NETWORKS:
        print(f"{n:<16}{seconds[n]:>10.3f}{memory.get(n, float('nan')):>18.0f}")
    for what, ratio in ratios.items():
        print(f"{what:<48}{ratio:6.2f}")
    print(f"peak memory concat / mul: {memory['hybrid_concat'] / memory['hybrid_mul']:.2f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"seconds": seconds, "peak_memory_mb": memory, "ratios": ratios}, f, indent=2)


if __name__ == "__main__":
    main()
