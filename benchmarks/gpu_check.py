"""What a GPU changes, measured in one command of at most 8 minutes: made to run whenever a GPU is lent.

On a GPU machine, from the repository root (``gpu_check.sh`` sets up ``.venv`` with
``pip install ".[test]"`` first, about a minute where a registry is reachable, and keeps the
machine's own CUDA build of torch):

    sh benchmarks/gpu_check.sh         # then commit benchmarks/results/gpu_check.json
    python benchmarks/gpu_check.py --device cuda [--budget 480]          # in a ready environment
    python benchmarks/gpu_check.py --device cpu --quick --results /tmp/check   # the same parts, tiny

Three parts, each guarded: one that fails is recorded with its error and the others still run.
``--budget`` (480 s) bounds them together: no network is compiled once 40% of it is spent, and
the study is stopped 60 s before its end, keeping what finished, so that the prediction still runs.

1. **Step time and peak memory** (:mod:`step_time`'s networks and training step, the paper
   preset's topology, its batch and patch, mixed precision as nnU-Net trains on a GPU):
   PlainConvUNet, SEUNet, SEUNet with the first half of its conv layers frozen, the hybrid with
   multiplication; each eager and under ``torch.compile``, after warm-up, synchronised; peak
   memory is what a step adds (``torch.cuda.max_memory_allocated``, reset before it). The frozen
   network's frozen parameters and batch-norm statistics are compared bitwise before and after
   the steps (held in eval mode as the trainers hold them), and its trainable ones must have moved.
2. **A short paper-preset study** through the real command, ``nnunet-t1t2 study --preset paper
   --strategies no-ft hybrid-mul --folds 0 --device cuda --accept-unlearned-source`` with a few
   epochs per training (``NNUNET_T1T2_EPOCHS`` / ``_ITERATIONS`` / ``_VAL_ITERATIONS``), on 6
   phantom patients of the paper's image size (4 with T2: the fewest the paper's 3-fold split
   allows; the built-in ``--data phantom`` of the paper preset is 50 of them, hours of conversion).
   ``--compare-with 0`` leaves out the registration check's comparison with other patients' CTs:
   it is CPU work, measured by ``benchmarks/conversion.py``. The phantom is drawn by processes of
   its own while part 1 runs (GPU-bound steps lose little to it, the check a minute or more); its
   time counts from the start of the command. The study's wall time and every step's duration
   (``OUT/study_state.json``) are recorded.
3. **Prediction time per paper-size case**: nnU-Net's ``nnUNetPredictor`` with the study's T1
   source model, the paper's sliding window (step 0.5) and test-time mirroring, on each test image
   of the study (the first one twice: its first prediction includes cuDNN's algorithm search).

``--quick`` shrinks every part (the demo topology for the steps and the study's plans, one timed
step, only the frozen network compiled and by dynamo with AOT autograd, the small phantom, 1 epoch
of 2 iterations, no test-time mirroring) so that a test can run it on the CPU; its results are a
check of the script, not measurements. Results go to ``--results`` (``benchmarks/results/`` by
default) as ``gpu_check.json`` (``gpu_check_quick.json`` with ``--quick``), with date, commit,
machine, device, versions and the settings.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass
from importlib.metadata import version
from multiprocessing import get_context
from pathlib import Path
from statistics import median
from typing import Callable

import SimpleITK as sitk
import torch
from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

from nnunet_t1t2.conversion.pipeline import default_name
from nnunet_t1t2.phantom import PhantomVariation
from nnunet_t1t2.phantom.generate import choose_t2_patients
from nnunet_t1t2.phantom.patient import simulate_patient
from nnunet_t1t2.phantom.sizes import SIZES, varied_size
from nnunet_t1t2.phantom.writer import write_patient
from nnunet_t1t2.study.layout import StudyLayout, source_model
from nnunet_t1t2.study.protocol import make_protocol
from nnunet_t1t2.training.freezing import frozen_modules, hold_frozen_modules_in_eval

from provenance import machine, provenance
from step_time import build, step_peak_memory_mb, training_step

NETWORKS = ("plain", "seunet", "frozen_half", "hybrid_mul")
#: Ratios of step time and of peak memory, each eager and compiled: (numerator, denominator).
RATIOS = {"seunet / plain": ("seunet", "plain"), "hybrid_mul / seunet": ("hybrid_mul", "seunet"),
          "frozen_half / seunet": ("frozen_half", "seunet")}
STRATEGIES = ("no-ft", "hybrid-mul")
RESULTS = Path(__file__).resolve().parent / "results"
#: Seconds kept back from the study for the prediction part.
PREDICTION_RESERVE_S = 60
#: The share of the budget after which the step part compiles no further network (inductor takes
#: a minute or so for each on a GPU machine's CPU): the rest is the study's and the prediction's.
STEP_SHARE = 0.4


@dataclass(frozen=True)
class Settings:
    step_preset: str
    """The topology, batch and patch of the step-time part (a preset of ``nnunet-t1t2 plans``)."""
    warmup_steps: int
    timed_steps: int
    compiled_networks: tuple[str, ...]
    compile_backend: str
    plans: str
    """The study's ``--plans``."""
    phantom_size: str
    patients: int
    t2_patients: int
    schedule: dict[str, str]
    test_time_mirroring: bool
    budget_s: float = 480
    """Seconds the whole command may take: no network is compiled after :data:`STEP_SHARE` of them,
    and the study is stopped in time for the prediction part."""


