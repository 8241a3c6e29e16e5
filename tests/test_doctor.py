"""make doctor: one line per check, a fix for each failure, non-zero exit on failure."""

import subprocess
import sys

from workbook import doctor, paths, system


def test_doctor_passes_on_this_set_up_machine():
    result = subprocess.run([sys.executable, "-m", "workbook", "doctor"], capture_output=True,
                            text=True, cwd=paths.ROOT)
    assert result.returncode == 0, result.stdout
    assert "[ok  ] kernel workbook-beginner registered" in result.stdout


def test_a_fresh_clone_is_told_what_make_lab_builds(monkeypatch, tmp_path, capsys):
    """Environments not built yet are information, not failures: `make lab` builds them."""
    monkeypatch.setattr(paths, "VENVS", tmp_path)
    monkeypatch.setattr(doctor, "uv_available", lambda: doctor.Check(True, "uv"))
    assert doctor.main() == 0
    out = capsys.readouterr().out
    assert "[info] environment beginner: not built yet\n       note: `make lab` builds it" in out
    assert "[info] kernel workbook-beginner: its environment is not built yet" in out


def test_a_missing_system_package_is_a_warning_with_its_fix(monkeypatch, capsys):
    need = system.Need("cron", lambda: False, "lesson 01_beginner/04 installs a crontab entry")
    monkeypatch.setattr(system, "NEEDS", (need,))
    doctor.main()
    out = capsys.readouterr().out
    assert "[warn] cron: lesson 01_beginner/04 installs a crontab entry" in out
    assert "sudo apt-get install cron" in out


def test_a_busy_port_says_in_use(capsys):
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        check = doctor.port_free(server.getsockname()[1], "x")
    assert not check.ok and check.detail.endswith(": in use") and check.level == "warn"


def test_missing_packages_without_privilege_stop_with_one_message(monkeypatch, capsys):
    monkeypatch.setattr(system, "NEEDS", (system.Need("cron", lambda: False, "why"),
                                          system.Need("chromium", lambda: False, "why")))
    monkeypatch.setattr(system, "privilege", lambda: None)
    assert system.main(do_install=True) == 1
    err = capsys.readouterr().err
    assert "missing system packages: cron, chromium" in err
    assert "sudo apt-get install cron chromium" in err
