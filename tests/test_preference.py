"""The preference model: the losses, the ratings protocol, leave-user-out statistics, the prior fallback, save/load,
training, eval CLI."""

from __future__ import annotations

import csv
import json
import math
import random

import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import StaticEmbedding
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from stylist.core.errors import StylistError
from stylist.core.feedback import Context, FeedbackStore, Option
from stylist.data.rtr import by_user, episodes, load_ratings, split_users
from stylist.evaluation import preference as evaluation
from stylist.models.preference import (
    ItemStats,
    PreferenceConfig,
    PreferenceModel,
    base_losses,
    interleave,
    pair_losses,
    rating_example,
    user_counts,
)
from stylist.train.preference import (
    PreferenceTrainConfig,
    feedback_users,
    taste_users,
    train,
    train_ensemble,
    user_examples,
)

WORDS = "gown dress sheath jumpsuit top for wedding party work formal affair date size 2 4 8 12 16 black red floral striped sneakers heels blazer hoodie".split()
COLUMNS = "fit,user_id,item_id,weight_lbs,rating,rented_for,body_type,category,size,age,review_date,bust_size_num,bust_size_letter,height_in,recommend"


@pytest.fixture(scope="module")
def embedder(tmp_path_factory) -> str:
    """A tiny random StaticEmbedding sentence-transformer saved to a folder, loaded by path like a real one."""
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(["[UNK]", "[PAD]", *WORDS])}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("embedder")
    SentenceTransformer(modules=[StaticEmbedding(tokenizer, embedding_dim=16)]).save(str(path))
    return str(path)


def write_ratings(path, n_users: int = 120, seed: int = 0) -> str:
    """Users who like gowns and dislike sheaths (plus noise rows), with dates and profiles."""
    rng = random.Random(seed)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS.split(","))
        for u in range(n_users):
            for k in range(rng.randint(2, 6)):
                liked = k % 2 == 0 if k < 2 else rng.random() < 0.5
                category = "gown" if liked else "sheath"
                item = f"{category}-{rng.randint(0, 9)}"
                w.writerow(["small" if not liked else "fit", 1000 + u, item, 140, 10 if liked else 4, "wedding", "hourglass",
                            category, rng.choice([4, 8]), 30, f"2016-01-{k + 1:02d}", 34, 3, 65, int(liked)])
    return str(path)


def write_five_columns(path: str, out) -> str:
    """A copy of a ratings file with only the columns `load_ratings` requires."""
    with open(path) as f, open(out, "w", newline="") as g:
        writer = csv.DictWriter(g, ["user_id", "item_id", "category", "recommend", "review_date"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(csv.DictReader(f))
    return str(out)


@pytest.mark.parametrize("content, message", [
    (b"", "empty file"),
    (b"user_id,item_id\n1,2\n", "missing columns category, recommend, review_date"),
    (b"\x88\x00\xff PK binary", "not a readable CSV file"),
])
def test_bad_ratings_files_get_one_clear_error(tmp_path, content, message):
    path = tmp_path / "r.csv"
    path.write_bytes(content)
    with pytest.raises(StylistError, match=message):
        load_ratings(path)
    with pytest.raises(StylistError, match="not found"):
        load_ratings(tmp_path / "missing.csv")


def test_ratings_with_a_bom_short_rows_and_no_user_are_read(tmp_path):
    path = tmp_path / "r.csv"
    lines = ["user_id,item_id,category,review_date,recommend,size", "1,a,dress,2016-01-01,1,8", "1,b,gown,2016-01-02",
             ",c,dress,2016-01-03,0,8", "2,d,gown,2016-01-04,Yes", "2,e,gown,2016-01-05,no,4", "2,f,gown,2016-01-06,maybe,4"]
    path.write_bytes("\ufeff".encode() + "\n".join(lines).encode())
    with pytest.warns(UserWarning, match="2 rows without a 1/0 recommend value were skipped"):  # b and f: no label is no dislike
        ratings = load_ratings(path)
    assert [(r.user, r.item_id, r.liked, r.size) for r in ratings] == [("1", "a", True, "8"), ("2", "d", True, ""), ("2", "e", False, "4")]
    path.write_text("user_id,item_id,category,review_date,recommend\n1,a,dress,2016-01-01,5\n")
    with pytest.raises(StylistError, match="no row has a recommend value of 1/0"):
        load_ratings(path)


def test_pair_loss_prefers_liked_like_logit_and_disliked_dislike_logit():
    good = pair_losses(torch.tensor([[5.0, -5.0]]), torch.tensor([[-5.0, 5.0]]))
    even = pair_losses(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 0.0]]))
    bad = pair_losses(torch.tensor([[-5.0, 5.0]]), torch.tensor([[5.0, -5.0]]))
    assert good.item() < 1e-3 and even.item() == pytest.approx(2 * math.log(2)) and bad.item() > 19
    assert base_losses(torch.tensor([[3.0, -3.0]]), torch.tensor([True])).item() < base_losses(torch.tensor([[3.0, -3.0]]), torch.tensor([False])).item()


