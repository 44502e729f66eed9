"""Workload names, presets and glob selection."""

import pytest

from benchmarks.specs import SIZES, Topology, TransformerSize, Variant, WorkloadSpec, select_specs
from reporting.schema.vocabulary import Task


def test_workload_names_are_family_task_variant():
    """The name is what --workloads globs match."""
    spec = WorkloadSpec(
        topology=Topology.CNN, size="small", task=Task.INFER, variant=Variant.DORMANT
    )
    assert spec.name == "cnn-small/infer/dormant"
    assert spec.group == "cnn-small/infer"
    assert spec.unit == "images/s"


def test_gpt2_small_preset_matches_the_issue():
    """gpt2-small: 12 layers, 12 heads, 768 wide, block size 1024."""
    size = SIZES[(Topology.TRANSFORMER, "gpt2-small")]
    assert (size.n_layer, size.n_head, size.n_embd, size.block_size) == (12, 12, 768, 1024)


def test_default_selection_is_the_small_sizes_with_every_variant_and_task():
    """Without globs a CPU run measures both small families, both tasks, all five variants."""
    specs = select_specs([], "cpu")
    assert {spec.family for spec in specs} == {"cnn-small", "transformer-small"}
    assert len(specs) == 2 * 2 * 5


def test_globs_select_and_deduplicate():
    """Overlapping globs select each workload once."""
    specs = select_specs(["cnn-small/train/*", "*/train/bare"], "cpu")
    names = [spec.name for spec in specs]
    assert len(names) == len(set(names))
    assert "cnn-small/train/seed-blending" in names
    assert "transformer-gpt2-small/train/bare" in names


def test_a_glob_that_matches_nothing_names_what_exists():
    """The error lists the families, tasks and variants a glob can match."""
    with pytest.raises(ValueError, match="matches nothing.*cnn-small"):
        select_specs(["resnet/*"], "cpu")


def test_sequence_longer_than_block_size_is_refused():
    """The preset is checked when built, naming both lengths."""
    with pytest.raises(ValueError, match="seq_len=32 exceeds block_size=16"):
        TransformerSize(name="bad", block_size=16, seq_len=32)
