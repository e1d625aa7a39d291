"""The bundle format (core/bundle.py): a round trip through the library database alone, id remapping, and
every kind of bad bundle refused with a clear error before anything is written."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.bundle import (
    FORMAT_VERSION,
    MANIFEST,
    BundleError,
    BundleReader,
    BundleWriter,
    Limits,
    collect_notebook,
    commit_import,
    manifest_for,
    member_problem,
    parse_bundle,
    plan_import,
    remap_refs,
    unique_name,
    write_notebook,
)
from notebooklm_local.core.chat_store import ChatStore
from notebooklm_local.core.chunking import Chunk
from notebooklm_local.core.library import Library
from notebooklm_local.core.notes import NoteStore
from notebooklm_local.core.studio_store import StudioStore

TEXT = "Glaciers carve valleys. Ice sheets hold most fresh water. Sea level rises as they melt."


def make_library(root: Path, name: str = "Ice") -> tuple[Library, str]:
    """A library with one notebook: a source (original, text, two passages), a cited note, an output, a chat."""
    lib = Library(root / "library.db", backup=False)
    nb = lib.create_notebook(name)
    src = lib.add_source(nb.id, {"path": "/home/someone/ice.txt"})
    data = TEXT.encode()
    sha = hashlib.sha256(data).hexdigest()
    blob = f"blobs/{sha[:2]}/{sha}.txt"
    (root / blob).parent.mkdir(parents=True, exist_ok=True)
    (root / blob).write_bytes(data)
    lib.store_extraction(src.id, kind="text", title="Ice", sha256=sha, blob=blob, text=TEXT,
                         blocks=[{"kind": "paragraph", "start": 0, "end": len(TEXT)}], flags=[], meta={})
    cut = TEXT.index("Ice sheets")
    lib.replace_chunks(src.id, [Chunk(0, TEXT[:cut], 0, cut, None, None, (), None, None, 5),
                                Chunk(1, TEXT[cut:], cut, len(TEXT), None, None, (), None, None, 12)])
    lib.update_source(src.id, status="ready")
    c1 = lib.source_chunks(src.id)[1]
    cit = {"passage_id": 1, "chunk_id": c1.id, "source_id": src.id, "source_title": "Ice", "page": None,
           "t_start": None, "start": cut, "end": cut + 33, "quote": TEXT[cut:cut + 33], "location": "", "url": None}
    out = StudioStore(lib).add(nb.id, "summary", "Summary", source_ids=[src.id], options={}, model="m",
                               template="summary", payload={"answer": {"citations": [cit]}})
    NoteStore(lib).add(nb.id, "Note", "Ice sheets [1]", citations=[cit], origin_kind="summary", origin_id=out.id)
    chats = ChatStore(lib)
    sess = chats.create_session(nb.id)
    chats.add_message(sess.id, "user", "Where is fresh water?")
    chats.add_message(sess.id, "assistant", "In ice sheets [1].", {"citations": [cit]})
    return lib, nb.id


def build_bundle(root: Path) -> Path:
    lib, nb_id = make_library(root / "src")
    data = collect_notebook(lib, nb_id, root / "src")
    path = root / "ice.zip"
    with path.open("wb") as f:
        w = BundleWriter(f)
        write_notebook(w, data)
        w.write_json("settings.json", {})
        w.finish(manifest_for(data, app_version="0.1.0", embedder="e1"))
    lib.close()
    return path


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return build_bundle(tmp_path)


def rewrite(src: Path, dst: Path, *, edit: Callable[[str, bytes], bytes | None] | None = None,
            manifest: Callable[[dict[str, Any]], None] | None = None, add: list[tuple[zipfile.ZipInfo, bytes]] = (),
            fix_checksums: bool = True) -> Path:
    """A copy of a bundle with members edited (None: dropped), members added, and the manifest edited; the
    manifest's sizes and checksums follow the edits unless ``fix_checksums`` is false."""
    with zipfile.ZipFile(src) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    man = json.loads(members.pop(MANIFEST))
    out: dict[str, bytes] = {}
    for name, data in members.items():
        new = edit(name, data) if edit else data
        if new is not None:
            out[name] = new
    if fix_checksums:
        man["files"] = [{"path": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in out.items()]
    if manifest:
        manifest(man)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in out.items():
            z.writestr(name, data)
        for info, data in add:
            z.writestr(info, data)
        z.writestr(MANIFEST, json.dumps(man))
    return dst


def listed(info: zipfile.ZipInfo, data: bytes) -> Callable[[dict[str, Any]], None]:
    def edit(man: dict[str, Any]) -> None:
        man["files"].append({"path": info.filename, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    return edit


def read_all(path: Path, limits: Limits | None = None) -> Any:
    with BundleReader(path, limits) as r:
        return parse_bundle(r)


# -- the good path ----------------------------------------------------------------------------------------

def test_round_trip_through_the_database(bundle: Path, tmp_path: Path) -> None:
    target = Library(tmp_path / "dst" / "library.db", backup=False)
    filler = target.create_notebook("Filler")  # other chunks first: the imported ones get other ids
    s = target.add_source(filler.id, {"url": "https://example.org"})
    target.replace_chunks(s.id, [Chunk(i, f"filler {i}", 0, 1, None, None, (), None, None, 1) for i in range(7)])
    with BundleReader(bundle) as r:
        assert r.manifest["format_version"] == FORMAT_VERSION and r.manifest["embedder"] == "e1"
        data = parse_bundle(r)
    plan = plan_import(target, data, None)
    res = commit_import(target, plan, data, blob_of=lambda sd: None)
    nb = target.notebook("Ice")
    (src,) = target.sources(nb.id)
    assert target.source_text(src.id)[0] == TEXT and src.status == "chunked" and src.n_chunks == 2
    assert src.ref == {} and src.meta["original_name"] == "ice.txt"  # no original given here (blob_of: None)
    with zipfile.ZipFile(bundle) as z:
        assert b"/home/someone" not in z.read("sources.json")  # where the file lived stays on that machine
    note = NoteStore(target).list(nb.id)[0]
    (cit,) = note.citations
    assert cit["source_id"] == src.id and cit["chunk_id"] in res.chunk_ids.values()
    chunk = target.chunks([cit["chunk_id"]])[cit["chunk_id"]]
    assert chunk.source_id == src.id and chunk.text.startswith(cit["quote"])
    assert TEXT[cit["start"]:cit["end"]] == cit["quote"]
    out = StudioStore(target).list(nb.id)[0]
    assert out.source_ids == [src.id] and out.payload["answer"]["citations"] == [cit]
    assert note.origin_id == out.id  # the note still names the output it came from
    (sess,) = ChatStore(target).sessions(nb.id)
    assert [m.role for m in ChatStore(target).messages(sess.id)] == ["user", "assistant"]
    assert ChatStore(target).messages(sess.id)[1].payload["citations"] == [cit]
    assert target.lexical_search(nb.id, "fresh water")  # the passages are in the keyword index
    # again: a second notebook "Ice (2)"; into the first: the source is already there, nothing duplicated
    commit_import(target, plan_import(target, data, None), data, blob_of=lambda sd: None)
    assert [n.name for n in target.notebooks()] == ["Filler", "Ice", "Ice (2)"]
    plan = plan_import(target, data, "Ice")
    assert not plan.sources and [e for _, e in plan.duplicates] == [src.id]
    res = commit_import(target, plan, data, blob_of=lambda sd: None)
    assert len(target.sources(nb.id)) == 1
    notes = NoteStore(target).list(nb.id)
    assert len(notes) == 2 and all(n.citations[0]["chunk_id"] == cit["chunk_id"] for n in notes)


def test_remap_refs() -> None:
    data = {"citations": [{"chunk_id": 5, "source_id": "a", "quote": "q"}, {"chunk_id": 9, "source_id": "z"}],
            "source_ids": ["a", "b", 3], "nested": [[{"chunk_ids": [5, 6, "x"]}]], "chunk_id": True}
    out = remap_refs(data, {"a": "A"}, {5: 50})
    assert out == {"citations": [{"chunk_id": 50, "source_id": "A", "quote": "q"}, {"chunk_id": -1, "source_id": "z"}],
                   "source_ids": ["A", "b", 3], "nested": [[{"chunk_ids": [50, -1, "x"]}]], "chunk_id": True}
    assert data["citations"][0]["chunk_id"] == 5  # a copy


def test_unique_name(tmp_path: Path) -> None:
    lib = Library(tmp_path / "l.db", backup=False)
    assert unique_name(lib, "Ice") == "Ice"
    lib.create_notebook("Ice")
    lib.create_notebook("ice (2)")
    assert unique_name(lib, "ICE") == "ICE (3)"


# -- bad bundles ------------------------------------------------------------------------------------------

def test_truncated_zip(bundle: Path, tmp_path: Path) -> None:
    data = bundle.read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 10):
        p = tmp_path / f"cut{cut}.zip"
        p.write_bytes(data[:cut])
        with pytest.raises(BundleError, match="not a complete .zip bundle"):
            BundleReader(p)
    (tmp_path / "empty.zip").write_bytes(b"")
    with pytest.raises(BundleError, match="not a complete"):
        BundleReader(tmp_path / "empty.zip")
    with pytest.raises(BundleError, match="No bundle at"):
        BundleReader(tmp_path / "nope.zip")


def test_damaged_member_data(bundle: Path, tmp_path: Path) -> None:
    """Bytes flipped inside a compressed member (the zip's directory intact): reading it fails clearly."""
    raw = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(bundle) as z:
        info = z.getinfo("sources.json")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 2, start + min(12, info.compress_size - 2)):
        raw[i] ^= 0xFF
    p = tmp_path / "flipped.zip"
    p.write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="damaged"):
        read_all(p)