#: Compiled in this order (the frozen network's check first) until the step part's share of the budget is spent.
GPU = Settings(step_preset="paper", warmup_steps=3, timed_steps=10,
               compiled_networks=("frozen_half", "seunet", "plain", "hybrid_mul"),
               compile_backend="inductor", plans="paper", phantom_size="paper", patients=6, t2_patients=4,
               schedule={"NNUNET_T1T2_EPOCHS": "3", "NNUNET_T1T2_ITERATIONS": "10",
                         "NNUNET_T1T2_VAL_ITERATIONS": "2"},
               test_time_mirroring=True)
#: On the CPU, inductor takes minutes to compile each network and dynamo with AOT autograd (which
#: decides what a compiled step writes) about a minute: only the frozen network is compiled, there.
QUICK = Settings(step_preset="demo", warmup_steps=1, timed_steps=1, compiled_networks=("frozen_half",),
                 compile_backend="aot_eager", plans="demo", phantom_size="small", patients=6, t2_patients=4,
                 schedule={"NNUNET_T1T2_EPOCHS": "1", "NNUNET_T1T2_ITERATIONS": "2", "NNUNET_T1T2_VAL_ITERATIONS": "1",
                           "NNUNET_T1T2_MIRRORING": "0"},
                 test_time_mirroring=False, budget_s=1800)  # a CPU shared with other work: no stop


# --- 1. step time and peak memory -------------------------------------------------------------------------

def frozen_state(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Copies of the frozen modules' parameters and buffers (batch-norm statistics)."""
    state = {}
    for name in frozen_modules(network):
        module = network.get_submodule(name)
        state.update({k: v.detach().clone() for k, v in [*module.named_parameters(name), *module.named_buffers(name)]})
    return state


def measure_network(name: str, settings: Settings, device: torch.device, compiled: bool) -> dict:
    """Median step time, the first step's time (with compilation) and peak memory of one network;
    for a partly frozen one also whether its frozen part stayed bitwise the same."""
    torch.manual_seed(0)
    network = build(name, settings.step_preset).to(device).train()
    hold_frozen_modules_in_eval(network)  # as the fine-tuning trainers do after every network.train()
    frozen_before = frozen_state(network)
    trainable_before = {k: p.detach().clone() for k, p in network.named_parameters() if p.requires_grad}
    model = torch.compile(network, backend=settings.compile_backend) if compiled else network
    step = training_step(model, settings.step_preset, device)
    started = time.perf_counter()
    step()
    first = time.perf_counter() - started
    for _ in range(settings.warmup_steps - 1):
        step()
    peak = step_peak_memory_mb(step, device)
    seconds = []
    for _ in range(settings.timed_steps):
        started = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - started)
    result = {"step_seconds": median(seconds), "timed_steps_seconds": seconds, "first_step_seconds": first,
              "peak_memory_mb": peak}
    if frozen_before:
        after = dict(network.named_parameters()) | dict(network.named_buffers())
        result["frozen_tensors"] = len(frozen_before)
        result["frozen_bitwise_unchanged"] = all(torch.equal(v, after[k]) for k, v in frozen_before.items())
        result["trainable_changed"] = any(not torch.equal(v, after[k]) for k, v in trainable_before.items())
    return result


