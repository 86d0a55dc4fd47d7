"""A file the user names (``--output``, ``--plots`` figures, ``--embeddings``) is written into,
never replaced: a symbolic link keeps pointing where it pointed (its target gets the text), a
character device or a FIFO is written through, and any other node (a folder, a socket) is refused
in one line. Only a regular file or a missing name gets the atomic temporary-file-and-rename."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from modbench.cache.atomic import write_user_file
from modbench.errors import UserError


def _kind(path: Path) -> int:
    return stat.S_IFMT(os.lstat(path).st_mode)


def test_a_symlink_to_a_file_is_written_through_and_stays_a_link(tmp_path):
    target = tmp_path / "real.md"
    target.write_text("old\n")
    link = tmp_path / "link.md"
    link.symlink_to(target)
    write_user_file(link, b"new\n")
    assert _kind(link) == stat.S_IFLNK and os.readlink(link) == str(target)
    assert target.read_text() == "new\n"


def test_a_symlink_to_the_null_device_stays_a_link_and_the_device_stays_a_device(tmp_path):
    link = tmp_path / "null.md"
    link.symlink_to("/dev/null")
    before = os.stat("/dev/null")
    write_user_file(link, b"report\n")
    assert _kind(link) == stat.S_IFLNK
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino


def test_a_character_device_in_place_is_written_through(tmp_path):
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.stat("/dev/null").st_rdev)
        with open(node, "wb"):
            pass
    except OSError as exc:  # not root, or a nodev file system
        pytest.skip(f"cannot make a device node here: {exc}")
    write_user_file(node, b"report\n")
    assert _kind(node) == stat.S_IFCHR


def test_a_fifo_with_a_reader_gets_the_text_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader is there before the writer
    try:
        write_user_file(fifo, b'{"a": 1}\n')
        assert os.read(reader, 100) == b'{"a": 1}\n'
    finally:
        os.close(reader)
    assert _kind(fifo) == stat.S_IFIFO


def test_a_fifo_without_a_reader_is_refused_at_once_and_kept(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="no process reads"):
        write_user_file(fifo, b"x")
    assert _kind(fifo) == stat.S_IFIFO


def test_a_folder_and_a_socket_are_refused_in_one_line(tmp_path):
    with pytest.raises(UserError, match="is a folder") as info:
        write_user_file(tmp_path, b"x")
    assert "\n" not in str(info.value)
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(UserError, match="not a regular file") as info:
            write_user_file(path, b"x")
    assert "\n" not in str(info.value)
    assert _kind(path) == stat.S_IFSOCK


def test_a_regular_file_is_replaced_and_a_new_name_created(tmp_path):
    path = tmp_path / "a.md"
    write_user_file(path, b"one\n")
    write_user_file(path, b"two\n")
    assert path.read_text() == "two\n" and _kind(path) == stat.S_IFREG


def test_a_dangling_symlink_creates_its_target_and_stays_a_link(tmp_path):
    link = tmp_path / "out.md"
    link.symlink_to(tmp_path / "sub" / "made.md")
    (tmp_path / "sub").mkdir()
    write_user_file(link, b"x\n")
    assert _kind(link) == stat.S_IFLNK and (tmp_path / "sub" / "made.md").read_text() == "x\n"
