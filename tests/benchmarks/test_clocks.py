"""Clock readings: which source wins, and what is recorded when none is readable."""

import torch

from benchmarks.probes import NOT_AVAILABLE, read_clocks, read_cpu_mhz, read_gpu_sm_mhz
from reporting.schema.measures import ClockReading


def test_cpufreq_is_preferred_and_read_in_khz(tmp_path):
    """scaling_cur_freq holds kHz; it wins over /proc/cpuinfo when both exist."""
    for index, khz in enumerate((2_400_000, 3_100_000)):
        folder = tmp_path / f"cpu{index}" / "cpufreq"
        folder.mkdir(parents=True)
        (folder / "scaling_cur_freq").write_text(f"{khz}\n")
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("cpu MHz\t\t: 999.0\n")
    found, source = read_cpu_mhz(
        str(tmp_path / "cpu[0-9]*" / "cpufreq" / "scaling_cur_freq"), str(cpuinfo)
    )
    assert found == (2400.0, 3100.0)
    assert "cpufreq" in source


def test_cpuinfo_is_the_fallback_and_nothing_is_not_available(tmp_path):
    """Without cpufreq, /proc/cpuinfo's 'cpu MHz' lines; without either, 'not available'."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: X\ncpu MHz\t\t: 2499.998\ncpu MHz\t\t: 2500.5\n")
    missing = str(tmp_path / "none" / "*")
    assert read_cpu_mhz(missing, str(cpuinfo)) == ((2499.998, 2500.5), "/proc/cpuinfo cpu MHz")
    assert read_cpu_mhz(missing, str(tmp_path / "absent")) == ((), NOT_AVAILABLE)


def test_gpu_clock_is_not_measured_on_cpu_and_failures_are_recorded():
    """On CPU no GPU reading is attempted; a failing reader is recorded, not raised."""
    assert read_gpu_sm_mhz(torch.device("cpu")) == (None, "not measured on cpu")

    def no_nvml(_device):
        raise ModuleNotFoundError("No module named 'pynvml'")

    mhz, source = read_gpu_sm_mhz(torch.device("cuda"), clock_rate=no_nvml)
    assert mhz is None and "pynvml" in source
    assert read_gpu_sm_mhz(torch.device("cuda"), clock_rate=lambda _d: 1980) == (
        1980.0,
        "torch.cuda.clock_rate",
    )


def test_a_cpu_reading_has_no_gpu_clock():
    """read_clocks on CPU: GPU clock None with the reason; CPU mean None only if unreadable."""
    reading = read_clocks("cpu")
    assert isinstance(reading, ClockReading)
    assert reading.gpu_sm_mhz is None and reading.gpu_source == "not measured on cpu"
    assert (reading.cpu_mhz_mean is None) == (reading.cpu_source == NOT_AVAILABLE)
