"""The embedded broker never hands a consumer half a message (portal.broker)."""

import json
from queue import Empty

import pytest
from kombu import Connection
from kombu.transport import filesystem

from portal import broker


def _channel(scheme: str, folder):
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
    }
    (folder / "processed").mkdir(exist_ok=True)
    return Connection(f"{scheme}://", transport_options=options).default_channel


def _read_while_writing(module, channel, monkeypatch):
    """Put a message, and let a consumer read the queue between open() and write()."""
    seen = []
    real = module.str_to_bytes

    def consumer_comes_in(text):
        try:
            seen.append(channel._get("q"))
        except Empty:
            seen.append("empty")
        return real(text)

    monkeypatch.setattr(module, "str_to_bytes", consumer_comes_in)
    channel._put("q", {"body": "whole"})
    monkeypatch.setattr(module, "str_to_bytes", real)
    return seen


def test_kombus_own_transport_lets_a_consumer_read_an_empty_message(tmp_path, monkeypatch):
    """The defect: this is what killed the worker's consumer under load."""
    channel = _channel("filesystem", tmp_path)
    with pytest.raises(json.JSONDecodeError):
        _read_while_writing(filesystem, channel, monkeypatch)


def test_a_message_appears_only_once_it_is_whole(tmp_path, monkeypatch):
    channel = _channel(broker.SCHEME, tmp_path)
    assert isinstance(channel, broker.Channel)
    assert _read_while_writing(broker, channel, monkeypatch) == ["empty"]
    assert channel._get("q") == {"body": "whole"}
    assert not list(tmp_path.glob("*.part"))