def known_ratios(pairs: dict[str, tuple[dict | None, dict | None]], quantity: str) -> dict[str, float]:
    """``quantity`` of a over b for each pair of measurements, where both were made (and b is not 0:
    a CPU's peak memory of a step can read 0)."""
    return {what: a[quantity] / b[quantity] for what, (a, b) in pairs.items() if a and b and b[quantity] > 0}


def step_part(settings: Settings, device: torch.device, compile_until: float, record: dict) -> None:
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as nnU-Net's training sets it
    errors = {}
    for mode in ("eager", "compiled"):
        record[mode] = {}
        for name in settings.compiled_networks if mode == "compiled" else NETWORKS:
            if mode == "compiled" and time.time() > compile_until:
                errors[f"{mode} {name}"] = "not measured: the step part's share of the budget was spent"
                continue
            try:
                record[mode][name] = measure_network(name, settings, device, compiled=mode == "compiled")
                print(f"{mode} {name}: {record[mode][name]['step_seconds']:.4f} s per step", flush=True)
            except Exception as e:  # one network that does not compile must not hide the others
                errors[f"{mode} {name}"] = f"{type(e).__name__}: {e}"
            gc.collect()
            torch._dynamo.reset()
            if device.type == "cuda":
                torch.cuda.empty_cache()
    table = {}
    for quantity in ("step_seconds", "peak_memory_mb"):
        for mode in ("eager", "compiled"):
            table[f"{quantity} {mode}"] = known_ratios(
                {what: (record[mode].get(a), record[mode].get(b)) for what, (a, b) in RATIOS.items()}, quantity)
        table[f"{quantity} compiled / eager"] = known_ratios(
            {n: (record["compiled"].get(n), record["eager"].get(n)) for n in NETWORKS}, quantity)
    record["ratios"] = {what: values for what, values in table.items() if values}  # only ratios of networks both measured
    if errors:
        raise RuntimeError("; ".join(f"{k}: {v}" for k, v in errors.items()))
    if not all(r["frozen_bitwise_unchanged"] and r["trainable_changed"]
               for mode in ("eager", "compiled") for r in record[mode].values() if "frozen_tensors" in r):
        raise AssertionError("frozen weights changed, or trainable ones did not, in a half-frozen training step")


def print_steps(record: dict) -> None:
    print(f"{'network':<14}{'mode':<10}{'step [s]':>10}{'first step [s]':>16}{'peak memory [MB]':>18}")
    for name in NETWORKS:
        for mode in ("eager", "compiled"):
            if name in record.get(mode, {}):
                r = record[mode][name]
                print(f"{name:<14}{mode:<10}{r['step_seconds']:>10.4f}{r['first_step_seconds']:>16.2f}"
                      f"{r['peak_memory_mb']:>18.0f}")
    print(f"{'ratio':<22}{'step eager':>12}{'step compiled':>15}{'memory eager':>14}{'memory compiled':>17}")
    table = record.get("ratios", {})
    for what in RATIOS:
        values = [table.get(f"{q} {m}", {}).get(what, float("nan"))
                  for q in ("step_seconds", "peak_memory_mb") for m in ("eager", "compiled")]
        print(f"{what:<22}" + "".join(f"{v:>{w}.2f}" for v, w in zip(values, (12, 15, 14, 17))))
    for name, value in table.get("step_seconds compiled / eager", {}).items():
        memory = table.get("peak_memory_mb compiled / eager", {}).get(name, float("nan"))
        print(f"compiled / eager {name:<14} step {value:.2f}, peak memory {memory:.2f}")


# --- 2. a short paper-preset study ------------------------------------------------------------------------

def _write_phantom_patient(out: Path, index: int, size: str, has_t2: bool) -> None:
    write_patient(patient := simulate_patient(0, index, varied_size(SIZES[size], PhantomVariation()), has_t2),
                  out / patient.patient_id)


