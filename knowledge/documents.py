"""The document store: procedures, inspection rules and lessons learned, searchable with citations.

Documents (Markdown, plain text, PDF) are cut into sections, embedded offline (the `wordllama`
package ships its weights; nothing is downloaded), and kept in Qdrant: qdrant-client's embedded
mode on disk by default (`DATA_DIR/qdrant`), a Qdrant server when `SHIPBRAIN_QDRANT_URL` is set.
The embedded mode suits a corpus of up to about 20,000 sections (it filters in Python and commits
one transaction per point); past that, run a Qdrant server.

Markdown files may start with a front matter of `key: value` lines between `---` lines
(`document_id`, `title`, `kind`, `system`, `block`, `revision`); a section is what a `##` heading
opens. Ingesting a document again replaces its sections instead of adding them twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from knowledge.errors import InputError
from knowledge.settings import Settings, get_settings

if TYPE_CHECKING:
    from qdrant_client import models

__all__ = [
    "DEMO_CORPUS",
    "DocumentHit",
    "DocumentStore",
    "Embedder",
    "Section",
    "WordLlamaEmbedder",
    "read_sections",
]

DEMO_CORPUS: Final = Path(__file__).parent / "corpus"
"""The demo corpus that ships with Shipbrain: welding procedures, NDT rules, outfitting rules, lessons."""
COLLECTION: Final = "documents"
MAX_QUERY_CHARS: Final = 4_000
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
    """A section that answers a query, with where it comes from."""

    model_config = ConfigDict(frozen=True)

    document_id: str
    title: str
    section: str
    text: str
    kind: str
    system: str | None = None
    block: str | None = None
    score: float = Field(description="Cosine similarity to the query, -1 to 1.")

    @property
    def citation(self) -> str:
        """How an answer cites it: document id and section."""
        return f"{self.document_id} \u00a7 {self.section}"


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
    """Sections in Qdrant, searchable by meaning with payload filters.

    Args:
        settings: where the embedded store lives (`data_dir/qdrant`) or which server to use (`qdrant_url`).
        embedder: how texts become vectors (default: `WordLlamaEmbedder`).
    """

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None) -> None:
        from qdrant_client import QdrantClient

        self.settings = settings or get_settings()
        self.embedder = embedder or WordLlamaEmbedder()
        if self.settings.qdrant_url:
            self.client = QdrantClient(url=self.settings.qdrant_url)
        else:
            path = self.settings.data_dir / "qdrant"
            path.mkdir(parents=True, exist_ok=True)
            self.client = QdrantClient(path=str(path))
        self._ensure_collection()

    def _ensure_collection(self) -> None:
        from qdrant_client import models

        if not self.client.collection_exists(COLLECTION):
            self.client.create_collection(
                COLLECTION,
                vectors_config=models.VectorParams(size=self.embedder.dimension, distance=models.Distance.COSINE),
            )

    def ingest(self, paths: Iterable[Path]) -> dict[str, int]:
        """Index files or folders (recursively); returns sections per document id.

        A document ingested again replaces its earlier sections.
        """
        from qdrant_client import models

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
        counts: dict[str, int] = {}
        for file in files:
            sections = read_sections(file)
            document_id = sections[0].document_id
            self.client.delete(
                COLLECTION, points_selector=models.FilterSelector(filter=_match(document_id=document_id))
            )
            vectors = self.embedder.embed([f"{s.title}. {s.section}. {s.text}" for s in sections])
            self.client.upsert(
                COLLECTION,
                points=[
                    models.PointStruct(
                        id=str(uuid.uuid5(_NAMESPACE, f"{document_id}#{i}")),
                        vector=vector.tolist(),
                        payload=s.model_dump(),
                    )
                    for i, (s, vector) in enumerate(zip(sections, vectors, strict=True))
                ],
            )
            counts[document_id] = len(sections)
        return counts

    def search(
        self,
        query: str,
        *,
        limit: int = 5,
        kind: str | None = None,
        system: str | None = None,
        block: str | None = None,
    ) -> list[DocumentHit]:
        """The sections closest in meaning to `query`, optionally only of one kind, system or block."""
        if not isinstance(query, str) or not query.strip():
            raise InputError("the query is empty: ask about a procedure, an inspection rule or a lesson learned")
        if len(query) > MAX_QUERY_CHARS:
            raise InputError(f"the query has {len(query):,} characters; the limit is {MAX_QUERY_CHARS:,}")
        if not 1 <= limit <= 100:
            raise InputError(f"limit must be between 1 and 100, got {limit}")
        vector = self.embedder.embed([query])[0]
        found = self.client.query_points(
            COLLECTION,
            query=vector.tolist(),
            limit=limit,
            query_filter=_match(kind=kind, system=system, block=block),
            with_payload=True,
        )
        return [DocumentHit(score=float(p.score), **_hit_fields(p.payload or {})) for p in found.points]

    def count(self) -> int:
        """Sections stored."""
        return int(self.client.count(COLLECTION).count)

    def close(self) -> None:
        """Release the store (the embedded store holds a lock on its folder)."""
        self.client.close()

    def __enter__(self) -> DocumentStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _hit_fields(payload: dict[str, Any]) -> dict[str, Any]:
    keep = ("document_id", "title", "section", "text", "kind", "system", "block")
    return {k: payload.get(k) for k in keep}


def _match(**fields: str | None) -> models.Filter | None:
    from qdrant_client import models

    must = [models.FieldCondition(key=k, match=models.MatchValue(value=v)) for k, v in fields.items() if v]
    return models.Filter(must=must) if must else None
