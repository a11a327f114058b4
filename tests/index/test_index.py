"""The index itself: crawl, definitions/imports, watcher updates, open documents, clean shutdown."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from completion.workspace.index import WorkspaceIndex
from completion.workspace.options import IndexOptions

WriteTree = Callable[[dict[str, str | bytes]], Path]
TIMEOUT = 20.0  # generous: the CPU is shared; every wait returns as soon as its condition holds


@pytest.fixture
def started() -> Iterator[Callable[..., WorkspaceIndex]]:
    indexes: list[WorkspaceIndex] = []

    def start(root: Path, **options: object) -> WorkspaceIndex:
        index = WorkspaceIndex([str(root)], IndexOptions(**options))  # type: ignore[arg-type]
        indexes.append(index)
        index.start()
        assert index.wait_idle(TIMEOUT)
        return index

    yield start
    for index in indexes:
        index.stop()


def _names(index: WorkspaceIndex, path: Path) -> list[str]:
    return [definition.name for definition in index.definitions(str(path))]


def test_crawl_indexes_definitions_and_imports(
    write_tree: WriteTree, started: Callable[..., WorkspaceIndex]
) -> None:
    root = write_tree(
        {
            "pkg/geometry.py": '''
                from .units import Meters

                class Point:
                    """A point in the plane."""
                    def distance(self, other: "Point") -> float:
                        return 0.0

                def origin() -> Point:
                    return Point()
                ''',
            "node_modules/x.js": "export function hidden() {}\n",
        }
    )
    index = started(root, watch=False)
    assert index.stats()["files"] == 1 and not index.find_definitions("hidden")
    definitions = {d.name: d for d in index.definitions(str(root / "pkg/geometry.py"))}
    assert set(definitions) == {"Point", "distance", "origin"}
    assert definitions["Point"].doc == "A point in the plane."
    assert definitions["distance"].container == "Point"
    assert definitions["origin"].signature.startswith("def origin()")
    [statement] = index.imports(str(root / "pkg/geometry.py"))
    assert statement.modules == (".units",) and statement.names == ("Meters",)
    assert [path for path, _ in index.find_definitions("origin")] == [str(root / "pkg/geometry.py")]


def test_max_files_bounds_the_index(write_tree: WriteTree, started: Callable[..., WorkspaceIndex]) -> None:
    root = write_tree({f"m{i}.py": f"def f{i}():\n    return {i}\n" for i in range(6)})
    index = started(root, watch=False, max_files=4)
    assert index.stats()["files"] == 4


def test_nested_roots_index_each_file_once(write_tree: WriteTree) -> None:
    root = write_tree({"a.py": "def alpha():\n    pass\n", "inner/b.py": "def beta():\n    pass\n"})
    index = WorkspaceIndex([str(root), str(root / "inner")], IndexOptions(watch=False))
    index.start()
    try:
        assert index.wait_idle(TIMEOUT)
        assert index.stats()["files"] == 2
        assert [path for path, _ in index.find_definitions("beta")] == [str(root / "inner" / "b.py")]
    finally:
        index.stop()


def test_progress_reports_reach_the_total(write_tree: WriteTree) -> None:
    root = write_tree({f"m{i}.py": f"def f{i}():\n    return {i}\n" for i in range(20)})
    reports: list[tuple[int, int]] = []
    index = WorkspaceIndex([str(root)], IndexOptions(watch=False))
    index.start(lambda done, total: reports.append((done, total)))
    try:
        assert index.wait_idle(TIMEOUT)
        assert reports[-1] == (20, 20)
        assert all(done <= total for done, total in reports)
    finally:
        index.stop()


def test_watcher_sees_create_modify_delete_and_move(
    write_tree: WriteTree, started: Callable[..., WorkspaceIndex]
) -> None:
    root = write_tree({"a.py": "def alpha():\n    pass\n"})
    index = started(root)
    target = root / "b.py"
    target.write_text("def beta():\n    pass\n")
    assert index.wait_for(lambda: _names(index, target) == ["beta"], TIMEOUT)
    target.write_text("def beta_two():\n    pass\n")
    assert index.wait_for(lambda: _names(index, target) == ["beta_two"], TIMEOUT)
    moved = root / "sub" / "c.py"
    moved.parent.mkdir()
    os.replace(target, moved)
    assert index.wait_for(
        lambda: (
            index.stats()["files"] == 2 and _names(index, moved) == ["beta_two"] and not _names(index, target)
        ),
        TIMEOUT,
    )
    moved.unlink()
    assert index.wait_for(
        lambda: index.stats()["files"] == 1 and _names(index, root / "a.py") == ["alpha"], TIMEOUT
    )
    assert index.find_definitions("beta_two") == []


def test_watcher_sees_new_directories_and_ignores_ignored_files(
    write_tree: WriteTree, started: Callable[..., WorkspaceIndex]
) -> None:
    root = write_tree({".gitignore": "scratch/\n", "a.py": "x = 1\n"})
    index = started(root)
    (root / "scratch").mkdir()
    (root / "scratch" / "tmp.py").write_text("def ignored():\n    pass\n")
    package = root / "pkg"
    package.mkdir()
    (package / "mod.py").write_text("def fresh():\n    pass\n")
    assert index.wait_for(lambda: bool(index.find_definitions("fresh")), TIMEOUT)
    assert index.wait_idle(TIMEOUT)
    assert index.find_definitions("ignored") == []


def test_open_document_wins_over_disk_until_closed(
    write_tree: WriteTree, started: Callable[..., WorkspaceIndex]
) -> None:
    root = write_tree({"a.py": "def on_disk():\n    pass\n"})
    path = root / "a.py"
    index = started(root)
    index.set_open_document(str(path), "def in_editor():\n    pass\n")
    assert index.wait_for(lambda: _names(index, path) == ["in_editor"], TIMEOUT)
    path.write_text("def disk_changed():\n    pass\n")
    index.file_changed(str(path))  # as if the client's watcher reported it
    assert index.wait_idle(TIMEOUT)
    assert _names(index, path) == ["in_editor"]
    index.close_open_document(str(path))
    assert index.wait_for(lambda: _names(index, path) == ["disk_changed"], TIMEOUT)


def test_unsaved_new_document_is_indexed_and_removed_on_close(
    write_tree: WriteTree, started: Callable[..., WorkspaceIndex]
) -> None:
    root = write_tree({"a.py": "x = 1\n"})
    index = started(root)
    untitled = root / "new.py"
    index.set_open_document(str(untitled), "def draft():\n    pass\n")
    assert index.wait_for(lambda: _names(index, untitled) == ["draft"], TIMEOUT)
    index.close_open_document(str(untitled))
    assert index.wait_for(
        lambda: index.stats()["files"] == 1 and not index.find_definitions("draft"), TIMEOUT
    )


def test_roots_can_be_added_and_removed(
    tmp_path: Path, write_tree: WriteTree, started: Callable[..., WorkspaceIndex]
) -> None:
    root = write_tree({"a.py": "def in_first():\n    pass\n"})
    other = tmp_path / "other"
    other.mkdir()
    (other / "b.py").write_text("def in_second():\n    pass\n")
    index = started(root)
    index.add_root(str(other))
    assert index.wait_for(lambda: bool(index.find_definitions("in_second")), TIMEOUT)
    index.remove_root(str(other))
    assert index.find_definitions("in_second") == []
    assert index.find_definitions("in_first")


def test_stop_leaves_no_threads(write_tree: WriteTree) -> None:
    root = write_tree({f"m{i}.py": "def f():\n    pass\n" for i in range(5)})
    before = set(threading.enumerate())
    index = WorkspaceIndex([str(root)], IndexOptions())
    index.start()
    index.set_open_document(str(root / "m0.py"), "def g():\n    pass\n")
    index.stop()
    assert set(threading.enumerate()) - before == set()


def test_bad_input_never_raises(write_tree: WriteTree, started: Callable[..., WorkspaceIndex]) -> None:
    root = write_tree({"junk.py": b"\xff\xfe def \x80(:\n", "notes.md": "# hi\n"})
    index = started(root, watch=False)
    assert index.stats()["files"] == 1  # junk.py, not notes.md
    index.file_changed(str(root / "does-not-exist.py"))
    index.file_deleted(str(root / "never-indexed.py"))
    index.set_open_document(str(root / "notes.md"), "text")
    assert index.retrieve(str(root / "notes.md"), "text", 99, 500) == []
    assert index.retrieve(str(root / "junk.py"), "\x00" * 10, -5, 500) == []
    assert index.wait_idle(TIMEOUT)


def test_disabled_index_does_nothing(write_tree: WriteTree) -> None:
    root = write_tree({"a.py": "def f():\n    pass\n"})
    index = WorkspaceIndex([str(root)], IndexOptions(enabled=False))
    index.start()
    assert index.stats()["files"] == 0
    assert index.retrieve(str(root / "b.py"), "f()\n", 0, 500) == []
    index.stop()


def test_a_file_that_breaks_indexing_does_not_stop_the_indexer(
    write_tree: WriteTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_tree({"bad.py": "def bad():\n    pass\n", "good.py": "def good():\n    pass\n"})
    index = WorkspaceIndex([str(root)], IndexOptions(watch=False))
    original = index._index

    def failing(path: str) -> None:
        if path.endswith("bad.py"):
            raise RuntimeError("boom")
        original(path)

    monkeypatch.setattr(index, "_index", failing)
    index.start()
    try:
        assert index.wait_idle(TIMEOUT)
        assert index.stats()["files"] == 1 and index.find_definitions("good")
        (root / "late.py").write_text("def late():\n    pass\n")
        index.file_changed(str(root / "late.py"))
        assert index.wait_for(lambda: bool(index.find_definitions("late")), TIMEOUT)
    finally:
        index.stop()


def test_a_delete_event_for_a_file_that_exists_again_keeps_it(
    write_tree: WriteTree, started: Callable[..., WorkspaceIndex]
) -> None:
    root = write_tree({"a.py": "def kept():\n    pass\n"})
    index = started(root, watch=False)
    index.file_deleted(str(root / "a.py"))  # e.g. an editor's delete-and-recreate save
    assert index.wait_idle(TIMEOUT)
    assert [d.name for d in index.definitions(str(root / "a.py"))] == ["kept"]


def test_change_notifications_never_wait_for_the_store(write_tree: WriteTree) -> None:
    """The server sends them from the event loop: they queue work, never take the store's lock."""
    root = write_tree({"a.py": "def alpha():\n    pass\n", "sub/b.py": "def beta():\n    pass\n"})
    index = WorkspaceIndex([str(root)], IndexOptions(watch=False))
    index.start()
    try:
        assert index.wait_idle(TIMEOUT)
        held = threading.Event()
        release = threading.Event()

        def hold_the_store() -> None:
            with index._store.lock:
                held.set()
                release.wait(TIMEOUT)

        holder = threading.Thread(target=hold_the_store)
        holder.start()
        try:
            assert held.wait(TIMEOUT)
            notified = threading.Event()

            def notify() -> None:
                index.set_open_document(str(root / "a.py"), "def alpha_two():\n    pass\n", (0, 0))
                index.file_changed(str(root / ".gitignore"))
                (root / "sub" / "b.py").unlink()
                index.file_deleted(str(root / "sub"))
                index.close_open_document(str(root / "a.py"))
                notified.set()

            threading.Thread(target=notify).start()
            assert notified.wait(TIMEOUT)
        finally:
            release.set()
            holder.join()
        assert index.wait_for(lambda: index.find_definitions("beta") == [], TIMEOUT)
        assert index.wait_idle(TIMEOUT)
    finally:
        index.stop()


def test_documents_opened_before_start_are_indexed_by_the_worker(write_tree: WriteTree) -> None:
    """The server mirrors the documents already open, then starts the index: never indexed on its thread."""
    root = write_tree({"a.py": "def on_disk():\n    pass\n"})
    index = WorkspaceIndex([str(root)], IndexOptions(watch=False))
    index.set_open_document(str(root / "a.py"), "def in_editor():\n    pass\n")
    assert index.stats()["files"] == 0
    index.start()
    try:
        assert index.wait_for(lambda: _names(index, root / "a.py") == ["in_editor"], TIMEOUT)
    finally:
        index.stop()
