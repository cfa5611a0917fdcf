"""The published results of Mecheter et al. (T1-w to T2-w transfer), Tables 3 to 9, for reference
beside ours.

Transcribed from an OCR'd copy of the paper and checked row by row against the relations
DSC = 2 PRE REC / (PRE + REC) and JSC = DSC / (2 - DSC), against the fold averages, and across
tables (Tables 6 to 8 repeat rows of Tables 3 to 5). Where the paper itself is inconsistent the
printed value is kept and :data:`NOTES` says so. Every row lists PRE, REC, DSC, JSC for bone, soft
tissue and air, in the paper's column order; the paper's air includes the air around the head.
All values are on the T2 test patients except Table 9's T1 rows.
"""
from __future__ import annotations

from dataclasses import dataclass

PAPER_CLASSES = ("bone", "soft_tissue", "air")
PAPER_METRICS = ("PRE", "REC", "DSC", "JSC")
CITATION = "Mecheter et al., transfer learning from T1-w to T2-w MR"


@dataclass(frozen=True)
class PaperRow:
    strategy: str
    """Our strategy key (``source``/``augmentation`` for Table 9's models)."""
    fold: str
    """"1", "2", "3", "avg", or "" for a row without folds."""
    values: dict[str, dict[str, float]]
    """class -> metric -> value."""
    half_widths: dict[str, dict[str, float]] | None = None
    """The published ± of each value, where the paper gives one."""


def _by_class(numbers: str) -> dict[str, dict[str, float]]:
    values = [float(v) for v in numbers.replace("|", " ").split()]
    if len(values) != len(PAPER_CLASSES) * len(PAPER_METRICS):
        raise ValueError(f"a paper row needs 12 numbers, got {len(values)}: {numbers}")
    return {c: dict(zip(PAPER_METRICS, values[4 * i:4 * i + 4])) for i, c in enumerate(PAPER_CLASSES)}


def _row(strategy: str, fold: str, numbers: str, half_widths: str | None = None) -> PaperRow:
    return PaperRow(strategy, fold, _by_class(numbers), _by_class(half_widths) if half_widths else None)


def _folds(strategy: str, *rows: str) -> list[PaperRow]:
    """Rows for folds 1, 2, 3 and their average."""
    return [_row(strategy, fold, numbers) for fold, numbers in zip(("1", "2", "3", "avg"), rows, strict=True)]


