"""The workspace index (``index.WorkspaceIndex``) and its rooms: options, store, sources, indexer, retrieval,
render; and the parts below them: file walking, chunk search, import resolution, file watching."""
