"""On CUDA: every stage compiles fullgraph and matches eager (fp32, bf16), reduce-overhead
follows a stage change, and a device-side assert in one check spoils no other.

Skipped, with the reason, where torch sees no CUDA device; `-m cuda` selects them.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from esper.kasmina.host import MorphogeneticModel, TransformerHost
from esper.kasmina.staging import PERMISSIVE_GATES, drive_to_stage
from esper.leyline import SeedStage

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason="needs a CUDA device (torch.cuda.is_available())"
    ),
]

REPO = Path(__file__).resolve().parents[2]
TOLERANCE = {torch.float32: 1e-4, torch.bfloat16: 5e-2}


def _model(stage: SeedStage, dtype: torch.dtype) -> MorphogeneticModel:
    torch.manual_seed(0)
    host = TransformerHost(
        vocab_size=64, n_embd=32, n_head=2, n_layer=2, block_size=16, dropout=0.0
    )
    model = MorphogeneticModel(host)
    drive_to_stage(model.seed_slot, stage, blueprint_id="norm", alpha=0.5)
    with torch.no_grad():  # a residual seed starts as the identity: make it count
        for name, p in model.named_parameters():
            if "seed" in name:
                p.add_(torch.randn_like(p) * 0.1)
    return model.to(device="cuda", dtype=dtype)


def _tokens() -> torch.Tensor:
    return torch.randint(0, 64, (2, 16), device="cuda", generator=None)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
@pytest.mark.parametrize(
    "stage", [SeedStage.GERMINATED, SeedStage.TRAINING, SeedStage.BLENDING, SeedStage.FOSSILIZED]
)
def test_stage_compiles_fullgraph_with_eager_outputs_and_grads(stage, dtype):
    """fullgraph=True compiles on CUDA, and the output and every gradient match eager."""
    eager = _model(stage, dtype)
    twin = _model(stage, dtype)
    compiled = torch.compile(twin, fullgraph=True)
    x = _tokens()
    expected, got = eager(x), compiled(x)
    tol = TOLERANCE[dtype]
    torch.testing.assert_close(got, expected, atol=tol, rtol=tol)
    expected.float().square().mean().backward()
    got.float().square().mean().backward()
    for (name, p), (_, q) in zip(eager.named_parameters(), twin.named_parameters(), strict=True):
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            torch.testing.assert_close(q.grad, p.grad, atol=tol, rtol=tol, msg=name)


@torch.no_grad()
def test_reduce_overhead_follows_a_stage_change():
    """CUDA graphs recorded in TRAINING are not replayed in BLENDING: outputs stay eager's."""
    model = _model(SeedStage.TRAINING, torch.float32).eval()
    model.seed_slot.gates = PERMISSIVE_GATES
    compiled = torch.compile(model, mode="reduce-overhead", fullgraph=True)
    x = _tokens()
    for _ in range(3):  # warm-up, record, replay
        torch.compiler.cudagraph_mark_step_begin()
        training_out = compiled(x).clone()
    torch.testing.assert_close(training_out, model(x), atol=1e-4, rtol=1e-4)
    assert model.seed_slot.advance_stage(SeedStage.BLENDING).passed
    model.seed_slot.set_alpha(0.7)
    blending_eager = model(x)
    assert not torch.allclose(blending_eager, training_out, atol=1e-4)  # the change is visible
    for _ in range(3):
        torch.compiler.cudagraph_mark_step_begin()
        blending_out = compiled(x).clone()
    torch.testing.assert_close(blending_out, blending_eager, atol=1e-4, rtol=1e-4)


def test_device_side_assert_is_reported_and_spoils_no_other_check(tmp_path):
    """hazard/data_dependent_assert: detected by exceptions, the fault named, breaks still ran."""
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "audits.run",
            "--device",
            "cuda",
            "--hazards",
            "--targets",
            "hazard/data_dependent_assert",
            "--fail-on",
            "none",
            "--no-bench",
            "--out",
            str(out),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (target,) = json.loads((out / "report.json").read_text())["audit"]["targets"]
    assert target["status"] == "passed", target  # passed = detected, for a hazard
    assert target["error"] is None
    (fault,) = target["device_faults"]
    assert (fault["check"], fault["input"]) == ("exceptions", "negative input")
    assert "device-side assert" in fault["message"]
    for check in ("fullgraph", "recompiles", "parity", "breaks"):
        assert target[check]["status"] == "passed", (check, target[check])
