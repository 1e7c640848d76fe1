"""The one converter of adb and socket failures: a dropped phone reads as one line naming it, at every call site."""

import pytest
from adbutils.errors import AdbError, AdbTimeout

from cmx_bench.devices.android.adb_link import (DeviceDisconnected, PhoneLink, adb_failures_as, attached_serials,
                                                disconnect_reported)
from cmx_bench.errors import DeviceError

SERIAL = "127.0.0.1:5599"
FAILURES = [AdbError("device offline"), AdbTimeout("socket read timeout"),
            ConnectionResetError(104, "Connection reset by peer"), EOFError(), TimeoutError()]


@pytest.mark.parametrize("failure", FAILURES, ids=lambda f: type(f).__name__)
def test_adb_and_socket_failures_become_one_line_naming_the_phone(failure):
    with pytest.raises(DeviceDisconnected) as caught:
        with disconnect_reported(SERIAL, when="while pulling /data/local/tmp/x.json"):
            raise failure
    message = str(caught.value)
    assert message.startswith(f"device {SERIAL} disconnected while pulling /data/local/tmp/x.json (")
    assert message.endswith("); reconnect it and run again: finished runs are kept")
    assert len(message.splitlines()) == 1
    assert (str(failure) or type(failure).__name__) in message  # a bare EOFError still says what it was
    assert caught.value.__cause__ is failure


def test_a_multi_line_server_reply_is_folded_onto_one_line():
    with pytest.raises(DeviceDisconnected) as caught:
        with disconnect_reported(SERIAL):
            raise AdbError("device offline\n  (transport closed)")
    assert str(caught.value) == (f"device {SERIAL} disconnected (device offline (transport closed)); "
                                 "reconnect it and run again: finished runs are kept")


def test_project_errors_and_bugs_pass_through_unchanged():
    refusal = DeviceError("push of a.pte to phone:/x failed: No space left on device")
    with pytest.raises(DeviceError) as caught:
        with disconnect_reported(SERIAL):
            raise refusal
    assert caught.value is refusal
    with pytest.raises(KeyError):
        with adb_failures_as(DeviceError, "anything", "anything"):
            raise KeyError("a bug keeps its traceback")


class DroppedPhone:
    """An adbutils device whose transport fails on every call after the features were read."""

    def __init__(self, failure: Exception, features_fail: bool = False):
        self.failure, self.features_fail = failure, features_fail
        self.sync = self

    def get_features(self):
        if self.features_fail:
            raise self.failure
        return "shell_v2,cmd"

    def _fail(self, *args, **kwargs):
        raise self.failure

    shell2 = pull = open_transport = _fail


class Server:
    def __init__(self, phone: DroppedPhone):
        self.phone = phone

    def device(self, serial):
        return self.phone

    def device_list(self):
        raise self.phone.failure


def test_each_call_site_names_the_phone_and_what_it_was_doing(tmp_path):
    link = PhoneLink(Server(DroppedPhone(ConnectionResetError(104, "Connection reset by peer"))), SERIAL)
    artifact = tmp_path / "model.pte"
    artifact.write_bytes(b"pte")
    calls = {
        "disconnected during 'dumpsys' ([Errno 104] Connection reset by peer)": lambda: link.shell(["dumpsys"]),
        "disconnected while pushing model.pte (": lambda: link.push(artifact, "/data/local/tmp/model.pte"),
        "disconnected while pulling /sdcard/r.json (": lambda: link.pull("/sdcard/r.json", tmp_path / "r.json"),
        "disconnected ([Errno 104]": lambda: link.read_bytes(["cat", "x"]),
        "disconnected ([Errno 104] Connection": lambda: link.read_text(["cat", "x"]),
    }
    for expected, call in calls.items():
        with pytest.raises(DeviceDisconnected) as caught:
            call()
        assert str(caught.value).startswith(f"device {SERIAL} {expected}"), str(caught.value)
        assert str(caught.value).endswith("reconnect it and run again: finished runs are kept")


def test_a_phone_that_does_not_answer_and_a_server_that_does_not_list():
    with pytest.raises(DeviceDisconnected, match=rf"^device {SERIAL} does not answer \(device offline\); "
                                                 r"check 'adb devices'$"):
        PhoneLink(Server(DroppedPhone(AdbError("device offline"), features_fail=True)), SERIAL)
    with pytest.raises(DeviceError) as caught:
        attached_serials(Server(DroppedPhone(AdbTimeout("socket read timeout"))))
    assert not isinstance(caught.value, DeviceDisconnected)  # the server, not a phone, went away
    assert str(caught.value) == ("the adb server did not list devices (socket read timeout); "
                                 "restart it with 'adb kill-server'")
