"""A small POSIX-like shell for the virtual phone: words, quotes, ; && || | and > redirection, no expansion but $?."""

from __future__ import annotations

import hashlib
import shlex
import shutil
import time
from dataclasses import dataclass
from typing import Callable

# A command gets its arguments and stdin and returns (stdout, stderr, exit code).
Command = Callable[[list[str], bytes], tuple[bytes, bytes, int]]
OPERATORS = {";", "&&", "||", "|", ">", ">>", "&"}


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


class ToyShell:
    def __init__(self, commands: dict[str, Command], write_file: Callable[[str, bytes, bool], None]):
        self.commands, self.write_file = commands, write_file

    def run(self, line: str) -> Outcome:
        try:
            tokens = tokenize(line)
        except ValueError as exc:
            message = f"sh: syntax error: {exc}\n".encode()
            return Outcome(b"", message, 2, message)
        stdout, stderr, combined, status = bytearray(), bytearray(), bytearray(), 0
        connector = ";"
        for chain, next_connector in _split_lists(tokens):
            if (connector == "&&" and status != 0) or (connector == "||" and status == 0):
                connector = next_connector
                continue
            out, err, status = self._pipeline(chain, status)
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


def file_commands(fs_path) -> tuple[dict[str, Command], Callable[[str, bytes, bool], None]]:
    """toybox-like file commands over `fs_path(device_path) -> host Path` (which keeps paths inside the phone),
    and the writer behind `>` and `>>`."""

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

    return {
        "cat": cat, "ls": ls, "rm": rm, "mkdir": mkdir, "touch": touch, "sha256sum": sha256sum,
        "echo": lambda args, stdin: ok(" ".join(args) + "\n"),
        "true": lambda args, stdin: ok(), "false": lambda args, stdin: (b"", b"", 1),
        "chmod": lambda args, stdin: ok(), "sleep": sleep,
        "date": lambda args, stdin: ok(f"{time.time():.6f}\n" if args == ["+%s.%N"] else time.strftime("%c\n")),
    }, write_file
