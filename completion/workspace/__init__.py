"""Parts of the workspace index: file walking, chunk search, import resolution, file watching."""
