"""Broken snippets per language: the inputs of the golden tests (one syntax error each, named by the rule)."""

from __future__ import annotations

CASES: dict[str, list[tuple[str, str]]] = {
    "python": [
        ("missing colon", "if ready\n    start()\n"),
        ("missing colon after def", "def area(w, h)\n    return w * h\n"),
        ("unclosed paren", "total = sum(values\nprint(total)\n"),
        ("stray paren", "x = compute(1))\n"),
        ("unterminated string", "name = 'world\nprint(name)\n"),
        ("misspelled keyword", "def f(x):\n    retrun x\n"),
        ("missing comma", "point = [1, 2 3]\n"),
        ("duplicate comma", "call(a,, b)\n"),
        ("expected indented block", "def f():\nreturn 1\n"),
        ("unexpected indent", "def f():\n    a = 1\n      b = 2\n    return a + b\n"),
        ("over-indented first line", "for k in d:\n      v = d[k]\n    print(v)\n"),
        ("misaligned else", "if a:\n    b()\n  else:\n    c()\n"),
        ("stray else", "if a:\n    pass\nelse\n    pass\n"),
        (
            "missing colon far below the top",
            'import os\n\n\nclass A:\n    x = 1\n\n\ndef setraw(fd, when=1)\n    """Doc."""\n    return fd\n',
        ),
        ("opening quote missing", "names = ['a', b', 'c']\n"),
        ("stray closer lost its opener", "if ready) and go:\n    pass\n"),
        ("unclosed at end of line", "class A:\n    def close(self):\n        self.stream.close(\n"),
        ("misspelled keyword far below the top", "import os\n\n\ndeff run(a):\n    return a\n"),
        ("module name is not a misspelled keyword", "from types import GenericAlias\nx = (1\n"),
        # injections into real files (the end of the standard library's io.py) that used to get a wrong
        # alternative too: ',' closes the header's tuple and leaves the statement broken
        (
            "for header lost its colon (io.py)",
            "for klass in (BytesIO, BufferedReader, BufferedWriter, BufferedRandom,\n"
            "              BufferedRWPair):\n    BufferedIOBase.register(klass)\n\n"
            "for klass in (StringIO, TextIOWrapper)\n    TextIOBase.register(klass)\ndel klass\n\n"
            "try:\n    from _io import _WindowsConsoleIO\nexcept ImportError:\n    pass\n"
            "else:\n    RawIOBase.register(_WindowsConsoleIO)\n",
        ),
        (
            "continued for header lost its colon (io.py)",
            "for klass in (BytesIO, BufferedReader, BufferedWriter, BufferedRandom,\n"
            "              BufferedRWPair)\n    BufferedIOBase.register(klass)\n\n"
            "for klass in (StringIO, TextIOWrapper):\n    TextIOBase.register(klass)\ndel klass\n\n"
            "try:\n    from _io import _WindowsConsoleIO\nexcept ImportError:\n    pass\n"
            "else:\n    RawIOBase.register(_WindowsConsoleIO)\n",
        ),
        ("dict entry lost its colon", "d = {\n    'name' fullname,\n    'path': fullpath,\n}\n"),
        (
            "call lost its paren: no fix rather than a wrong one",
            "def f():\n    warnings.warn'deprecated',\n                  DeprecationWarning)\n    return 1\n",
        ),
        ("clean", "def ok(a):\n    return a\n"),
    ],
    "javascript": [
        ("missing brace", "function f() {\n  return 1;\n"),
        ("missing bracket", "let xs = [1, 2;\n"),
        ("missing paren in if", "if (x { y(); }\n"),
        ("unterminated string", "let s = 'abc;\nlet t = 1;\n"),
        ("stray brace", "function f() { return 1; }}\n"),
        ("misspelled keyword", "funtion f() { return 1; }\n"),
        ("missing comma in object", "const o = {a: 1 b: 2};\n"),
        ("require lost its quote", "const { URLSerializer } = require(../fetch/data-url')\n"),
        ("misspelled throw", "function f() {\n  throow new Error('x');\n}\n"),
        ("method lost its paren", "class A {\n  clone ) {\n    return 1;\n  }\n}\n"),
    ],
    "typescript": [
        ("missing value", "let x: number = ;\n"),
        ("missing paren", "function f(a: number { return a; }\n"),
        ("unterminated string", 'const s: string = "abc;\n'),
        (
            "return type lost its colon",
            "function category(file: File) Category | null {\n\treturn null;\n}\n",
        ),
        ("annotation lost its colon", "export const MAP readonly [RegExp, string][] = [];\n"),
        ("doubled paren in parameters", "function escape((token: string): string {\n\treturn token;\n}\n"),
    ],
    "tsx": [
        ("unclosed brace in jsx", "const a = <div>{x</div>;\n"),
        ("missing paren", "const f = (a: number => a;\n"),
    ],
    "go": [
        ("missing brace", "package main\n\nfunc f() {\n\tx := 1\n"),
        ("missing paren", 'package main\n\nfunc f() { fmt.Println("a" }\n'),
        ("unterminated string", 'package main\n\nfunc f() {\n\ts := "abc\n}\n'),
    ],
    "rust": [
        ("missing semicolon", "fn f() { let x = 1 let y = 2; }\n"),
        ("missing paren", "fn f() { let x = (1, 2; }\n"),
        ("unterminated string", 'fn f() { let s = "abc; }\n'),
    ],
    "java": [
        ("missing semicolon", "class A { void f() { int x = 1 } }\n"),
        ("stray else", "class A { void f() { if (x) { } else } }\n"),
    ],
    "c": [
        ("missing semicolon", "int f() { return 1 }\n"),
        ("missing paren", "int f() { return (1; }\n"),
    ],
    "cpp": [
        ("unterminated string", 'int f() { std::string s = "a; }\n'),
        ("missing brace", "int f() {\n  return 1;\n"),
    ],
    "lua": [
        ("missing end", "function f()\n  return 1\n"),
        ("missing paren", "local x = (1 + 2\n"),
        ("stray end", "if x then y() end end\n"),
    ],
}
