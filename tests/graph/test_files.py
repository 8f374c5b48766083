"""Saving over a link or a special file, reading special files (#23 items 2 and 6)."""

import os
import stat
import threading

import pytest

from studio.graph.files import UnsafeFile, check_readable, read_bytes, write_target
from studio.graph.project import Project, ProjectError, load_project, save_project


def test_saving_over_a_symlink_writes_its_target_and_keeps_the_link(tmp_path):
    real = tmp_path / "real" / "model.studio.json"
    real.parent.mkdir()
    save_project(Project(name="first"), real)
    link = tmp_path / "link.studio.json"
    link.symlink_to(real)
    save_project(Project(name="second"), link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert load_project(real).name == "second"
    # a chain of links and a relative one
    link2 = tmp_path / "link2.studio.json"
    link2.symlink_to("link.studio.json")
    save_project(Project(name="third"), link2)
    assert link2.is_symlink() and link.is_symlink() and load_project(real).name == "third"


def test_a_dangling_link_gets_its_target_created(tmp_path):
    link = tmp_path / "p.studio.json"
    link.symlink_to(tmp_path / "target.studio.json")
    save_project(Project(name="x"), link)
    assert link.is_symlink() and load_project(tmp_path / "target.studio.json").name == "x"


@pytest.mark.parametrize(
    "special", ["/dev/null", "/dev/full", "fifo", "folder", "link-to-dev", "loop"]
)
def test_a_device_fifo_or_folder_is_refused_and_left_as_it_was(tmp_path, special):
    if special == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
    elif special == "folder":
        path = tmp_path / "folder"
        path.mkdir()
    elif special == "link-to-dev":
        path = tmp_path / "dev.studio.json"
        path.symlink_to("/dev/null")
    elif special == "loop":
        path = tmp_path / "a"
        path.symlink_to(tmp_path / "b")
        (tmp_path / "b").symlink_to(path)
    elif os.geteuid() == 0:  # a device node of our own: a bug must not replace /dev/null
        path = tmp_path / special.rsplit("/", 1)[1]
        os.mknod(path, 0o666 | stat.S_IFCHR, os.stat(special).st_rdev)
    else:
        path = special
    before = os.lstat(path)
    with pytest.raises(ProjectError, match="nothing was written|symbolic links"):
        save_project(Project(name="x"), path)
    after = os.lstat(path)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (
        before.st_mode,
        before.st_ino,
        before.st_rdev,
    )
    assert not [
        p for p in os.listdir(os.path.dirname(path) or ".") if p.endswith(".tmp") and "x" in p
    ]


def test_an_empty_name_is_refused():
    with pytest.raises(UnsafeFile, match="empty"):
        write_target("")


def test_reading_a_fifo_or_a_device_never_blocks_and_says_so(tmp_path):
    fifo = tmp_path / "p.studio.json"
    os.mkfifo(fifo)
    result = {}

    def load():
        try:
            load_project(fifo)
        except ProjectError as e:
            result["error"] = str(e)

    t = threading.Thread(target=load, daemon=True)
    t.start()
    t.join(30)
    assert "named pipe" in result.get("error", "blocked")
    with pytest.raises(ProjectError, match="a device"):
        load_project("/dev/zero")
    with pytest.raises(UnsafeFile, match="too large"):
        read_bytes(__file__, 10)
    assert check_readable(__file__, 10**6) > 0
