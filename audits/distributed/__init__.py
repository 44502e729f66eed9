"""Distributed targets (`--distributed`): a target wrapped in DDP or FSDP2, run as ranks.

The target's child process (audits.child) launches the ranks through torch's own
launcher (`launch`); each rank runs `rank` and the per-rank check
(audits.checks.distributed); the child folds what they wrote into one TargetResult.
"""
