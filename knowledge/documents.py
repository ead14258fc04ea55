"""The document store: procedures, inspection rules and lessons learned, searchable with citations.

Documents (Markdown, plain text, PDF) are cut into sections (a Markdown section is what a `##` heading opens),
and each section into passages: its sentences, list items and table rows, a row keeping its table's header
(`knowledge._chunks`). Every section and every passage is a point in Qdrant with two named vectors:

- `dense`: its meaning, embedded offline (the `wordllama` package ships its weights; nothing is downloaded);
- `sparse`: its keywords, BM25 term weights from a tokenizer of our own (`knowledge._sparse`), the IDF
  supplied by Qdrant (`Modifier.IDF`).

A search runs both rankings as prefetches of one Query API call and fuses them by reciprocal rank
(`RrfQuery`, k = 60); the points are grouped by section, best first, and each hit carries the passage that
matched best (the sentence, list item or table row with its header) and how much of the question's
informative wording the section holds (`coverage`, IDF-weighted), which tells an answer from a guess.

Where the points live: by default in one file, `DATA_DIR/qdrant/documents.parquet` (payloads, dense and sparse
vectors), searched by Qdrant's embedded engine in memory (`QdrantClient(":memory:")`, the same Query API a
server runs); with `SHIPBRAIN_QDRANT_URL`, in a Qdrant server. The file lets any number of processes share the
store: `shipbrain serve` and the CLI each load it, read it again when another one rewrote it (checked before
every search), and ingest under a lock (`DATA_DIR/qdrant/ingest.lock`), writing a new file and renaming it over
the old one, so a reader never sees half of one. (qdrant-client's on-disk embedded mode, which earlier releases
used, locks its folder to one process and commits each point on its own; it loads every point into memory
anyway.) This suits a corpus of up to about 20,000 points (the embedded engine scans in Python); past that, run
a Qdrant server.

Markdown files may start with a front matter of `key: value` lines between `---` lines
(`document_id`, `title`, `kind`, `system`, `block`, `revision`). Ingesting a document again replaces its
sections instead of adding them twice. The on-disk store of an earlier release is converted (indexed again
from its own payloads) the first time a store opens its data dir.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from knowledge import _chunks, _sparse
from knowledge.errors import InputError
from knowledge.settings import Settings, get_settings

if TYPE_CHECKING:
    from qdrant_client import QdrantClient, models

__all__ = [
    "DEMO_CORPUS",
    "DocumentHit",
    "DocumentStore",
    "DocumentStoreBusyError",
    "Embedder",
    "Section",
    "WordLlamaEmbedder",
    "documents_held",
    "read_sections",
]

DEMO_CORPUS: Final = Path(__file__).parent / "corpus"
"""The demo corpus that ships with Shipbrain: welding procedures, NDT rules, outfitting rules, lessons."""
COLLECTION: Final = "documents"
POINTS_FILE: Final = "documents.parquet"
"""The file in `data_dir/qdrant` that holds every point of the default (embedded) store."""
POINTS_FORMAT: Final = "shipbrain-documents/1"
INGEST_WAIT_S: Final = 120.0
"""How long an ingest waits for another process's ingest to finish."""
DENSE: Final = "dense"
SPARSE: Final = "sparse"
MAX_QUERY_CHARS: Final = 4_000
ANSWERS_AT: Final = 0.25
"""The coverage from which a hit is taken to answer the question (below it, the best section matches only part
of what was asked, e.g. the topic but not the object)."""
CANDIDATES: Final = 60
"""Points each ranking (meaning, keywords) brings to the fusion, at least."""
RRF_K: Final = 60
"""Reciprocal rank fusion's constant: a point's fused score is the sum over rankings of 1 / (k + rank); 60 is the
constant of the method's paper (Cormack, Clarke and Buettcher, 2009), which damps the weight of a first place."""
_NAMESPACE: Final = uuid.UUID("6f1c8a52-2f6e-4d53-9a0e-5b7c0f3d2a11")
DocumentKind = Literal["wps", "ndt_rule", "outfitting_rule", "lesson", "procedure", "text"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit vectors of a fixed dimension."""

    dimension: int

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One row per text."""
        ...


class WordLlamaEmbedder:
    """Offline embeddings from the weights the `wordllama` package ships (256 dimensions)."""

    def __init__(self, dimension: int = 256) -> None:
        import wordllama
        from wordllama import WordLlama

        # wordllama 0.4.0.post1 looks for its bundled tokenizer in the wrong folder and would then
        # try to download it: point it at the package itself and forbid downloads.
        self._model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True, dim=dimension)
        self.dimension = dimension

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Normalised embeddings."""
        return np.asarray(self._model.embed(list(texts), norm=True), dtype=np.float32)


class Section(BaseModel):
    """One searchable piece of a document."""

    model_config = ConfigDict(frozen=True)

    document_id: str
    title: str
    section: str
    text: str
    kind: str = "text"
    system: str | None = None
    block: str | None = None
    revision: str | None = None
    source: str


class DocumentHit(BaseModel):
    """A section that answers a query, with where it comes from and the passage of it that matched best."""

    model_config = ConfigDict(frozen=True)

    document_id: str
    title: str
    section: str
    text: str
    kind: str
    system: str | None = None
    block: str | None = None
    score: float = Field(
        description="The fused rank score (reciprocal rank fusion of the meaning and keyword rankings) of the "
        "section's best point: higher is better, comparable within one search only."
    )
    passage: str | None = Field(
        default=None,
        description="The sentence, list item or table row (under its header: three Markdown lines) that matched "
        "best; None when the section has no passage.",
    )
    row: str | None = Field(
        default=None,
        description="When the best passage is prose and the section holds a table: its best row (under its header).",
    )
    coverage: float = Field(
        default=0.0,
        description="How much of the query's informative wording the section holds, 0 to 1: the IDF-weighted "
        "share of the query's terms found in its title, heading and text.",
    )

    @property
    def citation(self) -> str:
        """How an answer cites it: document id and section."""
        return f"{self.document_id} \u00a7 {self.section}"

    @property
    def answers(self) -> bool:
        """Whether the section likely answers the query: its coverage reaches `ANSWERS_AT`."""
        return self.coverage >= ANSWERS_AT

    @property
    def fact(self) -> str:
        """The best passage on one line (a table row as `header: value` pairs), then the best row if there is one.

        The section's start when it has no passage.
        """
        if not self.passage:
            return " ".join(self.text.split())[:300]
        lead = _chunks.one_line(self.passage)
        if not self.row:
            return lead
        return f"{lead}{' ' if lead.endswith(':') else ' | '}{_chunks.one_line(self.row)}"


class DocumentStoreBusyError(InputError):
    """Another process holds the document store: it is ingesting, or (a store of an earlier release) has it open."""


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    for end in range(1, len(lines)):
        if lines[end].strip() == "---":
            meta = {}
            for line in lines[1:end]:
                key, sep, value = line.partition(":")
                if sep:
                    meta[key.strip()] = value.strip().strip('"')
            return meta, "\n".join(lines[end + 1 :])
    return {}, text


def _markdown_sections(body: str, title: str) -> list[tuple[str, str]]:
    sections: list[tuple[str, list[str]]] = [("Overview", [])]
    for line in body.splitlines():
        if line.startswith("## "):
            sections.append((line[3:].strip(), []))
        elif line.startswith("# ") and len(sections) == 1 and not "".join(sections[0][1]).strip():
            continue  # the document's own title, blank lines before it or not
        else:
            sections[-1][1].append(line)
    return [(name, "\n".join(lines).strip()) for name, lines in sections if "\n".join(lines).strip()]


def _text_sections(body: str, words_per_part: int = 200) -> list[tuple[str, str]]:
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
    parts: list[list[str]] = [[]]
    for paragraph in paragraphs:
        if sum(len(p.split()) for p in parts[-1]) > words_per_part:
            parts.append([])
        parts[-1].append(paragraph)
    return [(f"part {i + 1}", "\n\n".join(ps)) for i, ps in enumerate(parts) if ps]


def read_sections(path: Path) -> list[Section]:
    """The sections of one file (Markdown, text or PDF).

    Raises:
        InputError: an unsupported file type, an unreadable file, or one with no text.
    """
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        try:
            pages = [
                (f"page {i + 1}", (page.extract_text() or "").strip()) for i, page in enumerate(PdfReader(path).pages)
            ]
        except (PdfReadError, OSError) as exc:
            raise InputError(f"{str(path)!r} is not a readable PDF ({exc})") from None
        meta: dict[str, str] = {}
        parts = [(name, text) for name, text in pages if text]
    elif suffix in (".md", ".markdown", ".txt"):
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{str(path)!r} cannot be read as UTF-8 text ({exc})") from None
        meta, body = _front_matter(raw)
        title_line = next((line[2:].strip() for line in body.splitlines() if line.startswith("# ")), None)
        meta.setdefault("title", title_line or path.stem)
        parts = _markdown_sections(body, meta["title"]) if suffix != ".txt" else _text_sections(body)
    else:
        raise InputError(f"{str(path)!r}: documents are Markdown (.md), text (.txt) or PDF (.pdf), not {suffix!r}")
    if not parts:
        raise InputError(f"{str(path)!r} holds no text to index")
    document_id = meta.get("document_id") or path.stem
    return [
        Section(
            document_id=document_id,
            title=meta.get("title", path.stem),
            section=name,
            text=text,
            kind=meta.get("kind", "text"),
            system=meta.get("system") or None,
            block=meta.get("block") or None,
            revision=meta.get("revision"),
            source=str(path),
        )
        for name, text in parts
    ]


class DocumentStore:
    """Sections and their passages in Qdrant, searchable by meaning and by keywords, with payload filters.

    Any number of stores (in one process or several: `shipbrain serve` and the CLI) may be open on one data dir:
    each holds the points in memory, reads the points file when another one rewrote it, and ingests under a lock.

    Args:
        settings: where the points file lives (`data_dir/qdrant/documents.parquet`) or which Qdrant server to use
            (`qdrant_url`).
        embedder: how texts become dense vectors (default: `WordLlamaEmbedder`).
    """

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None) -> None:
        from qdrant_client import QdrantClient

        self.settings = settings or get_settings()
        self.embedder = embedder or WordLlamaEmbedder()
        self._stats: tuple[int, Counter[str]] | None = None
        self._file: Path | None = None
        self._stamp: tuple[int, int, int] | None = None
        if self.settings.qdrant_url:
            self.client = QdrantClient(url=self.settings.qdrant_url)
            self._ensure_collection()
            return
        self.folder = self.settings.data_dir / "qdrant"
        self.folder.mkdir(parents=True, exist_ok=True)
        self._file = self.folder / POINTS_FILE
        self.client = QdrantClient(":memory:")
        if not self._file.exists() and (self.folder / "meta.json").exists():
            self._convert_earlier_store()
        self._load()

    # ---- the collection ------------------------------------------------------------------------------------------

    def _create_collection(self) -> None:
        from qdrant_client import models

        self.client.create_collection(
            COLLECTION,
            vectors_config={DENSE: models.VectorParams(size=self.embedder.dimension, distance=models.Distance.COSINE)},
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        if self.settings.qdrant_url:  # a server filters faster with payload indexes (the in-memory one has none)
            for field in ("document_id", "kind", "system", "block", "unit"):
                self.client.create_payload_index(COLLECTION, field, models.PayloadSchemaType.KEYWORD)

    def _ensure_collection(self) -> None:
        """A server's collection, created if missing, rebuilt from its payloads if an earlier release made it."""
        if not self.client.collection_exists(COLLECTION):
            self._create_collection()
            return
        params = self.client.get_collection(COLLECTION).config.params
        vectors, sparse = params.vectors, params.sparse_vectors or {}
        if isinstance(vectors, dict) and DENSE in vectors and SPARSE in sparse:
            if vectors[DENSE].size != self.embedder.dimension:
                raise InputError(
                    f"the document store holds vectors of {vectors[DENSE].size} dimensions and the embedder makes "
                    f"{self.embedder.dimension}: use the embedder it was built with, or a new collection"
                )
            return
        sections = [Section.model_validate(p.payload) for p in self._scroll(None) if p.payload]
        self.client.delete_collection(COLLECTION)
        self._create_collection()
        self._index_all(sections)

    def _convert_earlier_store(self) -> None:
        """Index the sections of an earlier release's on-disk store again, from their payloads.

        That store (qdrant-client's embedded mode in `folder`, one unnamed vector per section) is left as it was.
        """
        import portalocker
        from qdrant_client import QdrantClient

        busy = DocumentStoreBusyError(
            f"the document store in {str(self.folder)!r} was written by an earlier release and is open in another "
            "process: stop it once, so that this release can convert the store"
        )
        lock = self.folder / ".lock"
        if lock.exists():  # tried as Qdrant takes it, before Qdrant reads the folder (and leaks a file when it fails)
            with lock.open("r+") as file:
                try:
                    portalocker.lock(file, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
                except portalocker.exceptions.LockException:
                    raise busy from None
                portalocker.unlock(file)
        try:
            old = QdrantClient(path=str(self.folder))
        except RuntimeError as exc:  # "already accessed by another instance", taken since the look above
            raise busy from exc
        try:
            records = self._scroll(None, client=old) if old.collection_exists(COLLECTION) else iter(())
            sections = [Section.model_validate(r.payload) for r in records if r.payload]
        finally:
            old.close()
        with self._writing():
            if self._stamp is not None:  # another store converted it meanwhile (and this one has read its file)
                return
            self._create_collection()
            self._index_all(sections)
            self._save()

    def _scroll(
        self, flt: models.Filter | None, *, vectors: bool = False, client: QdrantClient | None = None
    ) -> Iterator[models.Record]:
        offset: Any = None
        while True:
            records, offset = (client or self.client).scroll(
                COLLECTION, scroll_filter=flt, limit=512, offset=offset, with_payload=True, with_vectors=vectors
            )
            yield from records
            if offset is None:
                return

    # ---- the points file -----------------------------------------------------------------------------------------

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            stat = self._file.stat() if self._file is not None else None
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size) if stat is not None else None

    def _load(self) -> None:
        """Fill the in-memory collection from the points file (an empty collection when there is none)."""
        import pyarrow.parquet as pq
        from qdrant_client import models

        stamp = self._file_stamp()
        if self.client.collection_exists(COLLECTION):
            self.client.delete_collection(COLLECTION)
        self._create_collection()
        self._stamp, self._stats = stamp, None
        if stamp is None or self._file is None:
            return
        table = pq.read_table(self._file)
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        if meta.get("format") != POINTS_FORMAT or meta.get("dimension") != str(self.embedder.dimension):
            raise InputError(
                f"{str(self._file)!r} is not a points file of this release and embedder ({meta}); move it away and "
                "run `shipbrain docs ingest` again"
            )
        points = []
        for row in table.to_pylist():
            vectors: dict[str, Any] = {DENSE: row["dense"]}
            if row["sparse_indices"]:
                vectors[SPARSE] = models.SparseVector(indices=row["sparse_indices"], values=row["sparse_values"])
            points.append(models.PointStruct(id=row["id"], vector=vectors, payload=json.loads(row["payload"])))
        for start in range(0, len(points), 1024):
            self.client.upsert(COLLECTION, points=points[start : start + 1024])

    def _refresh(self) -> None:
        """Read the points file again when another store rewrote it."""
        if self._file is not None and self._file_stamp() != self._stamp:
            self._load()

    def _save(self) -> None:
        """Write every point (payload, dense and sparse vector) to the points file.

        A new file is written, flushed to disk and renamed over the old one: a reader finds the old file or the new
        one, never half of one.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._file is None:
            return
        ids: list[str] = []
        payloads: list[str] = []
        dense: list[list[float]] = []
        indices: list[list[int]] = []
        values: list[list[float]] = []
        for record in self._scroll(None, vectors=True):
            vectors = record.vector if isinstance(record.vector, dict) else {}
            vector, sparse = vectors.get(DENSE), vectors.get(SPARSE)
            ids.append(str(record.id))
            payloads.append(json.dumps(record.payload, ensure_ascii=False))
            dense.append([float(x) for x in vector if isinstance(x, float | int)] if isinstance(vector, list) else [])
            indices.append(list(getattr(sparse, "indices", None) or []))
            values.append(list(getattr(sparse, "values", None) or []))
        table = pa.table(
            {
                "id": pa.array(ids, pa.string()),
                "payload": pa.array(payloads, pa.string()),
                "dense": pa.array(dense, pa.list_(pa.float32())),
                "sparse_indices": pa.array(indices, pa.list_(pa.uint32())),
                "sparse_values": pa.array(values, pa.list_(pa.float32())),
            }
        ).replace_schema_metadata({"format": POINTS_FORMAT, "dimension": str(self.embedder.dimension)})
        partial = self._file.with_name(f".{self._file.name}.{os.getpid()}.partial")
        try:
            pq.write_table(table, partial)
            with partial.open("rb") as written:
                os.fsync(written.fileno())
            os.replace(partial, self._file)
        finally:
            partial.unlink(missing_ok=True)
        self._stamp = self._file_stamp()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the data dir's ingest lock (stores in other processes wait for it), the points file read afresh."""
        import portalocker

        if self._file is None:
            yield
            return
        try:
            with portalocker.Lock(
                self.folder / "ingest.lock",
                mode="a",
                timeout=INGEST_WAIT_S,
                flags=portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING,
            ):
                self._refresh()
                yield
        except portalocker.exceptions.LockException:
            raise DocumentStoreBusyError(
                f"another process has been ingesting into {str(self.folder)!r} for {INGEST_WAIT_S:.0f} s; try again "
                "when it is done"
            ) from None

    # ---- writing -------------------------------------------------------------------------------------------------

    def ingest(self, paths: Iterable[Path]) -> dict[str, int]:
        """Index files or folders (recursively); returns sections per document id.

        Every file is read before anything is written; a document ingested again replaces its earlier sections.

        Raises:
            InputError: a path with no file or folder, or a file that cannot be read (see `read_sections`).
            DocumentStoreBusyError: another process kept the ingest lock for `INGEST_WAIT_S`.
        """
        files: list[Path] = []
        for path in paths:
            if path.is_dir():
                files += sorted(
                    p for p in path.rglob("*") if p.suffix.lower() in (".md", ".txt", ".pdf") and p.name != "README.md"
                )
            elif path.is_file():
                files.append(path)
            else:
                raise InputError(f"no file or folder at {str(path)!r}")
        documents = [read_sections(file) for file in files]
        with self._writing():
            counts = self._index_all(s for d in documents for s in d)
            self._save()
        return counts

    def _index_all(self, sections: Iterable[Section]) -> dict[str, int]:
        by_document: dict[str, list[Section]] = {}
        for section in sections:
            by_document.setdefault(section.document_id, []).append(section)
        for document_sections in by_document.values():
            self._index(document_sections)
        self._stats = None
        return {document_id: len(s) for document_id, s in by_document.items()}

    def _index(self, sections: Sequence[Section]) -> None:
        """Replace one document's points by those of `sections` (all of that document's sections)."""
        from qdrant_client import models

        document_id = sections[0].document_id
        self.client.delete(COLLECTION, points_selector=models.FilterSelector(filter=_match(document_id=document_id)))
        payloads: list[dict[str, Any]] = []
        texts: list[str] = []
        for position, section in enumerate(sections):
            parts = _chunks.passages(section.text)
            base = {**section.model_dump(), "position": position, "rows": sum(p.unit == "row" for p in parts)}
            payloads.append({**base, "unit": "section", "passage": None})
            texts.append(_section_text(base))
            for passage in parts:
                payloads.append({**base, "unit": passage.unit, "passage": passage.text})
                texts.append(_passage_text(section, passage))
        dense = self.embedder.embed(texts)
        points = []
        for i, (payload, text, vector) in enumerate(zip(payloads, texts, dense, strict=True)):
            indices, values = _sparse.document_vector([(text, 1.0)])
            vectors: dict[str, Any] = {DENSE: vector.tolist()}
            if indices:
                vectors[SPARSE] = models.SparseVector(indices=indices, values=values)
            point_id = str(uuid.uuid5(_NAMESPACE, f"{document_id}#{i}"))
            points.append(models.PointStruct(id=point_id, vector=vectors, payload=payload))
        for start in range(0, len(points), 256):
            self.client.upsert(COLLECTION, points=points[start : start + 256])

    # ---- searching -----------------------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        limit: int = 5,
        kind: str | None = None,
        system: str | None = None,
        block: str | None = None,
    ) -> list[DocumentHit]:
        """The sections that answer `query` best, optionally only of one kind, system or block.

        Meaning (dense) and keywords (sparse, BM25) each rank the sections and their passages; Qdrant fuses the two
        rankings by reciprocal rank; the points are grouped by section, each hit keeping its best passage.
        """
        from qdrant_client import models

        if not isinstance(query, str) or not query.strip():
            raise InputError("the query is empty: ask about a procedure, an inspection rule or a lesson learned")
        if len(query) > MAX_QUERY_CHARS:
            raise InputError(f"the query has {len(query):,} characters; the limit is {MAX_QUERY_CHARS:,}")
        if not 1 <= limit <= 100:
            raise InputError(f"limit must be between 1 and 100, got {limit}")
        self._refresh()
        flt = _match(kind=kind, system=system, block=block)
        dense = self.embedder.embed([query])[0].tolist()
        indices, values = _sparse.query_vector(query)
        candidates = max(CANDIDATES, 12 * limit)
        prefetch = [models.Prefetch(query=dense, using=DENSE, limit=candidates, filter=flt)]
        if indices:
            sparse = models.SparseVector(indices=indices, values=values)
            prefetch.append(models.Prefetch(query=sparse, using=SPARSE, limit=candidates, filter=flt))
        found = self.client.query_points(
            COLLECTION,
            prefetch=prefetch,
            query=models.RrfQuery(rrf=models.Rrf(k=RRF_K)),
            query_filter=flt,
            limit=candidates,
            with_payload=True,
        ).points
        groups: dict[tuple[str, int], list[models.ScoredPoint]] = {}
        for point in found:
            payload = point.payload or {}
            groups.setdefault((str(payload.get("document_id")), int(payload.get("position", 0))), []).append(point)
        query_terms = _sparse.terms(query)
        hits = []
        for points in list(groups.values())[:limit]:
            payload = points[0].payload or {}
            matched = [p.payload for p in points if p.payload and p.payload.get("passage")]
            passage = str(matched[0]["passage"]) if matched else self._best_passage(payload, prefetch)
            row = None
            if payload.get("rows") and not (matched and matched[0].get("unit") == "row"):
                # the best passage is prose: the section's best table row too, a value asked for is in one
                best_row = next((str(m["passage"]) for m in matched if m.get("unit") == "row"), None)
                row = best_row or self._best_passage(payload, prefetch, unit="row")
            hits.append(
                DocumentHit(
                    score=float(points[0].score),
                    passage=passage,
                    row=row,
                    coverage=self._coverage(query_terms, payload),
                    **_hit_fields(payload),
                )
            )
        return hits

    def _best_passage(
        self, section: dict[str, Any], prefetch: list[models.Prefetch], unit: str | None = None
    ) -> str | None:
        """The passage of `section` that the same two rankings put first (only a `unit` one, e.g. "row", if given).

        For a section found as a whole, or for a table row beside a sentence.
        """
        from qdrant_client import models

        must: list[models.Condition] = [
            models.FieldCondition(key="document_id", match=models.MatchValue(value=str(section.get("document_id")))),
            models.FieldCondition(key="position", match=models.MatchValue(value=int(section.get("position", 0)))),
        ]
        if unit is not None:
            must.append(models.FieldCondition(key="unit", match=models.MatchValue(value=unit)))
        within = models.Filter(
            must=must, must_not=[models.FieldCondition(key="unit", match=models.MatchValue(value="section"))]
        )
        best = self.client.query_points(
            COLLECTION,
            prefetch=[p.model_copy(update={"filter": within, "limit": 20}) for p in prefetch],
            query=models.RrfQuery(rrf=models.Rrf(k=RRF_K)),
            limit=1,
            with_payload=True,
        ).points
        return str(best[0].payload["passage"]) if best and best[0].payload and best[0].payload.get("passage") else None

    def _term_stats(self) -> tuple[int, Counter[str]]:
        """The number of sections and, per term, how many hold it (the IDF of `coverage`)."""
        if self._stats is None:
            df: Counter[str] = Counter()
            n = 0
            for record in self._scroll(_match(unit="section")):
                n += 1
                df.update(set(_sparse.terms(_section_text(record.payload or {}))))
            self._stats = (n, df)
        return self._stats

    def _coverage(self, query_terms: Sequence[str], section: dict[str, Any]) -> float:
        """The IDF-weighted share of the query's terms that the section holds (0 when the query has none)."""
        n, df = self._term_stats()
        weights = {t: math.log((n - df[t] + 0.5) / (df[t] + 0.5) + 1) for t in set(query_terms)}
        total = sum(weights.values())
        if total <= 0:
            return 0.0
        held = set(_sparse.terms(_section_text(section)))
        return round(sum(w for t, w in weights.items() if t in held) / total, 4)

    def count(self) -> int:
        """Sections stored."""
        self._refresh()
        return int(self.client.count(COLLECTION, count_filter=_match(unit="section"), exact=True).count)

    def close(self) -> None:
        """Release the store's client."""
        self.client.close()

    def __enter__(self) -> DocumentStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


