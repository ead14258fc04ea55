"""The document store: real wordllama embeddings and an embedded Qdrant on disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge import InputError, Settings
from knowledge.documents import DEMO_CORPUS, DocumentStore, read_sections

DOCS = {
    "wps-fcaw-4f.md": """---
document_id: WPS-FCAW-4F
title: FCAW fillet welds overhead
kind: wps
system: hull
revision: 3
---
# FCAW fillet welds overhead

## Applicability
Fillet welds in the overhead position 4F with flux-cored wire on AH36 and DH36 plates 6 to 20 mm.

## Parameters
Wire 1.2 mm, 180-220 A, 24-27 V, travel 25-35 cm/min, stringer beads only; interpass below 200 C.
""",
    "ndt-erection.md": """---
document_id: NDT-ERE-01
title: NDT of erection butt welds
kind: ndt_rule
block: B012
---
# NDT of erection butt welds

## Extent
Every erection butt weld gets 100 % ultrasonic testing; one-sided welds on ceramic backing also radiography.

## Acceptance
No cracks, no lack of fusion, no incomplete penetration. Porosity up to 3 % of the projected area.
""",
    "lesson-b047.md": """---
document_id: LL-B047
title: Cable trays installed before ducts in B047
kind: lesson
block: B047
---
# Cable trays installed before ducts in B047

## What happened
Cable trays were fitted on-block before the HVAC ducts, and 40 m of tray had to come out again: rework.

## What to do
Fit ducts first in congested deck blocks; pull cables on-board after erection.
""",
}


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF with one line of text, with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text)
    (folder / "preheat.pdf").write_bytes(minimal_pdf("Preheat DH36 plates thicker than 25 mm to 100 C before welding"))
    return folder


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DocumentStore]:
    with DocumentStore(Settings(data_dir=tmp_path / "data")) as s:
        yield s


def test_ingest_search_and_cite(store: DocumentStore, corpus: Path) -> None:
    counts = store.ingest([corpus])
    assert counts == {"WPS-FCAW-4F": 2, "NDT-ERE-01": 2, "LL-B047": 2, "preheat": 1}
    assert store.count() == 7
    hits = store.search("which welds need ultrasonic testing after erection?")
    assert hits[0].document_id == "NDT-ERE-01" and hits[0].citation == "NDT-ERE-01 \u00a7 Extent"
    overhead = store.search("welding parameters for overhead fillets", kind="wps")
    assert {h.document_id for h in overhead} == {"WPS-FCAW-4F"}
    assert store.search("what went wrong", block="B047")[0].document_id == "LL-B047"
    assert store.search("preheat before welding thick plates")[0].document_id == "preheat"  # from the PDF


def test_a_blank_line_before_the_title_adds_no_section(tmp_path: Path) -> None:
    doc = tmp_path / "spaced.md"
    doc.write_text("---\ntitle: Spaced\n---\n\n# Spaced\n\n## Only\nSome text.\n")
    assert [s.section for s in read_sections(doc)] == ["Only"]


def test_ingesting_again_replaces_instead_of_duplicating(store: DocumentStore, corpus: Path) -> None:
    store.ingest([corpus])
    store.ingest([corpus])
    assert store.count() == 7
    (corpus / "lesson-b047.md").write_text(DOCS["lesson-b047.md"].split("## What to do")[0])
    store.ingest([corpus / "lesson-b047.md"])
    assert store.count() == 6  # the lesson lost a section, and its old one is gone


def test_bad_input(store: DocumentStore, corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="the query is empty"):
        store.search("   ")
    with pytest.raises(InputError, match="4,001 characters; the limit is 4,000"):
        store.search("x" * 4001)
    with pytest.raises(InputError, match="limit must be between 1 and 100"):
        store.search("weld", limit=0)
    with pytest.raises(InputError, match="no file or folder at"):
        store.ingest([tmp_path / "missing.md"])
    (tmp_path / "drawing.dwg").write_bytes(b"\x00\x01")
    with pytest.raises(InputError, match=r"documents are Markdown \(.md\), text \(.txt\) or PDF \(.pdf\), not '.dwg'"):
        store.ingest([tmp_path / "drawing.dwg"])
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(InputError, match="not a readable PDF"):
        store.ingest([tmp_path / "broken.pdf"])
    assert store.count() == 0  # nothing stored half-way


def test_the_demo_corpus(tmp_path: Path) -> None:
    files = [p for p in DEMO_CORPUS.glob("*.md") if p.name != "README.md"]
    assert len(files) >= 30
    kinds = {read_sections(p)[0].kind for p in files}
    assert {"wps", "ndt_rule", "outfitting_rule", "lesson"} <= kinds
    with DocumentStore(Settings(data_dir=tmp_path)) as store:
        counts = store.ingest([DEMO_CORPUS])
        assert len(counts) == len(files)
        top = store.search("how much NDT do overhead butt welds need?", limit=3)
        assert any(h.kind == "ndt_rule" for h in top)
