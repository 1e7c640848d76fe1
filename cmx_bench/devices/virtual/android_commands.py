"""The Android surface of the virtual phone: getprop, pm, am, pidof, run-as, df and dumpsys, in real output layouts."""

from __future__ import annotations

import json

import time
from pathlib import Path

from cmx_bench.devices.virtual.standin_apk import read_standin_apk
from cmx_bench.measure.linux_proc import parse_kb_fields


def _ok(text: str = ""):
    return text.encode(), b"", 0


def _err(text: str, code: int = 1):
    return b"", (text + "\n").encode(), code


def commands(phone) -> dict:
    def getprop(args, stdin):
        props = phone.properties()
        if args:
            return _ok(props.get(args[0], "") + "\n")
        return _ok("".join(f"[{k}]: [{v}]\n" for k, v in sorted(props.items())))

    def pm(args, stdin):
        if args[:1] == ["install"]:
            path = phone.fs_path(args[-1])
            if not path.is_file():
                return _ok(f"Failure [INSTALL_FAILED_INVALID_URI: {args[-1]} does not exist]\n")
            if not phone.storage_allows(path.stat().st_size):
                return _ok("Failure [INSTALL_FAILED_INSUFFICIENT_STORAGE]\n")
            manifest = read_standin_apk(path)
            if manifest is None:
                return _ok("Failure [INSTALL_PARSE_FAILED_NOT_APK: the virtual phone installs only cmx-bench "
                           "stand-in APKs]\n")
            package = manifest["package"]
            if package in phone.packages and "-r" not in args:
                return _ok("Failure [INSTALL_FAILED_ALREADY_EXISTS]\n")
            uid = phone.packages.get(package, {}).get("uid") or phone.next_app_uid()
            phone.force_stop(package)
            phone.packages[package] = {"uid": uid, "versionCode": manifest["versionCode"],
                                       "versionName": manifest["versionName"]}
            (phone.root / "data/data" / package / "files").mkdir(parents=True, exist_ok=True)
            return _ok("Success\n")
        if args[:1] == ["uninstall"]:
            return _ok("Success\n") if phone.packages.pop(args[-1], None) else _ok("Failure [DELETE_FAILED_INTERNAL_ERROR]\n")
        if args[:2] == ["list", "packages"]:
            show_uid = "-U" in args
            wanted = [a for a in args[2:] if not a.startswith("-")]
            lines = [f"package:{name}" + (f" uid:{info['uid']}" if show_uid else "")
                     for name, info in sorted(phone.packages.items()) if not wanted or wanted[0] in name]
            return _ok("".join(line + "\n" for line in lines))
        return _err(f"pm: unsupported by the virtual phone: {' '.join(args)}")

    def am(args, stdin):
        if args[:1] == ["force-stop"] and len(args) == 2:
            phone.force_stop(args[1])
            return _ok()
        if args[:1] != ["start"]:
            return _err(f"am: unsupported by the virtual phone: {' '.join(args)}")
        component, extras, index = None, {}, 1
        while index < len(args):
            word = args[index]
            if word == "-n":
                component, index = args[index + 1], index + 2
            elif word in ("--es", "--ei", "--ez"):
                extras[args[index + 1]], index = args[index + 2], index + 3
            else:
                index += 1
        text = f"Starting: Intent {{ cmp={component} (has extras) }}\n"
        package = (component or "").split("/")[0]
        if package not in phone.packages:
            return _ok(text + f"Error type 3\nError: Activity class {{{component}}} does not exist.\n")
        if extras.get("describe") == "true":  # the app answers with its runtimes and exits (no job)
            result = phone.fs_path(f"/data/data/{package}/files/{extras.get('result', 'runtimes.json')}")
            result.write_text(json.dumps({"runner": "cmx-bench-android", "runner_version":
                                          phone.packages[package]["versionName"], "runtimes": phone.runtimes}))
            return _ok(text + f"Status: ok\nLaunchState: COLD\nActivity: {component}\nTotalTime: 1\nComplete\n")
        if "job" not in extras:
            return _ok(text + "Error: the runner app needs --es job <path>\n")
        if "-S" in args:
            phone.force_stop(package)
        tic = time.monotonic()
        phone.start_runner(package, phone.fs_path(extras["job"]),
                           phone.fs_path(f"/data/data/{package}/files/{extras.get('result', 'result.json')}"))
        took = int((time.monotonic() - tic) * 1e3) + 1
        return _ok(text + f"Status: ok\nLaunchState: COLD\nActivity: {component}\nTotalTime: {took}\n"
                          f"WaitTime: {took + 2}\nComplete\n")

    def pidof(args, stdin):
        pids = [str(p.popen.pid) for name in args for p in phone.live_processes(name)]
        return (" ".join(pids) + "\n").encode() if pids else b"", b"", 0 if pids else 1

    def run_as(args, stdin):
        if not args:
            return _err("usage: run-as <package-name> [--user <uid>] <command> [<args>]")
        package = args[0]
        if package not in phone.packages:
            return _err(f"run-as: unknown package: {package}")
        base = f"/data/data/{package}"
        if args[1:2] == ["cat"]:
            try:
                return b"".join(phone.fs_path(name, cwd=base).read_bytes() for name in args[2:]), b"", 0
            except OSError:
                return _err(f"cat: {args[-1]}: No such file or directory")
        if args[1:3] == ["rm", "-f"]:
            for name in args[3:]:
                phone.fs_path(name, cwd=base).unlink(missing_ok=True)
            return _ok()
        return _err(f"run-as: the virtual phone runs only cat and rm -f as {package}")

    def df(args, stdin):
        free_kb = phone.free_bytes() // 1024
        size_kb = max(free_kb + 6_000_000, 57_000_000)
        used_kb = size_kb - free_kb
        return _ok("Filesystem      1K-blocks    Used Available Use% Mounted on\n"
                   f"/dev/block/dm-4 {size_kb:9d} {used_kb:7d} {free_kb:9d} {100 * used_kb // size_kb:3d}% /data\n")

    def getconf(args, stdin):
        return _ok("100\n") if args == ["CLK_TCK"] else _err(f"getconf: {' '.join(args)}: not supported")

    return {"getprop": getprop, "pm": pm, "am": am, "pidof": pidof, "run-as": run_as, "df": df,
            "getconf": getconf, "dumpsys": lambda args, stdin: dumpsys(phone, args)}


