"""Chunking and identifier-overlap search (BM25 candidates, Jaccard ranking)."""

from __future__ import annotations

from completion.workspace.chunks import ChunkStore, identifier_tokens


def test_identifier_tokens_drop_keywords_and_single_letters() -> None:
    assert identifier_tokens("def load_config(path, x):\n    return self.parse(path)") == {
        "load_config",
        "path",
        "parse",
    }


def test_windows_overlap_and_reach_the_end() -> None:
    store = ChunkStore(window_lines=4, stride_lines=2)
    assert list(store.windows(9)) == [(0, 4), (2, 6), (4, 8), (6, 9)]
    assert list(store.windows(3)) == [(0, 3)]


def test_search_ranks_by_shared_rare_identifiers_and_excludes_a_path() -> None:
    store = ChunkStore(window_lines=3, stride_lines=3)
    store.add_file("/a.py", "alpha_one beta_two gamma_three\ncommon_name other_name\nfiller_word\n")
    store.add_file("/b.py", "alpha_one beta_two delta_four\ncommon_name\nzeta_six\n")
    store.add_file("/c.py", "unrelated_x unrelated_y unrelated_z\n")
    hits = store.search({"alpha_one", "beta_two", "gamma_three"}, limit=5)
    assert [hit.path for hit in hits] == ["/a.py", "/b.py"]
    assert hits[0].jaccard > hits[1].jaccard > 0
    assert [hit.path for hit in store.search({"alpha_one", "beta_two"}, limit=5, exclude_path="/a.py")] == [
        "/b.py"
    ]


def test_replacing_and_removing_a_file_updates_search_and_survives_compaction() -> None:
    store = ChunkStore(window_lines=2, stride_lines=2)
    store.add_file("/a.py", "old_name_one old_name_two old_name_three\n")
    store.add_file("/a.py", "new_name_one new_name_two new_name_three\n")
    assert store.search({"old_name_one", "old_name_two"}, limit=3) == []
    assert [h.path for h in store.search({"new_name_one"}, limit=3)] == ["/a.py"]
    for index in range(30):
        store.add_file(f"/f{index}.py", f"token_{index} shared_aa shared_bb\n")
    for index in range(25):
        store.remove_file(f"/f{index}.py")
    store.compact()
    assert store.live_chunks == 6
    assert {h.path for h in store.search({"shared_aa", "shared_bb"}, limit=10)} == {
        f"/f{index}.py" for index in range(25, 30)
    }
    assert store.chunks_of("/f29.py") == [(0, 1)]


def test_store_stops_at_its_chunk_limit() -> None:
    store = ChunkStore(window_lines=1, stride_lines=1, max_chunks=2)
    added = store.add_file("/a.py", "aa_x bb_x cc_x\ndd_x ee_x ff_x\ngg_x hh_x ii_x\n")
    assert added == 2 and store.live_chunks == 2