def start_phantom(pool: ProcessPoolExecutor, out: Path, settings: Settings) -> list[Future]:
    """Start drawing the patients of ``nnunet-t1t2 phantom --out OUT --n N --n-t2 K --size SIZE`` (the
    same files), each in a process of ``pool``: one paper-size patient takes half a minute and more."""
    out.mkdir(parents=True)
    with_t2 = set(choose_t2_patients(0, settings.patients, settings.t2_patients))
    return [pool.submit(_write_phantom_patient, out, i, settings.phantom_size, i in with_t2)
            for i in range(settings.patients)]


def study_command(data: Path, out: Path, plans: str, device: str) -> list[str]:
    return [str(Path(sys.executable).parent / "nnunet-t1t2"), "study", "--data", str(data), "--out", str(out),
            "--layout", "paired", "--preset", "paper", "--plans", plans, "--strategies", *STRATEGIES, "--folds", "0",
            "--t2-train-sizes", "all",
            "--device", device, "--accept-unlearned-source", "--compare-with", "0"]


def run_until(command: list[str], environment: dict[str, str], log: Path, timeout: float) -> int:
    """Run ``command`` into ``log``; past ``timeout`` seconds stop it (SIGTERM, which the study
    passes on to its commands, then SIGKILL) and raise TimeoutError."""
    with open(log, "w", encoding="utf-8") as stream:
        process = subprocess.Popen(command, env=environment, stdout=stream, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            return process.wait(timeout=max(timeout, 1))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            raise TimeoutError(f"stopped after {timeout:.0f} s, the time left in the check's budget") from None


def study_part(settings: Settings, device: torch.device, work: Path, phantom: list[Future], phantom_started: float,
               deadline: float, record: dict) -> None:
    data, out = work / "phantom", work / "study"
    for patient in phantom:
        patient.result()
    record["phantom"] = {"size": settings.phantom_size, "patients": settings.patients,
                         "t2_patients": settings.t2_patients, "seconds": time.perf_counter() - phantom_started}
    command = study_command(data, out, settings.plans, device.type)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("nnUNet_", "NNUNET_T1T2_"))}
    environment |= settings.schedule
    record["command"] = " ".join(f"{k}={v}" for k, v in settings.schedule.items()) + " " + shlex.join(command)
    out.mkdir()
    started = time.perf_counter()
    try:
        status = run_until(command, environment, work / "study.log", deadline - PREDICTION_RESERVE_S - time.time())
    finally:
        record["study_seconds"] = time.perf_counter() - started
        if (out / "study_state.json").is_file():
            steps = json.loads((out / "study_state.json").read_text(encoding="utf-8"))["steps"]
            record["steps_seconds"] = {key: step["seconds"] for key, step in steps.items()}
    if status != 0:
        tail = (work / "study.log").read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        raise RuntimeError(f"the study exited with status {status}:\n" + "\n".join(tail))


# --- 3. prediction time per case --------------------------------------------------------------------------

def prediction_part(settings: Settings, device: torch.device, work: Path, record: dict) -> None:
    protocol = make_protocol("paper", plans=settings.plans, environ={})
    layout = StudyLayout(work / "study", default_name(work / "phantom"), protocol.plans_name)
    model = layout.fold_folder(source_model(protocol, seed=0))
    if not (model / "checkpoint_final.pth").is_file():
        raise FileNotFoundError(f"no trained T1 source model in {model}: the study did not get that far")
    cases = sorted(p for kind in ("T1", "T2") for p in layout.test_images(kind).glob("*_0000.nii.gz"))
    if not cases:
        raise FileNotFoundError(f"no test images in {layout.test_images('T1')} or {layout.test_images('T2')}")
    predictor = nnUNetPredictor(tile_step_size=protocol.prediction_step_size, use_mirroring=settings.test_time_mirroring,
                                device=device, allow_tqdm=False)
    started = time.perf_counter()
    predictor.initialize_from_trained_model_folder(str(model.parent), use_folds=(model.name.removeprefix("fold_"),))
    record |= {"model": str(model.relative_to(work)), "load_seconds": time.perf_counter() - started,
               "tile_step_size": protocol.prediction_step_size, "test_time_mirroring": settings.test_time_mirroring,
               "cases": []}
    for case in [cases[0], *cases]:  # the first prediction includes cuDNN's algorithm search
        dataset = case.parent.parent.name
        (work / "predictions" / dataset).mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        predictor.predict_from_files_sequential(
            [[str(case)]], [str(work / "predictions" / dataset / case.name.removesuffix("_0000.nii.gz"))])
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(case))
        reader.ReadImageInformation()
        record["cases"].append({"case": f"{dataset}/{case.name}", "size": list(reader.GetSize()), "seconds": seconds})
    record["seconds_per_case"] = median(c["seconds"] for c in record["cases"][1:])


