"""The paper's experiment end to end (``nnunet-t1t2 study`` and ``demo``), resumable, with a report.

Modules, in the order a study uses them: :mod:`.strategies` (the T2 strategies and augmentation by
name), :mod:`.protocol` (the demo and paper presets), :mod:`.layout` (the study folder and its
models), :mod:`.commands` (running nnU-Net's and our commands with the study's environment and a
log per step), :mod:`.state` (finished steps), :mod:`.converted` (what the conversion produced),
:mod:`.steps` (the steps and when each is done), :mod:`.runner` (running them), then for the report
:mod:`.results`, :mod:`.statistics` (bootstrap intervals and paired verdicts), :mod:`.learning`
(models that learned nothing), :mod:`.findings` (the report's opening sentences),
:mod:`.paper_values`, :mod:`.tables`, :mod:`.markdown`, :mod:`.figures`, :mod:`.overlays` and
:mod:`.report`.
"""
