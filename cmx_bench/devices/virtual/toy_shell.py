"""A small POSIX-like shell for the virtual phone: words, quotes, ; && || | and > redirection, no expansion but $?,
and the builtins adb clients send (exit, cd, pwd, test / [, true, false, command -v) with Android sh's exit codes."""

from __future__ import annotations

import hashlib
import posixpath
import shlex
import shutil
import threading
import time
from dataclasses import dataclass
from typing import Callable

# A command gets its arguments and stdin and returns (stdout, stderr, exit code).
Command = Callable[[list[str], bytes], tuple[bytes, bytes, int]]


@dataclass
class Outcome:
    stdout: bytes
    stderr: bytes
    code: int
    combined: bytes = b""  # stdout and stderr in the order written, as a shell v1 stream carries them


def tokenize(line: str) -> list[str]:
    """Words and operators; quoted text stays one word (that is what keeps `'x; touch pwned'` harmless)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|>")
    lexer.whitespace_split = True
    lexer.commenters = ""
    return list(lexer)


class ShellExit(Exception):
    """`exit N`: ends the whole command line with status N."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


class ToyShell:
    def __init__(self, commands: dict[str, Command], write_file: Callable[[str, bytes, bool], None],
                 is_dir: Callable[[str], bool] = lambda path: path == "/"):
        self.write_file, self.is_dir = write_file, is_dir
        self._session = threading.local()  # each `adb shell` is its own shell: its own working folder
        builtins = {"exit": self._exit, "cd": self._cd, "pwd": lambda args, stdin: (f"{self.cwd}\n".encode(), b"", 0),
                    "command": self._command, "test": test_builtin,
                    "[": lambda args, stdin: test_builtin(args[:-1], stdin) if args[-1:] == ["]"]
                    else (b"", b"/system/bin/sh: [: missing ]\n", 2)}
        self.commands = {**builtins, **commands}  # the phone's file-aware test and [ win over the plain ones
        self.builtins = set(builtins) | {"true", "false", "echo"}

    @property
    def cwd(self) -> str:
        return getattr(self._session, "cwd", "/")

    def _exit(self, args, stdin):
        try:
            raise ShellExit(int(args[0]) & 0xFF if args else self._session.status)
        except ValueError:
            return b"", f"/system/bin/sh: exit: {args[0]}: bad number\n".encode(), 2

    def _cd(self, args, stdin):
        target = posixpath.normpath(posixpath.join(self.cwd, args[0] if args else "/"))
        if not self.is_dir(target):
            return b"", f"/system/bin/sh: cd: {target}: No such file or directory\n".encode(), 2
        self._session.cwd = target
        return b"", b"", 0

    def _command(self, args, stdin):
        if args[:1] != ["-v"]:
            return b"", b"/system/bin/sh: command: only -v is supported here\n", 2
        found = [name if name in self.builtins else f"/system/bin/{name}" for name in args[1:] if name in self.commands]
        return "".join(f"{line}\n" for line in found).encode(), b"", 0 if len(found) == len(args[1:]) else 1

    def run(self, line: str) -> Outcome:
        try:
            tokens = tokenize(line)
        except ValueError as exc:
            message = f"sh: syntax error: {exc}\n".encode()
            return Outcome(b"", message, 2, message)
        self._session.cwd, self._session.status = "/", 0
        stdout, stderr, combined, status = bytearray(), bytearray(), bytearray(), 0
        connector = ";"
        for chain, next_connector in _split_lists(tokens):
            if (connector == "&&" and status != 0) or (connector == "||" and status == 0):
                connector = next_connector
                continue
            try:
                out, err, status = self._pipeline(chain, status)
            except ShellExit as stop:
                status = stop.code
                break
            self._session.status = status
            stdout += out
            stderr += err
            combined += err + out
            connector = next_connector
        return Outcome(bytes(stdout), bytes(stderr), status, bytes(combined))

    def _pipeline(self, tokens: list[str], last_status: int) -> tuple[bytes, bytes, int]:
        stdin, stderr, status = b"", bytearray(), 0
        for words in _split_on(tokens, "|"):
            redirect, append = None, False
            for op in (">>", ">"):
                if op in words:
                    index = words.index(op)
                    redirect, append, words = (words[index + 1] if index + 1 < len(words) else None), op == ">>", words[:index]
                    break
            words = [word.replace("$?", str(last_status)) for word in words]
            if not words:
                return b"", b"sh: syntax error\n", 2
            command = self.commands.get(words[0])
            if command is None:
                out, err, status = b"", f"/system/bin/sh: {words[0]}: inaccessible or not found\n".encode(), 127
            else:
                try:
                    out, err, status = command(words[1:], stdin)
                except OSError as exc:
                    out, err, status = b"", f"{words[0]}: {exc.strerror or exc}\n".encode(), 1
            stderr += err
            if redirect is not None:
                self.write_file(redirect, out, append)
                out = b""
            stdin = out
        return stdin, bytes(stderr), status