def dumpsys(phone, args: list[str]):
    service = args[0] if args else ""
    if service == "battery":
        return _battery(phone, args[1:])
    if service == "batterystats":
        if "--reset" in args:
            phone.batterystats_reset()
            return _ok("Battery stats reset.\n")
        return _ok(_batterystats_text(phone))
    if service == "thermalservice":
        return _ok(_thermal_text(phone))
    if service == "meminfo" and len(args) >= 2:
        return _ok(_meminfo_text(phone, args[-1]))
    if service == "package" and len(args) == 2:
        info = phone.packages.get(args[1])
        if info is None:
            return _ok("")
        return _ok(f"Packages:\n  Package [{args[1]}] (5c1e2f0):\n    userId={info['uid']}\n"
                   f"    versionCode={info['versionCode']} minSdk=24 targetSdk=33\n"
                   f"    versionName={info['versionName']}\n    flags=[ HAS_CODE ALLOW_CLEAR_USER_DATA DEBUGGABLE ]\n")
    return _ok(f"Can't find service: {service}\n")


def _battery(phone, args: list[str]):
    if args == ["unplug"]:
        phone.battery_changed(usb=False, ac=False, updates_stopped=True)
        return _ok()
    if args == ["reset"]:
        phone.battery_reset()
        return _ok()
    if len(args) == 3 and args[0] == "set" and args[2].lstrip("-").isdigit():
        key = {"usb": "usb", "ac": "ac", "level": "level"}.get(args[1])
        if key is None:
            return _err(f"dumpsys battery: unknown option {args[1]}")
        value = int(args[2])
        phone.battery_changed(**{key: bool(value) if key != "level" else value, "updates_stopped": True})
        return _ok()
    b = phone.battery
    charging = b["usb"] or b["ac"]
    lines = ["Current Battery Service state:"]
    if b["updates_stopped"]:
        lines.append("  (UPDATES STOPPED -- use 'reset' to restart)")
    lines += [f"  AC powered: {str(b['ac']).lower()}", f"  USB powered: {str(b['usb']).lower()}",
              "  Wireless powered: false", "  Max charging current: 500000", "  Max charging voltage: 5000000",
              "  Charge counter: 2107000", f"  status: {2 if charging else 3}", "  health: 2", "  present: true",
              f"  level: {b['level']}", "  scale: 100",
              f"  voltage: {int(phone.profile.get('battery_voltage_v', 3.85) * 1000)}",
              f"  temperature: {310 if phone.thermal_status() else 285}", "  technology: Li-ion"]
    return _ok("\n".join(lines) + "\n")