def test_episodes_take_latest_liked_and_not_liked_and_skip_one_label_users(tmp_path):
    path = tmp_path / "r.csv"
    rows = [["fit", 1, "a", 140, 10, "party", "pear", "dress", 8, 30, d, 34, 3, 65, y]
            for d, y in [("2016-01-01", 1), ("2016-03-01", 1), ("2016-02-01", 0), ("2015-01-01", 0)]]
    rows += [["fit", 2, "b", 140, 10, "party", "pear", "dress", 8, 30, "2016-01-01", 34, 3, 65, 1]]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([COLUMNS.split(","), *rows])
    (ep,) = episodes(load_ratings(path))
    assert (ep.user, ep.liked.date, ep.disliked.date) == ("1", "2016-03-01", "2016-02-01")
    assert [h.date for h in ep.history] == ["2016-01-01", "2015-01-01"]


def test_target_features_ignore_the_target_rows_own_label_fit_stars_and_date(tmp_path):
    ratings = load_ratings(write_ratings(tmp_path / "r.csv", 30))
    stats = ItemStats.fit(by_user(ratings))
    target, history = ratings[0], ratings[1:4]
    assert target.fit in ("small", "fit") and target.rating in (4.0, 10.0)  # the file has them: the test means something
    flipped = type(target)(**{**target.__dict__, "liked": not target.liked, "date": "1999-01-01", "fit": "large", "rating": 2.0})
    assert stats.features(target, history) == stats.features(flipped, history)
    assert stats.prior_logit(target) == stats.prior_logit(flipped)


def test_leave_user_out_statistics_equal_statistics_fit_without_that_user(tmp_path):
    users = by_user(load_ratings(write_ratings(tmp_path / "r.csv", 40)))
    user, own = next(iter(users.items()))
    full, without = ItemStats.fit(users), ItemStats.fit({u: rows for u, rows in users.items() if u != user})
    full.counts["*"] = without.counts["*"]  # the global rates are global; only the user's counts are left out
    for i, r in enumerate(own):
        history = own[:i] + own[i + 1 :]
        assert full.like_rate(r, user_counts(own)) == pytest.approx(without.like_rate(r))
        assert full.features(r, history, user_counts(own)) == pytest.approx(without.features(r, history))


def test_a_never_seen_occasion_falls_back_to_its_categorys_like_rate(tmp_path):
    """A file without `rented_for` (or a new occasion) must not lose what is known of the category."""
    ratings = load_ratings(write_ratings(tmp_path / "r.csv", 40))
    stats = ItemStats.fit(by_user(ratings))
    gown, sheath = (next(r for r in ratings if r.category == c) for c in ("gown", "sheath"))
    new = [type(r)(**{**r.__dict__, "item_id": "never-seen", "rented_for": ""}) for r in (gown, sheath)]
    assert stats.like_rate(new[0])[0] > stats.prior > stats.like_rate(new[1])[0]
    no_categories = {k: v for k, v in stats.counts.items() if not k.startswith("category:")}
    assert stats.like_rate(gown) == ItemStats(**{**stats.to_json(), "counts": no_categories}).like_rate(gown)  # seen: as before


def test_without_history_the_model_ranks_exactly_as_the_item_prior(tmp_path, embedder):
    """The residual is gated by history length, so a user with no history gets the prior plus the linear item
    term whatever the residual head's weights (an untrained model: the prior itself), and a history lets it speak."""
    ratings = load_ratings(write_ratings(tmp_path / "r.csv", 40))
    stats = ItemStats.fit(by_user(ratings))
    model = PreferenceModel(PreferenceConfig(embedder=embedder, dim=8, heads=2, hidden=8, n_tokens=3), stats)
    with torch.no_grad():
        for p in model.net.head.parameters():
            p.normal_(0, 3.0)  # a residual far from zero
    targets = ratings[:12]
    bare = model.like_probability([rating_example(stats, t, []) for t in targets])
    prior = [stats.like_rate(t)[0] for t in targets]
    assert bare == pytest.approx(prior)  # P(like) is the prior itself, so the ordering is the prior's
    with_history = model.like_probability([rating_example(stats, t, ratings[20:24]) for t in targets])
    assert with_history != pytest.approx(bare)


