"""The catalog index kept in the data folder: built once, loaded at the next start, rebuilt when the catalog
or the embedder changes or the file is damaged, kept in memory when the folder refuses the write; and a
recommender that does not run the LM over the catalog when it starts."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from stylist.core.catalog import Catalog, Item
from stylist.models.embedder import embedder_identity
from stylist.recommend.index import NOUNS, CatalogIndex, IndexStore, index_key, load_index
from stylist.recommend.recommender import Recommender

TITLES = ["black leather ankle boots", "white canvas sneakers", "brown leather tote bag", "red clutch bag",
          "navy wool coat", "gold hoop earrings", "blue denim jeans", "red lipstick"]  # the lipstick has no slot


def static_embedder(folder, dim: int = 16):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    from stylist.data.corpus import train_word_tokenizer

    SentenceTransformer(modules=[StaticEmbedding(train_word_tokenizer(TITLES * 4, 100), embedding_dim=dim)]
                        ).save(str(folder))
    return SentenceTransformer(str(folder), device="cpu")


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    return static_embedder(tmp_path_factory.mktemp("embedder"))


def catalog(titles=TITLES) -> Catalog:
    return Catalog("shop", {f"i{n}": Item(f"i{n}", t) for n, t in enumerate(titles)})


def count_encodes(embedder, monkeypatch) -> list[int]:
    """How many captions the embedder embeds from now on (one entry per call)."""
    calls: list[int] = []
    real = embedder.encode
    monkeypatch.setattr(embedder, "encode", lambda texts, **kwargs: calls.append(len(texts)) or real(texts, **kwargs))
    return calls


def same(a, b) -> bool:
    return ([i.id for i in a.items] == [i.id for i in b.items] and np.array_equal(a.vectors, b.vectors)
            and a.slots.tolist() == b.slots.tolist())


def test_the_index_is_built_once_and_loaded_at_the_next_start(tmp_path, embedder, monkeypatch):
    first = load_index(catalog(), embedder, tmp_path)
    assert [i.id for i in first.items] == [f"i{n}" for n in range(7)]  # the lipstick is not wearable
    assert (tmp_path / "catalog-index-shop.npz").exists() and not list(tmp_path.glob("*.tmp"))
    again = count_encodes(embedder, monkeypatch)
    second = load_index(catalog(), embedder, tmp_path)
    assert again == [] and same(first, second)
    assert not second.vectors.flags.writeable


def test_a_changed_catalog_or_embedder_rebuilds_the_index(tmp_path, tmp_path_factory, embedder, monkeypatch):
    load_index(catalog(), embedder, tmp_path)
    changed = count_encodes(embedder, monkeypatch)
    index = load_index(catalog(TITLES[:-2] + ["blue denim shorts", "red lipstick"]), embedder, tmp_path)
    assert sum(changed) == 7 and index.items[-1].title == "blue denim shorts"
    other = static_embedder(tmp_path_factory.mktemp("other"), dim=8)
    again = count_encodes(other, monkeypatch)
    index = load_index(catalog(), other, tmp_path)
    assert sum(again) == 7 and index.vectors.shape == (7, 8)


@pytest.mark.parametrize("damage", [b"", b"not a zip file", "truncated"])
def test_a_damaged_index_file_is_reported_once_and_rebuilt(tmp_path, embedder, monkeypatch, capsys, damage):
    built = load_index(catalog(), embedder, tmp_path)
    path = tmp_path / "catalog-index-shop.npz"
    path.write_bytes(path.read_bytes()[:200] if damage == "truncated" else damage)
    capsys.readouterr()
    calls = count_encodes(embedder, monkeypatch)
    rebuilt = load_index(catalog(), embedder, tmp_path)
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning")]
    assert len(warnings) == 1 and str(path) in warnings[0]
    assert sum(calls) == 7 and same(built, rebuilt)
    key = index_key(list(catalog().items.values()), embedder_identity(embedder))
    assert same(built, IndexStore(tmp_path, "shop").read(key, catalog()))  # the rebuilt file is whole again


def test_a_folder_that_refuses_the_write_keeps_the_index_in_memory(tmp_path, embedder, monkeypatch, capsys):
    load_index(catalog(), embedder, tmp_path)
    before = (tmp_path / "catalog-index-shop.npz").read_bytes()

    def refuse(src, dst):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("stylist.recommend.index.os.replace", refuse)
    index = load_index(catalog(TITLES[1:]), embedder, tmp_path)
    assert index.items[0].title == "white canvas sneakers"
    assert "kept in memory only" in capsys.readouterr().err
    assert (tmp_path / "catalog-index-shop.npz").read_bytes() == before and not list(tmp_path.glob("*.tmp"))


def test_nearest_is_the_exact_search_within_the_slot(embedder):
    index = load_index(catalog(TITLES * 3), embedder)  # no folder: memory only
    query = embedder.encode(["black leather bag"], normalize_embeddings=True, convert_to_numpy=True)[0]
    bags = np.flatnonzero(index.slots == "bags")
    expected = [index.items[r].id for r in bags[np.argsort(-(index.vectors[bags] @ query), kind="stable")][:4]]
    assert [i.id for i in index.nearest(query, "bags", 4)] == expected
    assert index.nearest(query, "dresses", 4) == []
    assert index.categories == {}.fromkeys(index.rows, [])  # the items have no category names


def test_ranked_reads_every_item_of_the_slot_nearest_first_past_the_sorted_head():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(1500, 8)).astype(np.float32)
    slots = np.array(["bags", "shoes", "tops"] * 500)
    index = CatalogIndex(tuple(Item(f"i{n}", "x") for n in range(1500)), vectors, slots)
    query = rng.normal(size=8).astype(np.float32)
    found = [int(i.id[1:]) for i in index.ranked(query, "shoes")]
    assert sorted(found) == list(range(1, 1500, 3))
    assert np.all(np.diff(vectors[found] @ query) <= 1e-5)


class NoLM:
    """An outfit model that fails when used: starting the recommender must not run the LM."""

    def __getattr__(self, name):
        pytest.fail(f"the LM was used at start ({name})")


def test_starting_the_recommender_does_not_run_the_lm_over_the_catalog(tmp_path, embedder):
    rec = Recommender(catalog(), NoLM(), embedder, data=tmp_path)
    assert len(rec.items) == 7 and (tmp_path / "catalog-index-shop.npz").exists()


def test_a_slot_offers_its_most_common_category_names_only():
    """A shop has dozens of shoe categories; a description is completed with one of the NOUNS most common."""
    kinds = [f"{n} shoes" for n in ("ankle", "ballet", "boat", "court", "derby", "mule", "oxford", "platform",
                                    "slingback", "slip-on", "wedge", "monk")]
    items = tuple(Item(id=f"{k}{i}", title=k, category=k) for n, k in enumerate(kinds) for i in range(n + 1))
    index = CatalogIndex(items, np.zeros((len(items), 2), dtype=np.float32), np.array(["shoes"] * len(items)))
    assert index.categories["shoes"] == kinds[::-1][:NOUNS]  # the most items first


def test_a_static_embedding_folder_is_read_without_sentence_transformers_and_embeds_the_same(tmp_path):
    """`load_embedder` reads a folder holding one StaticEmbedding itself (sentence-transformers costs seconds of
    imports); the vectors are those of sentence-transformers for every option the app uses, and its identity is
    a weights fingerprint like a torch module's, so a stored index is reused."""
    from stylist.models.embedder import StaticEmbedder, load_embedder

    reference = static_embedder(tmp_path)
    ours = load_embedder(tmp_path)
    assert isinstance(ours, StaticEmbedder) and ours.get_embedding_dimension() == reference.get_embedding_dimension()
    texts = [*TITLES, "an unknown word", ""]
    for options in ({"normalize_embeddings": True, "convert_to_numpy": True},
                    {"convert_to_tensor": True, "batch_size": 256, "show_progress_bar": False}, {}):
        assert np.array_equal(np.asarray(ours.encode(texts, **options)), np.asarray(reference.encode(texts, **options)))
    assert np.array_equal(ours.encode("navy wool coat"), reference.encode("navy wool coat"))
    assert embedder_identity(ours) is not None and embedder_identity(ours) == embedder_identity(load_embedder(tmp_path))