def test_newer_format_version(bundle: Path, tmp_path: Path) -> None:
    p = rewrite(bundle, tmp_path / "new.zip", manifest=lambda m: m.update(format_version=FORMAT_VERSION + 1,
                                                                         app_version="9.0.0"))
    with pytest.raises(BundleError, match=r"made by notebooklm-local 9\.0\.0 \(bundle format 2\).*Update"):
        BundleReader(p)


@pytest.mark.parametrize("change, message", [
    (lambda m: m.update(format="something-else"), "not a notebooklm-local notebook bundle"),
    (lambda m: m.update(format_version="1"), "format version '1' is not valid"),
    (lambda m: m.pop("files"), "lists no files"),
    (lambda m: m["files"].append({"path": "x", "size": 1}), "malformed file entry"),
])
def test_bad_manifest(bundle: Path, tmp_path: Path, change: Callable[[dict[str, Any]], None], message: str) -> None:
    with pytest.raises(BundleError, match=message):
        BundleReader(rewrite(bundle, tmp_path / "bad.zip", manifest=change))


def test_not_a_bundle(tmp_path: Path) -> None:
    p = tmp_path / "photos.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("a.jpg", b"\xff\xd8")
    with pytest.raises(BundleError, match="has no manifest.json"):
        BundleReader(p)
    with zipfile.ZipFile(p, "w") as z:
        z.writestr(MANIFEST, b"{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        BundleReader(p)


def _symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize("name, why", [
    ("../evil.txt", "leaves its folder"),
    ("sources/../../evil.txt", "leaves its folder"),
    ("/etc/evil.txt", "absolute path"),
    ("C:/evil.txt", "absolute path"),
    ("sources\\..\\evil.txt", "backslash"),
    ("sources//evil.txt", "leaves its folder"),
    ("./evil.txt", "leaves its folder"),
])
def test_zip_slip_names(bundle: Path, tmp_path: Path, name: str, why: str) -> None:
    info = zipfile.ZipInfo(name)
    p = rewrite(bundle, tmp_path / "slip.zip", add=[(info, b"owned")], manifest=listed(info, b"owned"))
    with pytest.raises(BundleError, match=f"member .* has an? .*{why}"):
        BundleReader(p)
    assert not (tmp_path.parent / "evil.txt").exists()


def test_symlink_member(bundle: Path, tmp_path: Path) -> None:
    info = _symlink("templates/link.toml")
    p = rewrite(bundle, tmp_path / "link.zip", add=[(info, b"/etc/passwd")], manifest=listed(info, b"/etc/passwd"))
    with pytest.raises(BundleError, match="symbolic link"):
        BundleReader(p)
    assert member_problem(zipfile.ZipInfo("sources/abc/text.txt")) is None


def test_members_must_match_the_manifest(bundle: Path, tmp_path: Path) -> None:
    info = zipfile.ZipInfo("extra.bin")
    with pytest.raises(BundleError, match="'extra.bin' is not listed in its manifest"):
        BundleReader(rewrite(bundle, tmp_path / "a.zip", add=[(info, b"x")]))
    with pytest.raises(BundleError, match="'notes.json' is listed in the manifest but missing"):
        BundleReader(rewrite(bundle, tmp_path / "b.zip", edit=lambda n, d: None if n == "notes.json" else d,
                             fix_checksums=False))
    with pytest.raises(BundleError, match="'notes.json' is 3 bytes, the manifest says"):
        BundleReader(rewrite(bundle, tmp_path / "c.zip", edit=lambda n, d: b"[ ]" if n == "notes.json" else d,
                             fix_checksums=False))
    dup = zipfile.ZipInfo("NOTES.json")
    with pytest.raises(BundleError, match="appears twice"):
        BundleReader(rewrite(bundle, tmp_path / "d.zip", add=[(dup, b"[]")], manifest=listed(dup, b"[]")))


def test_checksum_mismatch(bundle: Path, tmp_path: Path) -> None:
    def swap(name: str, data: bytes) -> bytes:
        return data.replace(b"Glaciers", b"Glacierz") if name.endswith("text.txt") else data

    p = rewrite(bundle, tmp_path / "changed.zip", edit=swap, fix_checksums=False)
    with BundleReader(p) as r:  # the structure is fine: the change shows when the member is read
        with pytest.raises(BundleError, match=r"checksum of 'sources/[0-9a-f]+/text.txt' does not match"):
            parse_bundle(r)


def test_inconsistent_data_is_refused(bundle: Path, tmp_path: Path) -> None:
    def bad_chunks(name: str, data: bytes) -> bytes:
        if name.endswith("chunks.json"):
            chunks = json.loads(data)
            chunks[0]["char_end"] = 10**6  # a span past the text's end
            return json.dumps(chunks).encode()
        return data

    with pytest.raises(BundleError, match="chunks.json: malformed chunk"):
        read_all(rewrite(bundle, tmp_path / "a.zip", edit=bad_chunks))

    def bad_original(name: str, data: bytes) -> bytes:
        if name == "sources.json":
            recs = json.loads(data)
            recs[0]["original"] = "originals/../../x"
            return json.dumps(recs).encode()
        return data

    with pytest.raises(BundleError, match="its original is not in the bundle"):
        read_all(rewrite(bundle, tmp_path / "b.zip", edit=bad_original))
    with pytest.raises(BundleError, match="notes.json: malformed note"):
        read_all(rewrite(bundle, tmp_path / "c.zip", edit=lambda n, d: b'[{"id": 1}]' if n == "notes.json" else d))
    with pytest.raises(BundleError, match="'chats.json' is not valid JSON"):
        read_all(rewrite(bundle, tmp_path / "d.zip", edit=lambda n, d: b"[{" if n == "chats.json" else d))


def test_size_limits(bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="files add up to more than"):
        BundleReader(bundle, Limits(max_total_bytes=500))
    with pytest.raises(BundleError, match="uncompressed \\(limit"):
        BundleReader(bundle, Limits(max_member_bytes=100))
    with pytest.raises(BundleError, match="at most 3 are accepted"):
        BundleReader(bundle, Limits(max_members=3))
    with BundleReader(bundle, Limits(max_json_bytes=50)) as r, pytest.raises(BundleError, match="limit"):
        parse_bundle(r)


def test_zip_bomb(bundle: Path, tmp_path: Path) -> None:
    """A member that expands enormously is refused by its ratio; one whose header declares less than it holds
    never yields more than declared (and fails its check)."""
    zeros = b"\0" * (20 * 1024**2)
    info = zipfile.ZipInfo("templates/bomb.toml")
    info.compress_type = zipfile.ZIP_DEFLATED
    p = rewrite(bundle, tmp_path / "bomb.zip", add=[(info, zeros)], manifest=listed(info, zeros))
    with pytest.raises(BundleError, match="expands .* times"):
        BundleReader(p)

    # a header that lies: 64 KiB declared, 4 MiB inside
    data = b"A" * (4 * 1024**2)
    lie = 65536
    src = io.BytesIO()
    with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("sources.json", data)
    raw = bytearray(src.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as z:
        i = z.getinfo("sources.json")
    struct.pack_into("<I", raw, i.header_offset + 22, lie)  # local header: uncompressed size
    cd = raw.rfind(b"PK\x01\x02")
    struct.pack_into("<I", raw, cd + 24, lie)  # central directory: uncompressed size
    fake = {"format": "notebooklm-local-bundle", "format_version": 1,
            "files": [{"path": "sources.json", "size": lie, "sha256": "0" * 64}]}
    p2 = tmp_path / "liar.zip"
    p2.write_bytes(bytes(raw))
    with zipfile.ZipFile(p2, "a") as z:
        z.writestr(MANIFEST, json.dumps(fake))
    with BundleReader(p2, Limits(max_ratio=10**6)) as r:
        sink = io.BytesIO()
        with pytest.raises(BundleError, match="damaged|larger than it declares"):
            r.copy_member("sources.json", sink)
        assert sink.tell() <= lie


def test_notebook_settings_travel_and_are_checked(tmp_path: Path) -> None:
    from notebooklm_local.core.chat_goals import MAX_PERSONA_CHARS, notebook_goal, set_notebook_goal

    lib, nb_id = make_library(tmp_path / "src")
    set_notebook_goal(lib, nb_id, "custom", "You are a glaciologist. Answer tersely.", "shorter")
    data = collect_notebook(lib, nb_id, tmp_path / "src")
    assert data.notebook["settings"]["chat_goal"]["goal"] == "custom"
    target = Library(tmp_path / "dst" / "library.db", backup=False)
    res = commit_import(target, plan_import(target, data, None), data, blob_of=lambda sd: None)
    goal = notebook_goal(target, "Ice")
    assert (goal.goal, goal.persona, goal.length) == ("custom", "You are a glaciologist. Answer tersely.", "shorter")
    assert not res.warnings
    # into an existing notebook: its own settings are kept, and the report says so
    res = commit_import(target, plan_import(target, data, "Ice"), data, blob_of=lambda sd: None)
    assert any("keeps its own" in w for w in res.warnings)
    # a bundle whose goal was edited by hand: never stored unchecked
    for bad in ({"goal": "custom", "persona": "x" * (MAX_PERSONA_CHARS + 1)}, {"goal": "evil"},
                {"goal": "custom", "persona": ["not text"]}):
        data.notebook["settings"] = {"chat_goal": bad, "other": 1}
        res = commit_import(target, plan_import(target, data, None), data, blob_of=lambda sd: None)
        assert any("chat goal was not imported" in w for w in res.warnings)
        nb = target.notebooks()[-1]
        assert nb.settings == {"other": 1} and notebook_goal(target, nb.id).goal == "default"


def test_sources_that_were_never_indexed_are_left_out_and_listed(tmp_path: Path) -> None:
    lib, nb_id = make_library(tmp_path / "src")
    bad = lib.add_source(nb_id, {"url": "https://example.org/gone"})
    lib.update_source(bad.id, status="failed", error="HTTP 404", title="gone")
    data = collect_notebook(lib, nb_id, tmp_path / "src")
    assert [sd.title for sd in data.sources] == ["Ice"]
    assert data.skipped == [("gone", "not indexed (failed: HTTP 404)")]
    man = manifest_for(data, app_version="0.1.0", embedder="")
    assert man["left_out"] == [{"what": "gone", "why": "not indexed (failed: HTTP 404)"}]
    assert man["counts"]["sources"] == 1