#: Tables 3 (no fine-tuning, open), 4 (conservative) and 5 (hybrid): per fold and average.
FOLD_TABLES: dict[int, list[PaperRow]] = {
    3: [
        _row("no-ft", "", "0.5223 0.3038 0.3841 0.2377 | 0.8445 0.8484 0.8464 0.7338 | 0.9184 0.9481 0.9330 0.8744"),
        *_folds("open",
                "0.6913 0.4494 0.5447 0.3743 | 0.7615 0.8950 0.8229 0.6990 | 0.9292 0.8612 0.8939 0.8082",
                "0.6837 0.4043 0.5081 0.3406 | 0.7597 0.8988 0.8234 0.6999 | 0.9295 0.8620 0.8945 0.8091",
                "0.6980 0.3819 0.4937 0.3277 | 0.7460 0.8986 0.8152 0.6881 | 0.9275 0.8518 0.8880 0.7986",
                "0.6910 0.4119 0.5155 0.3475 | 0.7558 0.8975 0.8205 0.6957 | 0.9287 0.8584 0.8922 0.8053"),
    ],
    4: [
        *_folds("fc",
                "0.5105 0.2700 0.3532 0.2145 | 0.7411 0.8627 0.7973 0.6629 | 0.9141 0.8630 0.8878 0.7983",
                "0.5114 0.2687 0.3523 0.2138 | 0.7409 0.8632 0.7974 0.6631 | 0.9143 0.8629 0.8879 0.7984",
                "0.5115 0.2685 0.3522 0.2137 | 0.7409 0.8633 0.7974 0.6631 | 0.9144 0.8629 0.8879 0.7984",
                "0.5111 0.2691 0.3526 0.2140 | 0.7410 0.8631 0.7974 0.6630 | 0.9143 0.8629 0.8879 0.7983"),
        *_folds("ft3",
                "0.5642 0.3018 0.3932 0.3932 | 0.7433 0.8979 0.8133 0.6853 | 0.9331 0.8561 0.8929 0.8066",
                "0.6315 0.2210 0.3274 0.1957 | 0.7335 0.9117 0.8129 0.6848 | 0.9366 0.8551 0.8940 0.8082",
                "0.6395 0.2801 0.3896 0.2419 | 0.7424 0.9010 0.8140 0.6864 | 0.9318 0.8596 0.8943 0.8087",
                "0.6117 0.2676 0.3701 0.2770 | 0.7397 0.9035 0.8134 0.6855 | 0.9338 0.8569 0.8937 0.8079"),
        *_folds("ft6",
                "0.7063 0.2946 0.4158 0.2624 | 0.7434 0.9122 0.8192 0.6938 | 0.9370 0.8587 0.8961 0.8118",
                "0.6762 0.2894 0.4053 0.2542 | 0.7401 0.9113 0.8169 0.6904 | 0.9361 0.8547 0.8936 0.8076",
                "0.6702 0.3417 0.4526 0.2925 | 0.7478 0.9044 0.8187 0.6930 | 0.9331 0.8574 0.8937 0.8077",
                "0.6842 0.3086 0.4246 0.2697 | 0.7438 0.9093 0.8182 0.6924 | 0.9354 0.8569 0.8944 0.8090"),
        *_folds("ft9",
                "0.6687 0.4124 0.5102 0.3424 | 0.7559 0.8986 0.8211 0.6965 | 0.9316 0.8587 0.8937 0.8078",
                "0.7107 0.2645 0.3855 0.2388 | 0.7393 0.9147 0.8177 0.6916 | 0.9368 0.8565 0.8949 0.8097",
                "0.6786 0.3157 0.4309 0.2746 | 0.7463 0.9085 0.8195 0.6942 | 0.9325 0.8561 0.8926 0.8061",
                "0.6860 0.3309 0.4422 0.2853 | 0.7472 0.9073 0.8194 0.6941 | 0.9336 0.8571 0.8937 0.8070"),
        *_folds("ft12",
                "0.6135 0.3234 0.4235 0.2686 | 0.7492 0.8963 0.8162 0.6894 | 0.9278 0.8583 0.8917 0.8045",
                "0.6027 0.3527 0.4450 0.2862 | 0.7516 0.8882 0.8142 0.6866 | 0.9243 0.8583 0.8901 0.8019",
                "0.6218 0.3156 0.4187 0.2648 | 0.7480 0.8972 0.8158 0.6890 | 0.9273 0.8577 0.8911 0.8037",
                "0.6127 0.3306 0.4291 0.2732 | 0.7496 0.8939 0.8154 0.6883 | 0.9264 0.8581 0.8910 0.8034"),
        *_folds("ft15",
                "0.7147 0.3313 0.4527 0.2926 | 0.7488 0.9075 0.8205 0.6957 | 0.9333 0.8599 0.8951 0.8101",
                "0.7066 0.3214 0.4418 0.2835 | 0.7455 0.9091 0.8192 0.6938 | 0.9327 0.8560 0.8927 0.8062",
                "0.6657 0.3592 0.4667 0.3043 | 0.7507 0.8971 0.8174 0.6912 | 0.9287 0.8588 0.8924 0.8056",
                "0.6957 0.3373 0.4537 0.2935 | 0.7483 0.9046 0.8190 0.6935 | 0.9316 0.8582 0.8934 0.8073"),
        *_folds("ft18",
                "0.7343 0.3500 0.4740 0.3106 | 0.7504 0.9092 0.8222 0.6981 | 0.9339 0.8596 0.8952 0.8103",
                "0.6864 0.3624 0.4743 0.3109 | 0.7485 0.9034 0.8187 0.6930 | 0.9302 0.8546 0.8908 0.8031",
                "0.6956 0.3558 0.4708 0.3078 | 0.7494 0.9049 0.8199 0.6947 | 0.9313 0.8567 0.8924 0.8058",
                "0.7055 0.3560 0.4730 0.3098 | 0.7494 0.9059 0.8202 0.6953 | 0.9318 0.8569 0.8928 0.8064"),
    ],
    5: [
        *_folds("hybrid-concat",
                "0.7057 0.4308 0.5350 0.3652 | 0.7423 0.8965 0.8122 0.6837 | 0.9259 0.8436 0.8828 0.7902",
                "0.6761 0.2122 0.3230 0.1926 | 0.7346 0.9042 0.9042 0.6816 | 0.9301 0.8587 0.8930 0.8067",
                "0.7026 0.3925 0.5036 0.3366 | 0.7335 0.8995 0.8081 0.6780 | 0.9268 0.8384 0.8804 0.7863",
                "0.6948 0.3451 0.4539 0.2981 | 0.7368 0.9001 0.8415 0.6811 | 0.9276 0.8469 0.8854 0.7944"),
        *_folds("hybrid-mul",
                "0.5471 0.6018 0.5731 0.4017 | 0.7850 0.8254 0.8047 0.6732 | 0.9065 0.8710 0.8884 0.7992",
                "0.3990 0.6340 0.4897 0.3243 | 0.7855 0.8006 0.7930 0.6570 | 0.9058 0.8489 0.8764 0.7800",
                "0.5420 0.5685 0.5549 0.3840 | 0.7794 0.8239 0.8010 0.6681 | 0.9035 0.8691 0.8860 0.7953",
                "0.4960 0.6014 0.5393 0.3700 | 0.7833 0.8166 0.7996 0.6661 | 0.9053 0.8630 0.8836 0.7915"),
        *_folds("hybrid-avg",
                "0.6769 0.4945 0.5715 0.4001 | 0.7637 0.8912 0.8225 0.6986 | 0.9293 0.8594 0.8930 0.8066",
                "0.5972 0.4784 0.5312 0.3617 | 0.7672 0.8459 0.8047 0.6732 | 0.9071 0.8678 0.8870 0.7969",
                "0.6804 0.3997 0.5036 0.3366 | 0.7434 0.8973 0.8131 0.6851 | 0.9271 0.8469 0.8852 0.7941",
                "0.6515 0.4576 0.5355 0.3661 | 0.7581 0.8781 0.8134 0.6856 | 0.9212 0.8580 0.8884 0.7992"),
        *_folds("hybrid-max",
                "0.6723 0.4906 0.5673 0.3959 | 0.7553 0.8904 0.8173 0.6911 | 0.9275 0.8512 0.8877 0.7981",
                "0.6284 0.4087 0.4953 0.3292 | 0.7550 0.8773 0.8116 0.6829 | 0.9234 0.8630 0.8922 0.8053",
                "0.6793 0.4146 0.5149 0.3467 | 0.7461 0.8998 0.8158 0.6889 | 0.9293 0.8475 0.8865 0.7962",
                "0.6600 0.4380 0.5258 0.3573 | 0.7521 0.8892 0.8149 0.6876 | 0.9267 0.8539 0.8888 0.7999"),
    ],
}


