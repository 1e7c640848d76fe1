"""The virtual device through Debian's adb: listing, shell v1 and v2 with exit codes, sync push/pull/list."""

import hashlib
import os

from cmx_bench.devices.android.adb_link import PhoneLink, adb_client
from cmx_bench.devices.virtual.sync_service import StreamReader
from tests.devices.conftest import adb


def test_adb_lists_the_phone_with_its_profile_properties(virtual_phone):
    phone = virtual_phone()
    listing = adb("devices", "-l").stdout
    line = next(line for line in listing.splitlines() if line.startswith(phone.serial))
    assert "device" in line.split() and "model:Pixel_2" in line and "device:walleye" in line
    assert adb("-s", phone.serial, "shell", "getprop", "ro.product.model").stdout.strip() == "Pixel 2"


def test_shell_exit_codes_v2_and_v1(virtual_phone):
    phone = virtual_phone()
    failed = adb("-s", phone.serial, "shell", "cat /nope", check=False)  # adb uses shell v2: exit code and stderr
    assert failed.returncode == 1 and "No such file" in failed.stderr
    link = PhoneLink(adb_client(), phone.serial)
    assert link.v2
    v1 = link.device.shell2("echo out; cat /nope", v2=False)  # adbutils' X4EXIT trick over shell v1
    assert v1.returncode == 1 and v1.output.startswith("out\n")


def test_sync_push_pull_stat_and_list_keep_every_byte(virtual_phone, tmp_path):
    phone = virtual_phone()
    blob = tmp_path / "blob.bin"
    blob.write_bytes(os.urandom(3 * 1024 * 1024 + 17))  # not a multiple of any chunk size
    assert adb("-s", phone.serial, "push", str(blob), "/data/local/tmp/blob.bin").returncode == 0
    digest = adb("-s", phone.serial, "shell", "sha256sum", "/data/local/tmp/blob.bin").stdout.split()[0]
    assert digest == hashlib.sha256(blob.read_bytes()).hexdigest()
    back = tmp_path / "back.bin"
    adb("-s", phone.serial, "pull", "/data/local/tmp/blob.bin", str(back))
    assert back.read_bytes() == blob.read_bytes()
    link = PhoneLink(adb_client(), phone.serial)
    link.push(blob, "/data/local/tmp/again.bin")  # cmx-bench's own 64 KiB push
    assert link.device.sync.stat("/data/local/tmp/again.bin").size == blob.stat().st_size
    assert {"blob.bin", "again.bin"} <= {entry.path for entry in link.device.sync.list("/data/local/tmp")}


def test_the_slow_transfer_fault_slows_pushes_down(virtual_phone, tmp_path):
    phone = virtual_phone(transfer_kbps=1024)  # 1 MiB/s
    blob = tmp_path / "half.bin"
    blob.write_bytes(os.urandom(512 * 1024))
    seconds = PhoneLink(adb_client(), phone.serial).push(blob, "/data/local/tmp/half.bin")
    assert seconds >= 0.45  # a lower bound only: a busy machine can make it slower, never faster


def test_sync_requests_split_or_merged_across_writes_are_reassembled():
    class Chunks:
        def __init__(self, parts):
            self.parts = list(parts)

        def read(self):
            return self.parts.pop(0)

    path = b"/a/b,33188"
    stream = b"SEND" + len(path).to_bytes(4, "little") + path + b"DATA" + (3).to_bytes(4, "little") + b"xyz" + b"DONE"
    reader = StreamReader(Chunks([stream[:3], stream[3:9], stream[9:30], stream[30:]]))  # split and merged
    assert reader.request() == (b"SEND", len(path))
    assert reader.read_exact(len(path)) == path
    assert reader.request() == (b"DATA", 3)
    assert reader.read_exact(3) == b"xyz"
    assert reader.read_exact(4) == b"DONE"
