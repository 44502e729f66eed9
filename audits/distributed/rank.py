"""One rank of a distributed target: `python -m audits.distributed.rank RUN_DIR`.

torch.distributed.run starts it once per rank (RANK, WORLD_SIZE and the rendezvous in
the environment). It reads the job the launcher pickled into RUN_DIR, runs the rank's
part of the distributed check and writes `rank<N>.json`; an exception is written to
`rank<N>.error.json` and the rank exits 1, which makes the launcher stop the others at
once instead of leaving them waiting in a collective. Its output goes to `rank<N>.log`.
"""

from __future__ import annotations

# Before anything slow: a rank must not outlive the launcher (foundation.process_tree).
from foundation.process_tree import die_with_parent

die_with_parent()

import faulthandler  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
from datetime import timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

from foundation.codec import to_jsonable  # noqa: E402
from foundation.files import atomic_write_text  # noqa: E402

JOB_FILE = "job.pkl"
# A collective that waits longer than this raises instead of hanging; the launcher's own
# deadline (the target's timeout) usually stops the ranks first.
COLLECTIVE_TIMEOUT = timedelta(minutes=10)
# The launcher sends it to a rank still running at the deadline: its stack goes to its log.
STACK_DUMP_SIGNAL = signal.SIGUSR1


def rank_file(run_dir: Path, rank: int, suffix: str) -> Path:
    """RUN_DIR/rank<N><suffix>: .json, .error.json, .log or .pid."""
    return run_dir / f"rank{rank}{suffix}"


def _redirect_output(path: Path) -> None:
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    faulthandler.enable(file=log, all_threads=True)
    faulthandler.register(STACK_DUMP_SIGNAL, file=log, all_threads=True)


def main(run_dir: Path) -> int:
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    atomic_write_text(rank_file(run_dir, rank, ".pid"), str(os.getpid()))
    _redirect_output(rank_file(run_dir, rank, ".log"))
    import torch
    import torch.distributed as dist

    from audits.audit import dynamo_scope
    from audits.checks.distributed import check_rank
    from reporting.schema.audit import CheckName, ErrorInfo

    try:
        job = pickle.loads((run_dir / JOB_FILE).read_bytes())
        torch.set_num_threads(job.threads)
        target = job.load()
        dist.init_process_group("gloo", timeout=COLLECTIVE_TIMEOUT)
        with dynamo_scope(target.dynamo_config):
            result = check_rank(target, job.settings, rank, world_size)
        atomic_write_text(rank_file(run_dir, rank, ".json"), json.dumps(to_jsonable(result)))
        dist.destroy_process_group()
        return 0
    except Exception as exc:  # recorded for the launcher, then the rank dies of it
        traceback.print_exc()
        error = ErrorInfo(
            type=type(exc).__name__,
            message=f"rank {rank}: {exc}",
            traceback=traceback.format_exc(),
            check=CheckName.DISTRIBUTED,
        )
        atomic_write_text(rank_file(run_dir, rank, ".error.json"), json.dumps(to_jsonable(error)))
        return 1  # the process group is left as is: tearing it down could wait on peers


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m audits.distributed.rank RUN_DIR", file=sys.stderr)
        sys.exit(2)
    code = main(Path(sys.argv[1]))
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit: a failed rank must not wait in the process group's teardown for peers
    # that are stuck in a collective.
    os._exit(code)
