"""Shared pytest setup: the `slow` marker (run with --runslow, `make test-all`), repo paths."""
import os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("IN_TEST", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")

def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes minutes; run by `make test-all` / `make bench`")

def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"): return
    skip = pytest.mark.skip(reason="slow: run with --runslow (make test-all)")
    for item in items:
        if "slow" in item.keywords: item.add_marker(skip)

@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