@dataclass(frozen=True)
class ComparisonRow:
    strategy: str
    values: dict[str, float]
    half_widths: dict[str, float]


def _comparison(strategy: str, values: str, half_widths: str) -> ComparisonRow:
    return ComparisonRow(strategy, dict(zip(PAPER_METRICS, map(float, values.split()), strict=True)),
                         dict(zip(PAPER_METRICS, map(float, half_widths.split()), strict=True)))


#: Tables 6 (bone), 7 (soft tissue) and 8 (air): the best of each approach, values ± 95 % CI.
COMPARISON_TABLES: dict[str, tuple[int, list[ComparisonRow]]] = {
    "bone": (6, [
        _comparison("no-ft", "0.5223 0.3038 0.3841 0.2377", "0.0007 0.0006 0.0006 0.0006"),
        _comparison("open", "0.6910 0.4119 0.5155 0.3475", "0.0006 0.0006 0.0007 0.0006"),
        _comparison("ft18", "0.7055 0.3560 0.4730 0.3098", "0.0006 0.0006 0.0007 0.0006"),
        _comparison("hybrid-mul", "0.4960 0.6014 0.5393 0.3700", "0.0007 0.0006 0.0007 0.0006"),
    ]),
    "soft_tissue": (7, [
        _comparison("no-ft", "0.8445 0.8484 0.8464 0.7338", "0.0002 0.0002 0.0002 0.0002"),
        _comparison("open", "0.7558 0.8975 0.8205 0.6957", "0.0002 0.0001 0.0002 0.0002"),
        _comparison("ft18", "0.7494 0.9059 0.8202 0.6953", "0.0002 0.0001 0.0002 0.0002"),
        _comparison("hybrid-concat", "0.7368 0.9001 0.8415 0.6811", "0.0002 0.0001 0.0002 0.0002"),
    ]),
    "air": (8, [
        _comparison("no-ft", "0.9184 0.9481 0.9330 0.8744", "0.0002 0.0001 0.0001 0.0002"),
        _comparison("open", "0.9287 0.8584 0.8922 0.8053", "0.0001 0.0002 0.0002 0.0002"),
        _comparison("ft6", "0.9354 0.8569 0.8944 0.8090", "0.0001 0.0002 0.0002 0.0002"),
        _comparison("hybrid-concat", "0.9276 0.8469 0.8854 0.7944", "0.0001 0.0002 0.0002 0.0002"),
    ]),
}

