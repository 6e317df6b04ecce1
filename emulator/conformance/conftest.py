"""Fixtures: kvs-emulator processes, one moto server, and boto3 clients for both."""

from __future__ import annotations

import os
import socket
import urllib.request

import pytest

import support

# boto3 must never look for real credentials or a real region.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": support.REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)


@pytest.fixture(scope="session")
def emulator_binary():
    return support.emulator_binary()


@pytest.fixture
def start_emulator(emulator_binary):
    """Starts `kvs-emulator` with extra flags; every one started is stopped (and must
    exit cleanly on SIGTERM) at teardown."""
    started = []

    def start(*args: str) -> support.EmulatorProcess:
        process = support.EmulatorProcess(emulator_binary, *args)
        started.append(process)
        return process

    yield start
    for process in started:
        assert process.stop() == 0, "kvs-emulator must exit 0 on SIGTERM"


@pytest.fixture
def emulator(start_emulator):
    """An emulator with immediate transitions and no quotas, like moto."""
    return start_emulator("--create-delay-ms", "0", "--update-delay-ms", "0",
                          "--delete-delay-ms", "0", "--no-quotas")


@pytest.fixture
def kvs(emulator):
    return support.client(emulator.url)


@pytest.fixture
def loose_kvs(emulator):
    """A client of the same emulator that skips botocore's own checks of minimums and
    types, so invalid input reaches the server."""
    return support.client(emulator.url, parameter_validation=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_url():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def moto_kvs(moto_url):
    """A boto3 client of a freshly reset moto server."""
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return support.client(moto_url)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skipped test counts as failed: nothing here may be silently left out."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped:
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} was skipped; the conformance suite allows no skips"