def test_builtin(args: list[str], stdin: bytes) -> tuple[bytes, bytes, int]:
    """POSIX test with the forms scripts send to phones: -n -z, = !=, -eq -ne -lt -le -gt -ge, ! and one word.
    File tests (-e -f -d) are answered by the 'test' command the phone installs over this one."""
    def truth(words: list[str]) -> bool:
        if words[:1] == ["!"]:
            return not truth(words[1:])
        if len(words) == 0:
            return False
        if len(words) == 1:
            return words[0] != ""
        if len(words) == 2 and words[0] in ("-n", "-z"):
            return (words[1] != "") == (words[0] == "-n")
        if len(words) == 3:
            left, op, right = words
            if op in ("=", "=="):
                return left == right
            if op == "!=":
                return left != right
            numeric = {"-eq": int.__eq__, "-ne": int.__ne__, "-lt": int.__lt__, "-le": int.__le__, "-gt": int.__gt__,
                       "-ge": int.__ge__}
            if op in numeric:
                return numeric[op](int(left), int(right))
        raise ValueError(" ".join(words))

    try:
        return b"", b"", 0 if truth(args) else 1
    except ValueError as exc:
        return b"", f"/system/bin/sh: test: {exc}: unknown operand\n".encode(), 2


def _split_lists(tokens: list[str]):
    chain = []
    for token in tokens:
        if token in (";", "&&", "||", "&"):
            if chain:
                yield chain, token if token != "&" else ";"
            chain = []
        else:
            chain.append(token)
    if chain:
        yield chain, ";"


def _split_on(tokens: list[str], separator: str) -> list[list[str]]:
    parts, current = [], []
    for token in tokens:
        if token == separator:
            parts.append(current)
            current = []
        else:
            current.append(token)
    parts.append(current)
    return parts


def file_commands(phone_path, cwd: Callable[[], str] = lambda: "/") -> tuple[dict[str, Command],
                                                                          Callable[[str, bytes, bool], None]]:
    """toybox-like file commands over `phone_path(device_path, cwd) -> host Path` (which keeps paths inside the
    phone), relative paths taken from the shell's folder `cwd()`, and the writer behind `>` and `>>`."""

    def fs_path(name: str):
        return phone_path(name, cwd=cwd())

    def ok(text: str = "") -> tuple[bytes, bytes, int]:
        return text.encode(), b"", 0

    def fail(text: str, code: int = 1) -> tuple[bytes, bytes, int]:
        return b"", (text + "\n").encode(), code

    def cat(args, stdin):
        if not args:
            return stdin, b"", 0
        out, err, code = bytearray(), bytearray(), 0
        for name in args:
            try:
                out += fs_path(name).read_bytes()
            except OSError:
                err += f"cat: {name}: No such file or directory\n".encode()
                code = 1
        return bytes(out), bytes(err), code

    def ls(args, stdin):
        names = [a for a in args if not a.startswith("-")] or ["."]
        out, code = [], 0
        for name in names:
            path = fs_path(name)
            if path.is_dir():
                out += sorted(p.name for p in path.iterdir())
            elif path.exists():
                out.append(name)
            else:
                return fail(f"ls: {name}: No such file or directory")
        return ok("".join(f"{n}\n" for n in out))

    def rm(args, stdin):
        recursive = any(a.startswith("-") and "r" in a for a in args)
        force = any(a.startswith("-") and "f" in a for a in args)
        for name in (a for a in args if not a.startswith("-")):
            path = fs_path(name)
            if path.is_dir() and recursive:
                shutil.rmtree(path)
            elif path.is_dir():
                return fail(f"rm: {name}: is a directory")
            elif path.exists():
                path.unlink()
            elif not force:
                return fail(f"rm: {name}: No such file or directory")
        return ok()

    def mkdir(args, stdin):
        parents = "-p" in args
        for name in (a for a in args if not a.startswith("-")):
            fs_path(name).mkdir(parents=parents, exist_ok=parents)
        return ok()

    def touch(args, stdin):
        for name in (a for a in args if not a.startswith("-")):
            fs_path(name).touch()
        return ok()

    def sha256sum(args, stdin):
        lines, code = [], 0
        for name in args:
            try:
                digest = hashlib.sha256(fs_path(name).read_bytes()).hexdigest()
                lines.append(f"{digest}  {name}\n")
            except OSError:
                code = 1
        return "".join(lines).encode(), b"" if code == 0 else b"sha256sum: No such file or directory\n", code

    def write_file(target: str, data: bytes, append: bool) -> None:
        with open(fs_path(target), "ab" if append else "wb") as handle:
            handle.write(data)

    def sleep(args, stdin):
        time.sleep(min(float(args[0]) if args else 0.0, 60.0))
        return ok()

    def test_files(args, stdin):
        """test / [ with the file operators -e -f -d; everything else goes to the shell's own test."""
        words = args[:-1] if args[-1:] == ["]"] else args
        negate = words[:1] == ["!"]
        words = words[1:] if negate else words
        if len(words) == 2 and words[0] in ("-e", "-f", "-d"):
            path = fs_path(words[1])
            found = {"-e": path.exists(), "-f": path.is_file(), "-d": path.is_dir()}[words[0]]
            return b"", b"", 0 if found != negate else 1
        return test_builtin(args[:-1] if args[-1:] == ["]"] else args, stdin)

    return {
        "test": test_files, "[": test_files,
        "cat": cat, "ls": ls, "rm": rm, "mkdir": mkdir, "touch": touch, "sha256sum": sha256sum,
        "echo": lambda args, stdin: ok(" ".join(args) + "\n"),
        "true": lambda args, stdin: ok(), "false": lambda args, stdin: (b"", b"", 1),
        "chmod": lambda args, stdin: ok(), "sleep": sleep,
        "date": lambda args, stdin: ok(f"{time.time():.6f}\n" if args == ["+%s.%N"] else time.strftime("%c\n")),
    }, write_file