def _batterystats_text(phone) -> str:
    per_uid = phone.batterystats_mah()
    total = sum(per_uid.values())
    release = int(str(phone.properties()["ro.build.version.release"]).split(".")[0])
    label = "UID" if release >= 12 else "Uid"  # Android 12 rewrote this section and capitalised the label
    lines = ["Statistics since last charge:",
             f"  System starts: 0, currently on battery: {str(phone.on_battery()).lower()}",
             "  Estimated power use (mAh):",
             f"    Capacity: 2700, Computed drain: {total:.4g}, actual drain: 0"]
    for uid, mah in sorted(per_uid.items(), key=lambda item: -item[1]):
        name = f"u0a{uid - 10000}" if uid >= 10000 else str(uid)
        lines.append(f"    {label} {name}: {mah:.4g} ( cpu={mah:.4g} )")
    return "\n".join(lines) + "\n\n"


def _thermal_text(phone) -> str:
    status = phone.thermal_status()
    skin, cpu = (44.5, 61.0) if status else (31.2, 38.6)
    return ("IsStatusOverride: false\nThermalEventListeners:\n\tcallbacks: 1\n"
            f"Thermal Status: {status}\nCached temperatures:\n"
            f"\tTemperature{{mValue={skin}, mType=3, mName=skin, mStatus={status}}}\n"
            "HAL Ready: true\nHAL connection:\n\tThermalHAL 2.0 connected: yes\n"
            "Current temperatures from HAL:\n"
            f"\tTemperature{{mValue={cpu}, mType=0, mName=cpu0, mStatus={status}}}\n"
            f"\tTemperature{{mValue={skin}, mType=3, mName=skin, mStatus={status}}}\n"
            "\tTemperature{mValue=29.0, mType=2, mName=battery, mStatus=0}\n"
            "Current cooling devices from HAL:\n")


def _meminfo_text(phone, target: str) -> str:
    process = (phone.live_process_by_pid(int(target)) if target.isdigit()
               else next(iter(phone.live_processes(target)), None))
    if process is None:
        return f"No process found for: {target}\n"
    try:
        fields = parse_kb_fields(Path(f"/proc/{process.popen.pid}/smaps_rollup").read_text())
    except OSError:
        return f"No process found for: {target}\n"
    pss, rss, swap = fields.get("Pss", 0), fields.get("Rss", 0), fields.get("SwapPss", 0)
    dirty, clean = fields.get("Private_Dirty", 0), fields.get("Private_Clean", 0)
    # The host process has no Java heap: everything is reported as native, which is what it is.
    row = f"{pss:8d} {dirty:8d} {clean:8d} {swap:8d} {rss:8d} {0:8d} {0:8d} {0:8d}"
    uptime = int((time.monotonic() - phone.started) * 1e3)
    return (f"Applications Memory Usage (in Kilobytes):\nUptime: {uptime} Realtime: {uptime}\n\n"
            f"** MEMINFO in pid {process.popen.pid} [{process.package}] **\n"
            "                   Pss  Private  Private  SwapPss      Rss     Heap     Heap     Heap\n"
            "                 Total    Dirty    Clean    Dirty    Total     Size    Alloc     Free\n"
            "                ------   ------   ------   ------   ------   ------   ------   ------\n"
            f"  Native Heap {row}\n"
            "  Dalvik Heap        0        0        0        0        0        0        0        0\n"
            f"        TOTAL {row}\n\n"
            " App Summary\n                       Pss(KB)                        Rss(KB)\n"
            "                        ------                         ------\n"
            "           Java Heap:        0                              0\n"
            f"         Native Heap: {pss:8d}                       {rss:8d}\n\n"
            f"           TOTAL PSS: {pss:8d}            TOTAL RSS: {rss:8d}       TOTAL SWAP PSS: {swap:8d}\n")
