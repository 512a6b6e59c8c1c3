"""Landlock: the kernel's own file access control, a second layer under the filesystem view.

Works without root (it needs only ``no_new_privs``). Once :func:`restrict` has run, this process
and its children can open files only beneath the folders given to it, with the rights given, can
neither bind nor connect TCP sockets (ABI 4+), and cannot reach abstract Unix sockets or signal
processes outside their own domain (ABI 6+). Nothing here can be undone by the process.
"""

from __future__ import annotations

import ctypes
import os
import struct

_SYSCALLS = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446), "riscv64": (444, 445, 446)}
CREATE, ADD_RULE, RESTRICT = _SYSCALLS.get(os.uname().machine, (444, 445, 446))
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1, 2, 4, 8
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 16, 32, 64, 128
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 256, 512, 1024, 2048, 4096
REFER, TRUNCATE, IOCTL_DEV = 8192, 16384, 32768
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2

READ = EXECUTE | READ_FILE | READ_DIR
DEVICE = READ_FILE | WRITE_FILE | IOCTL_DEV

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def abi_version() -> int:
    """The kernel's Landlock ABI version (0: not available)."""
    v = _libc.syscall(CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    return max(0, int(v))


def handled_fs(abi: int) -> int:
    rights = (MAKE_SYM << 1) - 1  # ABI 1: EXECUTE … MAKE_SYM
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def rules_for(read: list[str], write: list[str], devices: list[str]) -> list[tuple[str, int]]:
    """(path, rights) pairs: read-only trees, writable trees, device files (pure)."""
    rules = [(p, READ) for p in read]
    rules += [(p, READ | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_SYM | MAKE_FIFO
               | MAKE_SOCK | REFER | TRUNCATE) for p in write]  # fmt: skip
    rules += [(p, DEVICE) for p in devices]
    return rules


def restrict(rules: list[tuple[str, int]]) -> dict:
    """Apply the rules to this process (irreversibly). Returns what was enforced; raises OSError
    when Landlock is not available or refuses."""
    abi = abi_version()
    if abi < 1:
        raise OSError("Landlock is not available")
    fs = handled_fs(abi)
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    attr = struct.pack("<QQQ", fs, net, scoped)
    size = 8 if abi < 4 else (16 if abi < 6 else 24)
    buf = ctypes.create_string_buffer(attr[:size], size)
    fd = _libc.syscall(CREATE, buf, ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock_create_ruleset: {os.strerror(err)}")
    added = []
    try:
        for path, rights in rules:
            try:
                pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                is_dir = os.path.isdir(path)
                allowed = rights & fs & (~0 if is_dir else FILE_RIGHTS)
                rule = ctypes.create_string_buffer(struct.pack("<Qi", allowed, pfd), 12)
                if _libc.syscall(ADD_RULE, ctypes.c_int(fd), ctypes.c_int(RULE_PATH_BENEATH), rule, 0) == 0:
                    added.append(path)
            finally:
                os.close(pfd)
        if _libc.syscall(RESTRICT, ctypes.c_int(fd), ctypes.c_uint32(0)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"landlock_restrict_self: {os.strerror(err)}")
    finally:
        os.close(fd)
    return {"abi": abi, "paths": added, "network": bool(net), "scoped": bool(scoped)}