# --- the command ------------------------------------------------------------------------------------------

def guarded(name: str, part: Callable[[dict], None]) -> dict:
    """Run one part into its record; a failure is recorded (status, error, traceback), not raised."""
    record: dict = {}
    started = time.perf_counter()
    try:
        part(record)
        record["status"] = "ok"
    except Exception as e:
        record |= {"status": "failed", "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
        print(f"{name} failed: {type(e).__name__}: {e}", file=sys.stderr)
    record["seconds"] = time.perf_counter() - started
    return record


def cpu_name() -> str:
    """The processor's model name (Linux), else what the platform calls it."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def where_and_what(device: torch.device) -> dict:
    """Provenance (the commit from git, else ``$GPU_CHECK_COMMIT``), the device and the versions."""
    try:
        where = provenance()
    except (subprocess.CalledProcessError, FileNotFoundError):  # a copy of the tree without git
        where = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "commit": os.environ.get("GPU_CHECK_COMMIT", "unknown"),
                 "machine": machine(), "load_1min": os.getloadavg()[0]}
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    return where | {"device": {"type": device.type, "name": name},
                    "versions": {"torch": torch.__version__, "cuda": torch.version.cuda or "none",
                                 **{p: version(p) for p in ("nnunetv2", "dynamic_network_architectures", "nnunet-t1t2")}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a check of the script, not a measurement")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the results file [%(default)s]")
    parser.add_argument("--budget", type=float, metavar="SECONDS",
                        help=f"most seconds for all parts [{GPU.budget_s:.0f}; --quick {QUICK.budget_s:.0f}]")
    parser.add_argument("--work", type=Path, help="folder for the phantom, the study and the predictions, kept "
                                                  "afterwards [a temporary folder, removed]")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no GPU here (torch.cuda.is_available() is False)")
    settings = QUICK if args.quick else GPU
    budget = args.budget or settings.budget_s
    started = time.perf_counter()
    deadline = time.time() + budget
    results = where_and_what(device) | {"quick": args.quick, "settings": asdict(settings), "budget_s": budget}
    with (tempfile.TemporaryDirectory(prefix="gpu_check_") as temporary,
          ProcessPoolExecutor(min(settings.patients, os.cpu_count() or 1), get_context("spawn")) as pool):
        work = args.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        phantom = start_phantom(pool, work / "phantom", settings)  # drawn on the CPU while the GPU steps
        compile_until = time.time() + STEP_SHARE * budget
        results["steps"] = guarded("step time", lambda r: step_part(settings, device, compile_until, r))
        print_steps(results["steps"])
        results["study"] = guarded("study", lambda r: study_part(settings, device, work, phantom, started, deadline, r))
        results["prediction"] = guarded("prediction", lambda r: prediction_part(settings, device, work, r))
    results["wall_seconds"] = time.perf_counter() - started
    study, prediction = results["study"], results["prediction"]
    print(f"study: {study.get('study_seconds', float('nan')):.0f} s wall ({study['status']}), phantom "
          f"{study.get('phantom', {}).get('seconds', float('nan')):.0f} s; steps [s]: "
          + ", ".join(f"{k} {v}" for k, v in study.get("steps_seconds", {}).items()))
    print(f"prediction: {prediction.get('seconds_per_case', float('nan')):.1f} s per case ({prediction['status']})")
    args.results.mkdir(parents=True, exist_ok=True)
    target = args.results / f"gpu_check{'_quick' if args.quick else ''}.json"
    target.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"all parts {results['wall_seconds']:.0f} s; results in {target}")
    failed = [p for p in ("steps", "study", "prediction") if results[p]["status"] != "ok"]
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)} (errors in {target})")


if __name__ == "__main__":
    main()
