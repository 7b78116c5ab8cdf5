"""stlar-dl installs beside STLAR: nothing it ships may take STLAR's distribution, package or command name.

STLAR (the GUI and pipeline this project serves) is the distribution `stlar` with the top-level package
`stlar` and the console script `stlar`; pip would treat a second `stlar` as an upgrade and remove the GUI.
"""

from importlib.metadata import distribution

import pytest


@pytest.fixture(scope="module")
def dist():
    return distribution("stlar-dl")


def test_distribution_is_named_stlar_dl(dist):
    assert dist.metadata["Name"] == "stlar-dl"


def test_no_top_level_stlar_package(dist):
    top_level = set((dist.read_text("top_level.txt") or "").split())
    assert "stlar_dl" in top_level
    assert "stlar" not in top_level


def test_console_script_is_stlar_dl_only(dist):
    scripts = {ep.name: ep.value for ep in dist.entry_points if ep.group == "console_scripts"}
    assert scripts == {"stlar-dl": "stlar_dl.cli:main"}


def test_version_is_the_installed_one_without_reading_metadata(dist):
    # `--version` and the start record use a literal (importing importlib.metadata costs every command);
    # pyproject.toml reads it, so the installed distribution must carry the same version.
    import subprocess
    import sys

    from shared.version import __version__

    assert dist.version == __version__
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "stlar_dl", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout == f"stlar-dl {__version__}\n"
    assert "importlib.metadata" not in done.stderr