#: Table 9: the T1 model ("source") and the T1+T2 model ("augmentation"), each on the T1 and the T2
#: test patients (two decimals, ± 95 % CI), keyed by (test set, model).
AUGMENTATION_TABLE: dict[tuple[str, str], PaperRow] = {
    ("T1", "source"): _row("source", "", "0.73 0.59 0.65 0.48 | 0.90 0.93 0.91 0.84 | 0.96 0.96 0.96 0.93",
                           "0.0006 0.0006 0.0006 0.0007 | 0.0001 0.0001 0.0001 0.0002 | 0.0001 0.0001 0.0001 0.0001"),
    ("T1", "augmentation"): _row("augmentation", "",
                                 "0.72 0.56 0.63 0.46 | 0.89 0.93 0.91 0.83 | 0.96 0.96 0.96 0.93",
                                 "0.0006 0.0006 0.0006 0.0007 | 0.0001 0.0001 0.0001 0.0002 | "
                                 "0.0001 0.0001 0.0001 0.0001"),
    ("T2", "source"): _row("source", "", "0.52 0.30 0.38 0.24 | 0.84 0.85 0.85 0.73 | 0.91 0.94 0.93 0.87",
                           "0.0007 0.0006 0.0006 0.0006 | 0.0002 0.0002 0.0002 0.0002 | 0.0002 0.0001 0.0001 0.0002"),
    ("T2", "augmentation"): _row("augmentation", "",
                                 "0.72 0.43 0.54 0.37 | 0.86 0.88 0.87 0.77 | 0.93 0.95 0.94 0.88",
                                 "0.0006 0.0006 0.0007 0.0006 | 0.0002 0.0002 0.0002 0.0002 | "
                                 "0.0001 0.0001 0.0001 0.0002"),
}
#: Table 9's "difference percentage" rows (with augmentation relative to without), per test set.
AUGMENTATION_DIFFERENCE_PERCENT: dict[str, dict[str, dict[str, float]]] = {
    "T1": _by_class("-1.12 -3.71 -2.57 -3.76 | -0.50 0.00 -0.25 -0.47 | 0.03 -0.08 -0.02 -0.05"),
    "T2": _by_class("36.90 42.78 40.56 55.56 | 1.78 3.56 2.66 4.70 | 1.04 -0.22 0.42 0.79"),
}

#: Figure 7 gives no numbers, only bars; section 4.5 gives their order.
COMPUTE_TIME_FINDING = ("hybrid transfer learning needs the least total time to convergence (longer epochs, few "
                        "of them), then conservative fine tuning of 18 conv layers, then open fine tuning; "
                        "fine tuning 9 conv layers converged in the fewest epochs (21); 8 T2 training patients")

NOTES = (
    "Table 3, no fine tuning, soft tissue DSC: the OCR'd text reads 0.8404; Table 7 and the row's own PRE, REC "
    "and JSC give 0.8464, used here.",
    "Table 4, fine tune 3 Conv fold 1, bone JSC is printed 0.3932, a repeat of the DSC (the DSC implies 0.2447); "
    "the printed average 0.2770 includes it. Kept as printed.",
    "Table 4, fine tune 9 Conv, air JSC average is printed 0.8070; its folds average 0.8079. Kept as printed.",
    "Table 5, concatenation fold 2, soft tissue DSC is printed 0.9042, a repeat of the REC (the JSC implies "
    "0.8107); the printed average 0.8415, repeated in Table 7, includes it. Kept as printed.",
    "Table 9 is printed with two decimals; its T2 row without augmentation is the no-fine-tuning model of "
    "Table 3 (air PRE/REC printed 0.91/0.94 there against 0.9184/0.9481 in Table 3).",
)
