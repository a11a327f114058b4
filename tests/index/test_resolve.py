"""Import -> file resolution per language, over the set of indexed paths."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from completion.workspace.resolve import (
    PathTable,
    implicit_neighbours,
    resolve_module,
    rust_module_declarations,
)

WriteTree = Callable[[dict[str, str | bytes]], Path]


def _table(root: Path) -> PathTable:
    table = PathTable()
    for path in root.rglob("*"):
        if path.is_file():
            table.add(str(path))
    return table


def _resolve(
    root: Path, language: str, current: str, module: str, names: tuple[str, ...] = (), text: str = ""
) -> list[str]:
    found = resolve_module(language, module, names, text, str(root / current), _table(root), [str(root)])
    return [str(Path(path).relative_to(root)) for path in found]


def test_python_absolute_relative_and_submodule_imports(write_tree: WriteTree) -> None:
    root = write_tree(
        {
            "src/pkg/__init__.py": "",
            "src/pkg/util.py": "",
            "src/pkg/sub/__init__.py": "",
            "src/pkg/sub/deep.py": "",
            "src/pkg/sub/models.py": "",
            "tools/run.py": "",
        }
    )
    assert _resolve(root, "python", "src/pkg/sub/deep.py", "pkg.util") == ["src/pkg/util.py"]
    assert _resolve(root, "python", "src/pkg/sub/deep.py", ".models") == ["src/pkg/sub/models.py"]
    assert _resolve(root, "python", "src/pkg/sub/deep.py", "..util") == ["src/pkg/util.py"]
    assert _resolve(root, "python", "src/pkg/sub/deep.py", ".", ("models",)) == [
        "src/pkg/sub/__init__.py",
        "src/pkg/sub/models.py",
    ]
    assert _resolve(root, "python", "tools/run.py", "pkg.sub", ("deep",)) == [
        "src/pkg/sub/__init__.py",
        "src/pkg/sub/deep.py",
    ]
    assert _resolve(root, "python", "tools/run.py", "os.path") == []


def test_javascript_relative_paths_with_extensions_and_index(write_tree: WriteTree) -> None:
    root = write_tree({"src/a.ts": "", "src/lib/index.tsx": "", "src/util.js": "", "src/emitted.ts": ""})
    assert _resolve(root, "typescript", "src/a.ts", "./lib") == ["src/lib/index.tsx"]
    assert _resolve(root, "typescript", "src/lib/index.tsx", "../util") == ["src/util.js"]
    assert _resolve(root, "typescript", "src/a.ts", "./emitted.js") == ["src/emitted.ts"]
    assert _resolve(root, "javascript", "src/a.ts", "react") == []


def test_go_packages_by_directory_and_same_package_files(write_tree: WriteTree) -> None:
    root = write_tree(
        {
            "go.mod": "module example.com/app\n\ngo 1.22\n",
            "cmd/main.go": "",
            "internal/store/store.go": "",
            "internal/store/cache.go": "",
            "internal/store/store_test.go": "",
        }
    )
    assert _resolve(root, "go", "cmd/main.go", "example.com/app/internal/store") == [
        "internal/store/cache.go",
        "internal/store/store.go",
    ]
    assert _resolve(root, "go", "cmd/main.go", "fmt") == []
    neighbours = implicit_neighbours("go", str(root / "internal/store/store.go"), _table(root))
    assert [Path(p).name for p in neighbours] == ["cache.go"]


def test_rust_mod_declarations_are_found() -> None:
    text = "mod a;\npub mod b;\npub(crate) mod c;\nmod inline { }\n// mod d;\n"
    assert rust_module_declarations(text) == ["a", "b", "c"]


def test_rust_mod_and_crate_paths(write_tree: WriteTree) -> None:
    root = write_tree(
        {
            "Cargo.toml": "[package]\n",
            "src/main.rs": "",
            "src/net.rs": "",
            "src/net/http.rs": "",
            "src/db/mod.rs": "",
        }
    )
    assert _resolve(root, "rust", "src/main.rs", "net", text="mod net;") == ["src/net.rs"]
    assert _resolve(root, "rust", "src/net.rs", "http", text="pub mod http;") == ["src/net/http.rs"]
    assert _resolve(root, "rust", "src/main.rs", "crate::net::http::Client") == ["src/net/http.rs"]
    assert _resolve(root, "rust", "src/net/http.rs", "crate::db::Pool") == ["src/db/mod.rs"]
    assert _resolve(root, "rust", "src/net/http.rs", "super::Socket") == ["src/net.rs"]
    assert _resolve(root, "rust", "src/main.rs", "std::collections::HashMap") == []


def test_c_includes_java_packages_and_lua_requires(write_tree: WriteTree) -> None:
    root = write_tree(
        {
            "src/main.c": "",
            "src/util.h": "",
            "include/proj/api.h": "",
            "java/com/acme/App.java": "",
            "java/com/acme/model/User.java": "",
            "java/com/acme/Helper.java": "",
            "lua/plugin/config.lua": "",
            "lua/plugin/init.lua": "",
        }
    )
    assert _resolve(root, "c", "src/main.c", "util.h") == ["src/util.h"]
    assert _resolve(root, "cpp", "src/main.c", "proj/api.h") == ["include/proj/api.h"]
    assert _resolve(root, "c", "src/main.c", "stdio.h") == []
    assert _resolve(root, "java", "java/com/acme/App.java", "com.acme.model", ("User",)) == [
        "java/com/acme/model/User.java"
    ]
    assert _resolve(root, "java", "java/com/acme/model/User.java", "com.acme") == [
        "java/com/acme/App.java",
        "java/com/acme/Helper.java",
    ]
    assert _resolve(root, "lua", "lua/plugin/init.lua", "plugin.config") == ["lua/plugin/config.lua"]
    assert _resolve(root, "lua", "lua/plugin/config.lua", "plugin") == ["lua/plugin/init.lua"]
    neighbours = implicit_neighbours("java", str(root / "java/com/acme/App.java"), _table(root))
    assert [Path(p).name for p in neighbours] == ["Helper.java"]