def test_training_pairs_start_with_the_protocols_pair_and_one_row_users_teach_nothing():
    rows = ["l1", "d1", "l2", "d2", "l3"]  # newest first
    liked = [r.startswith("l") for r in rows]
    points, labels, pairs = user_examples(rows, liked, lambda t, h: (t, tuple(h)), 3, random.Random(0))
    assert len(points) == 5 and labels == liked and len(pairs) == 3
    assert pairs[0] == (("l1", ("l2", "d2", "l3")), ("d1", ("l2", "d2", "l3")))
    assert user_examples(["l1"], [True], lambda t, h: (t, h), 3, random.Random(0)) == ([], [], [])
    assert user_examples(["l1", "d1"], [True, False], lambda t, h: (t, h), 3, random.Random(0))[2] == []  # no history


def test_split_is_disjoint_and_users_with_one_label_always_train(tmp_path):
    ratings = load_ratings(write_ratings(tmp_path / "r.csv", 200))
    parts = split_users(ratings)
    assert not (parts["train"] & parts["test"]) and not (parts["valid"] & parts["test"]) and parts["test"] and parts["valid"]
    assert split_users(ratings) == parts
    assert {e.user for e in episodes(ratings)} >= parts["test"]


def test_taste_users_like_one_word_and_dislike_another():
    colours, garments = "black red blue green pink grey white navy beige brown".split(), "gown hoodie top skirt jeans coat tee boots bag hat".split()
    texts = [f"{c} {g} {i}" for i in range(4) for c in colours for g in garments]
    for rows in taste_users(texts, 5, random.Random(0)):
        liked = [set(t.split()) for t, y in rows if y]
        disliked = [set(t.split()) for t, y in rows if not y]
        assert liked and disliked
        assert any(not any(a in d for d in disliked) for a in set.intersection(*liked))
        assert any(not any(b in l for l in liked) for b in set.intersection(*disliked))


def test_taste_users_with_several_words_per_side():
    """`words=3`: every liked title has a word no disliked title has (and the reverse), and some users like
    titles that share no such word, so the taste is over several words."""
    colours, garments = "black red blue green pink grey white navy beige brown".split(), "gown hoodie top skirt jeans coat tee boots bag hat".split()
    texts = [f"{c} {g} {i}" for i in range(4) for c in colours for g in garments]
    several = 0
    for rows in taste_users(texts, 20, random.Random(0), words=3):
        liked = [set(t.split()) for t, y in rows if y]
        disliked = [set(t.split()) for t, y in rows if not y]
        assert all(ws - set.union(*disliked) for ws in liked) and all(ws - set.union(*liked) for ws in disliked)
        several += not (set.intersection(*liked) - set.union(*disliked))
    assert several > 0


def test_feedback_users_are_the_stores_active_clicks_newest_first(tmp_path):
    store = FeedbackStore(tmp_path)
    for text, label in [("black gown", "like"), ("floral top", "dislike"), ("red gown", "like")]:
        store.record("ann", Context(captions=()), Option(text, text), label)
    undone = store.record("ann", Context(captions=()), Option("hoodie", "hoodie"), "like")
    store.undo(undone.id)
    store.record("bob", Context(captions=()), Option("x", "black gown"), "like")  # one click: too little to learn from
    assert feedback_users(str(tmp_path)) == [[("red gown", True), ("floral top", False), ("black gown", True)]]


def test_save_load_round_trip_scores_unknown_items_and_similar_users(tmp_path, embedder):
    stats = ItemStats.fit(by_user(load_ratings(write_ratings(tmp_path / "r.csv", 20))))
    model = PreferenceModel(PreferenceConfig(embedder=embedder, dim=8, heads=2, hidden=8, n_tokens=3), stats)
    model.seen_users = {"1000"}
    model.save(tmp_path / "m")
    loaded = PreferenceModel.load(tmp_path / "m")
    args = (["black gown"], ["floral dress"], ["red gown", "never seen words"])
    scores = loaded.score(*args)
    assert scores == pytest.approx(model.score(*args)) and all(0 < s < 1 for s in scores)
    assert loaded.score([], [], ["gown"])[0] == pytest.approx(model.score([], [], ["gown"])[0])
    assert loaded.seen_users == {"1000"}
    with torch.no_grad():
        loaded.embedder.embedding.weight.add_(1.0)  # the embedder changed since training: warn
    loaded._index, loaded._table = {"": 0}, loaded._table[:1]  # forget the embeddings of the old embedder
    with pytest.warns(UserWarning, match="another embedder"):
        PreferenceModel.load(tmp_path / "m", embedder=loaded.embedder)
    histories = {"a": (["black gown", "black dress"], ["floral top"]), "b": (["black gown"], ["floral top", "floral dress"]),
                 "c": (["floral top"], ["black gown"])}
    assert loaded.similar_users(histories, "a", k=2)[0][0] == "b"
    assert interleave(["x", "y"], ["z"]) == [("x", True), ("z", False), ("y", True)]