_KIND_WORDS: Final = {
    "wps": "welding procedure specification (WPS)",
    "ndt_rule": "NDT rule",
    "outfitting_rule": "outfitting rule",
    "lesson": "lesson learned",
    "procedure": "procedure",
}


def _heading(payload: dict[str, Any]) -> str:
    """What every point of a section is indexed with, before its own text.

    The kind of document, its id, its title and the section's heading: "lesson learned LL-2025-05: Pipe spools ...
    . What to do.".
    """
    kind = str(payload.get("kind") or "")
    return (
        f"{_KIND_WORDS.get(kind, kind.replace('_', ' '))} {payload.get('document_id', '')}: "
        f"{payload.get('title', '')}. {payload.get('section', '')}."
    )


def _passage_text(section: Section, passage: _chunks.Passage) -> str:
    """What a passage's point is indexed by: its section's heading (see `_heading`), then the passage on one line."""
    return f"{_heading(section.model_dump())} {_chunks.one_line(passage.text)}"


def _section_text(payload: dict[str, Any]) -> str:
    """What a section's point is indexed by: its heading (see `_heading`), then its text."""
    return f"{_heading(payload)} {payload.get('text', '')}"


def documents_held(settings: Settings, document_ids: Iterable[str]) -> frozenset[str]:
    """Which of `document_ids` the document store of `settings` holds, without loading an embedder.

    What an answer may cite: a rule is cited from the corpus only when this data dir's documents hold it. The
    embedded store's points file is read for its payloads alone; a Qdrant server is asked by payload filter.
    """
    import pyarrow.parquet as pq

    wanted = set(document_ids)
    if not wanted:
        return frozenset()
    if settings.qdrant_url:
        from qdrant_client import QdrantClient, models

        client = QdrantClient(url=settings.qdrant_url)
        try:
            if not client.collection_exists(COLLECTION):
                return frozenset()
            flt = models.Filter(
                must=[models.FieldCondition(key="document_id", match=models.MatchAny(any=sorted(wanted)))]
            )
            found: set[str] = set()
            offset: Any = None
            while True:
                records, offset = client.scroll(
                    COLLECTION, scroll_filter=flt, limit=512, offset=offset, with_payload=["document_id"]
                )
                found.update(str((r.payload or {}).get("document_id")) for r in records)
                if offset is None:
                    return frozenset(found & wanted)
        finally:
            client.close()
    path = settings.data_dir / "qdrant" / POINTS_FILE
    if not path.is_file():
        return frozenset()
    payloads = pq.read_table(path, columns=["payload"]).column("payload").to_pylist()
    return frozenset({str(json.loads(p).get("document_id")) for p in payloads if p} & wanted)


def _hit_fields(payload: dict[str, Any]) -> dict[str, Any]:
    keep = ("document_id", "title", "section", "text", "kind", "system", "block")
    return {k: payload.get(k) for k in keep}


def _match(**fields: str | None) -> models.Filter | None:
    from qdrant_client import models

    must = [models.FieldCondition(key=k, match=models.MatchValue(value=v)) for k, v in fields.items() if v]
    return models.Filter(must=must) if must else None
