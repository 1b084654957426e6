"""SLURM orchestration: job scripts, submission with dependencies, and status of a run (no tracking maths).

A run directory planned by :mod:`udmt.pipeline` becomes three jobs: train → an array with one task per
(video, chunk) → stitch, chained with ``afterok`` dependencies. Job ids are kept in ``RUN/slurm/jobs.json`` so
that ``udmt slurm status`` and ``udmt slurm submit --resume`` can find them again.
"""
