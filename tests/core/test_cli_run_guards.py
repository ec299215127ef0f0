"""`deblur run` refuses what would fail or clobber before any work: the output folder, clashing input
names, bad settings; swapping the non-blind solver works for every method with a `nonblind` slot."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import deblur.pipeline
from deblur.cli import main
from deblur.data.procedural import dead_leaves
from deblur.io import write_image


def invoke(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    write_image(path, dead_leaves(48, 5, channels=3), bit_depth=8)
    return path


@pytest.fixture
def no_deblurring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any deblur started makes the test fail: the refusals must come first."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a deblur ran before the refusal")

    monkeypatch.setattr(deblur.pipeline, "run", refuse)


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["--nonblind", "richardson-lucy", "--set", "solver.iterations=2"],
        ["--nonblind", "wiener"],
        ["--use", "nonblind=wiener", "--set", "nonblind.balance=0.01"],
    ],
)
def test_swapping_the_nonblind_solver_of_classic_writes_the_outputs(
    args: list[str], photo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = invoke("run", "classic", photo, "-o", out, "--kernel-size", "5", "-q", *args)
    assert result.exit_code == 0, result.output
    assert (out / "photo-deblurred.png").exists() and (out / "photo-report.json").exists()


@pytest.mark.parametrize("where", ["file", "proc"])
def test_an_unwritable_output_folder_is_refused_before_any_work(
    where: str, photo: Path, tmp_path: Path, no_deblurring: None
) -> None:
    if where == "proc":
        if not Path("/proc").is_dir():
            pytest.skip("no /proc")
        out = Path("/proc/deblur-test/out")
    else:
        (tmp_path / "a-file").write_text("")
        out = tmp_path / "a-file" / "out"
    line = one_line_error(invoke("run", "classic", photo, "-o", out))
    assert f"cannot write to output folder {out}" in line


def test_the_output_probe_leaves_nothing_behind(tmp_path: Path, photo: Path) -> None:
    out = tmp_path / "new" / "deeper"
    line = one_line_error(invoke("run", "classic", photo, "-o", out, "--set", "solver.iterations=x"))
    assert "solver.iterations='x'" in line
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("solver.iterations=abc", "solver.iterations='abc': solver 'classic' expects int"),
        ("solver.iterations=2.5", "solver.iterations='2.5': solver 'classic' expects int"),
        (
            "nonblind.prior.weight=heavy",
            "nonblind.prior.weight='heavy': prior 'hyper-laplacian' expects float",
        ),
        ("solver.threads=many", "solver.threads='many': solver 'classic' expects int or None"),
    ],
)
def test_bad_set_values_name_parameter_value_and_type(
    setting: str, message: str, photo: Path, tmp_path: Path, no_deblurring: None
) -> None:
    line = one_line_error(invoke("run", "classic", photo, "-o", tmp_path / "out", "--set", setting))
    assert line == f"Error: {message}"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("second", ["photo.jpg", "other/photo.png", "photo.png"])
def test_inputs_that_would_write_the_same_outputs_are_refused_up_front(
    second: str, photo: Path, tmp_path: Path, no_deblurring: None
) -> None:
    other = tmp_path / second
    if not other.exists():
        other.parent.mkdir(exist_ok=True)
        write_image(other, dead_leaves(48, 6, channels=3), bit_depth=8)
    line = one_line_error(invoke("run", "classic", photo, other, "-o", tmp_path / "out"))
    assert f"{photo} and {other} would write the same outputs (photo-deblurred" in line
    assert not (tmp_path / "out").exists()


def test_debug_is_accepted_after_the_command_too() -> None:
    result = CliRunner().invoke(main, ["run", "no-such-method", "x.png", "--debug"])
    assert result.exit_code != 2 and type(result.exception).__name__ == "CompositionError"
    listing = CliRunner().invoke(main, ["list-methods", "--debug"])
    assert listing.exit_code == 0, listing.output


def test_blur_creates_its_output_folder(photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "made" / "here" / "blurry.png"
    result = invoke("blur", photo, "-o", out, "--size", "5")
    assert result.exit_code == 0, result.output
    assert out.exists() and (out.parent / "blurry-kernel.npy").exists()


def test_blur_refuses_an_unwritable_output_before_reading(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    line = one_line_error(invoke("blur", tmp_path / "missing.png", "-o", tmp_path / "a-file" / "b.png"))
    assert "cannot write to output folder" in line


def test_run_help_states_the_default_kernel_size_rule() -> None:
    text = " ".join(CliRunner().invoke(main, ["run", "--help"], terminal_width=200).output.split())
    assert "min(H, W) // 10 made odd, within [7, 75]" in text


def test_a_shortcut_for_a_slot_the_method_lacks_is_one_line(photo: Path, tmp_path: Path) -> None:
    line = one_line_error(invoke("run", "classic", photo, "-o", tmp_path / "out", "--kernel-rep", "simplex"))
    assert line == "Error: --kernel-rep: 'classic' has no such slot; name one with --use PATH=simplex"
    assert not (tmp_path / "out").exists()
