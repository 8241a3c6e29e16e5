"""make doctor: one line per check, a fix for each failure, non-zero exit on failure."""

import subprocess
import sys

from workbook import doctor, paths


def test_doctor_passes_on_this_set_up_machine():
    result = subprocess.run([sys.executable, "-m", "workbook", "doctor"], capture_output=True,
                            text=True, cwd=paths.ROOT)
    assert result.returncode == 0, result.stdout
    assert "[ok  ] kernel workbook-beginner registered" in result.stdout


def test_a_missing_environment_fails_with_its_fix(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(paths, "VENVS", tmp_path)
    assert doctor.main() == 1
    out = capsys.readouterr().out
    assert "[FAIL] environment beginner: not created" in out
    assert "fix: run `make setup`" in out