def test_training_learns_the_users_taste_and_eval_cli_prints_json(tmp_path, embedder, capsys):
    path = write_ratings(tmp_path / "r.csv", 160)
    cfg = PreferenceTrainConfig(ratings=path, out=str(tmp_path / "m"), epochs=6, token_epochs=2, taste_users=0, lr=1e-2)
    model = train(cfg, PreferenceConfig(embedder=embedder, dim=8, heads=2, hidden=16, n_tokens=2))
    model.save(cfg.out)
    ratings = load_ratings(path)
    gown, sheath = next(r for r in ratings if r.category == "gown"), next(r for r in ratings if r.category == "sheath")
    p = model.like_probability([rating_example(model.stats, gown, []), rating_example(model.stats, sheath, [])])
    assert p[0] > p[1]
    assert evaluation.main(["preference", "--ratings", path, "--model", cfg.out, "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result) == {"pairwise_accuracy", "auc", "n_users", "baselines", "by_history"}
    assert set(result["baselines"]) == {"popularity", "user_agnostic"}
    assert result["n_users"] == len(split_users(ratings)["test"]) and result["pairwise_accuracy"] > 0.9
    buckets = result["by_history"]
    assert set(buckets) <= {"0", "1-2", "3+"} and sum(b["n_users"] for b in buckets.values()) == result["n_users"]
    for b in buckets.values():
        assert set(b) == set(result) - {"by_history"} and set(b["baselines"]) == set(result["baselines"])
        assert set(b["baselines"]["user_agnostic"]) == {"pairwise_accuracy", "auc"}
    assert "warning" not in capsys.readouterr().err
    five = write_five_columns(path, tmp_path / "five.csv")
    assert evaluation.main(["preference", "--ratings", five, "--model", cfg.out]) == 0
    assert "warning: no row has rented_for or size" in capsys.readouterr().err


def test_a_seed_ensemble_averages_its_members_and_survives_save_and_load(tmp_path, embedder):
    path = write_ratings(tmp_path / "r.csv", 60)
    cfg = PreferenceTrainConfig(ratings=path, epochs=1, token_epochs=1, taste_users=0, members=2, select="last", lr=1e-2)  # members differ
    model = train_ensemble(cfg, PreferenceConfig(embedder=embedder, dim=8, heads=2, hidden=16, n_tokens=2))
    assert len(model.members) == 1 and [m["seed"] for m in model.metrics["members"]] == [0, 1]
    args = (["gown for wedding"], ["sheath for wedding"], ["gown for party", "sheath for work", "never seen words"])
    both = model.score(*args)
    nets, singles = [model.net, *model.members], []
    for net in nets:
        model.net, model.members = net, []
        singles.append(model.score(*args))
    assert singles[0] != pytest.approx(singles[1]) and both == pytest.approx([(a + b) / 2 for a, b in zip(*singles)])
    model.net, model.members = nets[0], nets[1:]
    model.save(tmp_path / "m")
    loaded = PreferenceModel.load(tmp_path / "m")
    assert len(loaded.members) == 1 and loaded.score(*args) == pytest.approx(both)
    model.members = []  # a single net saved over the ensemble's folder leaves no stale member behind
    model.save(tmp_path / "m")
    loaded = PreferenceModel.load(tmp_path / "m")
    assert loaded.members == [] and loaded.score(*args) == pytest.approx(singles[0])
    (tmp_path / "m" / "config.json").write_text('{"dim": 8, "a_field_of_another_version": 1}')  # one clear message
    with pytest.raises(StylistError, match="does not fit this version.*a_field_of_another_version"):
        PreferenceModel.load(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text("{not json")
    with pytest.raises(StylistError, match="does not fit this version"):
        PreferenceModel.load(tmp_path / "m")


def test_custom_user_split_and_select_last_keep_the_final_epoch(tmp_path, embedder):
    """`parts` (a custom user split) decides who trains and who selects; `select="last"` keeps the last epoch's
    weights, so the model's validation figures are the last row of its training history, whose first is the start."""
    path = write_ratings(tmp_path / "r.csv", 60)
    users = sorted({r.user for r in load_ratings(path)})
    parts = {"train": set(users[:40]), "valid": set(users[40:50]), "test": set(users[50:])}
    cfg = PreferenceTrainConfig(ratings=path, epochs=3, token_epochs=0, taste_users=0, lr=1e-2, select="last")
    model = train(cfg, PreferenceConfig(embedder=embedder, dim=8, heads=2, hidden=16, n_tokens=2), parts=parts)
    assert model.seen_users == set(users[:50]) and model.metrics["train_users"] == 40
    first, last = model.metrics["history"][0], model.metrics["history"][-1]
    assert (first["stage"], first["epoch"], last["stage"], last["epoch"]) == ("a", 0, "a", 3)
    assert model.metrics["valid"]["pairwise_accuracy"] == last["valid_pairwise_accuracy"]
