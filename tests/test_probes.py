"""workbook.probes: what a learner's function did, as a value, within a deadline."""

import threading

import requests

from workbook import probes


def test_an_attempt_says_what_the_call_did():
    assert probes.attempt(lambda: 1) == "returned"
    assert probes.attempt(lambda: {}["daily"]) == "raised KeyError"


def test_a_call_past_its_deadline_is_left_behind_not_waited_for():
    release = threading.Event()
    assert probes.attempt(release.wait, deadline_s=0.2) == "was still waiting after 0.2 s"
    release.set()


def test_a_request_with_a_timeout_gives_up_on_a_silent_server():
    """What the weather lesson's check relies on, against a real socket that accepts and
    never answers."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/"
    try:
        assert probes.attempt(lambda: requests.get(url, timeout=(1, 0.5)), 10) == \
            "raised ReadTimeout"
        assert probes.attempt(lambda: requests.get(url), 1) == "was still waiting after 1 s"
    finally:
        server.close()
