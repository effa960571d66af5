"""The outfit LM's plumbing on the tiny random Llama of conftest.py: loading any model folder (+ adapter),
likelihoods tokenised the way trl's DPO does, generation, the OutfitModel (PMI, adapter versions, threads);
plus splits and counts."""

from __future__ import annotations

import ast
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from stylist.core.catalog import Item, Outfit
from stylist.core.errors import StylistError
from stylist.core.prompts import completion, item_caption, open_prompt, outfit_prompt, slot_completion
from stylist.data.splits import bucket, part_of, split_outfits
from stylist.models.adapter_versions import is_unconditional
from stylist.models.counts import CountConfig, CountModel
from stylist.models.likelihood import completion_logprobs, context_limit, encode_pair, generate
from stylist.models.lm import load_lm
from stylist.models.outfit import ScoringConfig, load_outfit_model
from stylist.train.lm import make_tokenizer

REPO = Path(__file__).resolve().parent.parent
PER_TOKEN = ScoringConfig(forward=1, backward=1, counts=0, length_power=1)
CAPTIONS = ["black leather ankle boots", "white cotton t-shirt", "blue denim jeans", "gold hoop earrings",
            "navy wool coat", "grey knit beanie"]


def test_project_tokenizer_has_special_tokens_and_bos():
    tokenizer = make_tokenizer(["black leather ankle boots", "white cotton t-shirt", "blue denim jeans"] * 4, 200)
    assert tokenizer.pad_token == "<pad>" and tokenizer.eos_token == "</s>"
    ids = tokenizer("outfit: black boots")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and tokenizer.eos_token_id not in ids


def test_completion_is_tokenised_like_trl(tiny_lm):
    """trl tokenises prompt and prompt+completion: the completion must start right after the prompt."""
    _, tokenizer = load_lm(tiny_lm.base, "none")
    prompt = outfit_prompt(["white cotton t-shirt", "blue denim jeans"], "shoes")
    ids, start = encode_pair(tokenizer, prompt, completion("black leather ankle boots"))
    assert ids[:start] == tokenizer(prompt)["input_ids"]
    assert tokenizer.decode(ids[start:], skip_special_tokens=True).strip() == "black leather ankle boots"
    assert ids[-1] == tokenizer.eos_token_id


def test_logprobs_do_not_depend_on_batching(tiny_lm):
    model, tokenizer = load_lm(tiny_lm.base, tiny_lm.adapter)
    prompts = [outfit_prompt(["white cotton t-shirt"]), outfit_prompt([]), outfit_prompt(["red lipstick", "navy wool coat"], "bags")]
    texts = [completion(t) for t in ("blue denim jeans", "gold hoop earrings", "brown leather tote bag")]
    together, lengths = completion_logprobs(model, tokenizer, prompts, texts, batch_size=3)
    alone = [completion_logprobs(model, tokenizer, [p], [t])[0][0] for p, t in zip(prompts, texts)]
    assert np.allclose(together, alone, atol=1e-4)
    assert (together < 0).all() and (lengths >= 2).all()


def test_adapter_changes_the_model_and_none_means_base(tiny_lm):
    from peft import PeftModel

    base, _ = load_lm(tiny_lm.base, "none")
    tuned, tokenizer = load_lm(tiny_lm.base, tiny_lm.adapter)
    assert isinstance(tuned, PeftModel) and not isinstance(base, PeftModel)
    args = ([outfit_prompt(["white cotton t-shirt"])], [completion("blue denim jeans")])
    assert not np.allclose(completion_logprobs(base, tokenizer, *args)[0], completion_logprobs(tuned, tokenizer, *args)[0])


def test_bad_model_or_adapter_is_one_line_error(tiny_lm, tmp_path):
    with pytest.raises(StylistError):
        load_lm(tmp_path / "missing")
    with pytest.raises(StylistError, match="adapter_config"):
        load_lm(tiny_lm.base, tmp_path)
    with pytest.raises(StylistError, match="adapter_config"):
        load_outfit_model(tiny_lm.base, tiny_lm.adapter, use_counts=False).logprobs([("a", "b")], adapter=tmp_path)


def test_generate_returns_one_line_per_prompt(tiny_lm):
    model, tokenizer = load_lm(tiny_lm.base, tiny_lm.adapter)
    out = generate(model, tokenizer, [outfit_prompt(["white cotton t-shirt"], "shoes"), outfit_prompt([], "bags")],
                   max_new_tokens=5)
    assert len(out) == 2 and all(isinstance(t, str) and "\n" not in t for t in out)


def test_a_prompt_longer_than_the_context_is_cut_and_a_normal_one_is_not(tiny_lm):
    """Any LLM reads at most its context: a prompt over it loses its oldest words, while normal prompts score
    and generate exactly as before."""
    model, tokenizer = load_lm(tiny_lm.base, tiny_lm.adapter)
    limit = context_limit(model, tokenizer)
    assert limit == min(model.config.max_position_embeddings, tokenizer.model_max_length)
    normal = (outfit_prompt(["white cotton t-shirt"], "shoes"), completion("black leather ankle boots"))
    assert encode_pair(tokenizer, *normal, limit) == encode_pair(tokenizer, *normal)
    long = outfit_prompt(["navy cotton t-shirt " * 400], "shoes")
    ids, start = encode_pair(tokenizer, long, normal[1], limit)
    assert len(ids) == limit and tokenizer.decode(ids[start:], skip_special_tokens=True).strip() == "black leather ankle boots"
    logprobs, _ = completion_logprobs(model, tokenizer, [long, normal[0]], [normal[1]] * 2)
    assert np.isfinite(logprobs).all()
    assert logprobs[1] == pytest.approx(completion_logprobs(model, tokenizer, [normal[0]], [normal[1]])[0][0], abs=1e-5)
    assert len(generate(model, tokenizer, [long], max_new_tokens=3)) == 1


def test_pmi_score_is_conditional_minus_unconditional(tiny_lm):
    model, tokenizer = load_lm(tiny_lm.base, tiny_lm.adapter)
    outfits = load_outfit_model(model=model, tokenizer=tokenizer, use_counts=False,
                                scoring=ScoringConfig(forward=1, backward=0, counts=0, length_power=0))
    context, candidate = [Item("a", "white cotton t-shirt")], Item("b", "blue denim jeans")
    got = outfits.candidate_scores(context, [candidate])[0]
    lp = completion_logprobs(model, tokenizer, [outfit_prompt(["white cotton t-shirt"]), outfit_prompt([])],
                             [completion("blue denim jeans")] * 2)[0]
    assert got == pytest.approx(lp[0] - lp[1], abs=1e-5)
    assert np.isfinite(outfits.outfit_score([*context, candidate]))


def test_the_slot_format_scores_the_slot_the_caption_given_it_and_each_item_with_its_slot(tiny_lm):
    """Slot format: caption PMI given the candidate's own slot, plus the slot's PMI (the open prompt's " slot:
    caption" minus the caption given the slot), plus backward PMI of each outfit item read with its slot."""
    model, tokenizer = load_lm(tiny_lm.base, tiny_lm.adapter)
    scoring = ScoringConfig(forward=1, backward=0.5, slot=2, counts=0, length_power=0, format="slot")
    outfits = load_outfit_model(model=model, tokenizer=tokenizer, use_counts=False, scoring=scoring)
    context, candidate = [Item("a", "white cotton t-shirt")], Item("b", "blue denim jeans")
    lp = lambda pairs: completion_logprobs(model, tokenizer, *zip(*pairs))[0]
    caption = lp([(outfit_prompt(["white cotton t-shirt"], "bottoms"), completion("blue denim jeans")),
                  (outfit_prompt([], "bottoms"), completion("blue denim jeans"))])
    whole = lp([(open_prompt(["white cotton t-shirt"]), slot_completion("bottoms", "blue denim jeans")),
                (open_prompt([]), slot_completion("bottoms", "blue denim jeans"))])
    backward = lp([(open_prompt(["blue denim jeans"]), slot_completion("tops", "white cotton t-shirt")),
                   (open_prompt([]), slot_completion("tops", "white cotton t-shirt"))])
    slot = (whole[0] - whole[1]) - (caption[0] - caption[1])
    want = (caption[0] - caption[1]) + 2 * slot + 0.5 * (backward[0] - backward[1])
    assert outfits.candidate_scores(context, [candidate])[0] == pytest.approx(want, abs=1e-4)
    assert np.isfinite(outfits.outfit_score([*context, candidate]))
    # the slot term is what the outfit says of the slot alone: the same for every candidate of that slot
    slot_only = load_outfit_model(share=outfits, use_counts=False,
                                  scoring=ScoringConfig(forward=0, backward=0, slot=1, length_power=0, format="slot"))
    terms = slot_only.candidate_scores(context, [Item("c", "navy wool coat"), Item("d", "denim jacket")])
    assert terms[0] == pytest.approx(terms[1], abs=1e-4) and terms[0] != 0
    # the caption format keeps its "missing:" prompt for a candidate without a named slot
    caption_format = load_outfit_model(share=outfits, use_counts=False,
                                       scoring=ScoringConfig(forward=1, backward=0, slot=2, length_power=0))
    plain = lp([(outfit_prompt(["white cotton t-shirt"]), completion("blue denim jeans")),
                (outfit_prompt([]), completion("blue denim jeans"))])
    assert caption_format.candidate_scores(context, [candidate])[0] == pytest.approx(plain[0] - plain[1], abs=1e-4)


def test_sampled_descriptions_are_the_same_for_the_same_request_and_leave_the_random_stream_alone(tiny_lm):
    import torch

    model, tokenizer = load_lm(tiny_lm.base, tiny_lm.adapter)
    prompts = [outfit_prompt(["white cotton t-shirt"], "shoes"), outfit_prompt([], "bags")]
    torch.manual_seed(5)
    first = generate(model, tokenizer, prompts, max_new_tokens=4, samples=3)
    after = torch.rand(1)
    torch.manual_seed(5)
    assert generate(model, tokenizer, prompts, max_new_tokens=4, samples=3) == first and torch.rand(1) == after
    assert len(first) == 6 and len(set(first)) > 1  # three texts per prompt, not one repeated


def test_descriptions_come_best_first_by_what_the_outfit_adds_over_the_slot_alone(tiny_lm):
    """With a prior weight, `describe` orders its candidates by log p(text | outfit) - w log p(text | slot, request),
    per token; without one, the greedy rotations come first as they were written."""
    from stylist.core.prompts import Decoding

    outfits = load_outfit_model(tiny_lm.base, tiny_lm.adapter, use_counts=False, scoring=PER_TOKEN)
    captions, request = ["white cotton t-shirt", "blue denim jeans"], ("casual", "winter")
    greedy = outfits.describe(captions, ["shoes"], *request, 2, 4)[0]
    plain = outfits.describe(captions, ["shoes"], *request, 2, 4, decoding=Decoding(samples=4))[0]
    assert plain[:len(set(greedy))] == list(dict.fromkeys(greedy)) and len(plain) > len(set(greedy))
    [ranked] = outfits.describe(captions, ["shoes"], *request, 2, 4, decoding=Decoding(samples=4, prior_weight=0.5))
    assert sorted(ranked) == sorted(plain)
    per_token = outfits.logprobs([(prompt, completion(t)) for t in ranked  # PER_TOKEN: log p per token
                                  for prompt in (outfit_prompt(captions, "shoes", *request),
                                                 outfit_prompt([], "shoes", *request))]).reshape(-1, 2)
    gains = per_token[:, 0] - 0.5 * per_token[:, 1]
    assert list(gains) == sorted(gains, reverse=True)


def test_the_checkpoint_says_its_format_and_one_without_it_is_the_caption_format(tiny_lm, tmp_path):
    from stylist.models.outfit import save_scoring_config

    adapter = tmp_path / "sft"
    shutil.copytree(tiny_lm.adapter, adapter)
    assert not load_outfit_model(tiny_lm.base, adapter, use_counts=False).slot_format
    save_scoring_config(ScoringConfig(slot=0.5, counts=8, format="slot"), ScoringConfig(slot=0.5, format="slot"),
                        adapter / "scoring.json")
    assert load_outfit_model(tiny_lm.base, adapter, use_counts=False).slot_format
    unknown = {"format": "chat"}
    (adapter / "scoring.json").write_text(json.dumps({"with_counts": unknown, "lm_only": unknown}))
    with pytest.raises(StylistError, match="unknown LM format 'chat'"):
        load_outfit_model(tiny_lm.base, adapter, use_counts=False)


@pytest.mark.parametrize("start", ["adapter", "none"])
def test_another_adapter_scores_the_conditional_terms_and_version_0_the_unconditional_ones(tiny_lm, start):
    """A refined version is scored as log p_new(item | outfit) - log p_v0(item): DPO's gain must not cancel."""
    v0 = str(tiny_lm.adapter) if start == "adapter" else "none"
    outfits = load_outfit_model(tiny_lm.base, v0, use_counts=False, scoring=PER_TOKEN)
    text = completion("white cotton t-shirt")
    pairs = [(outfit_prompt([]), text), (outfit_prompt([], "shoes"), text), (outfit_prompt(["blue denim jeans"]), text)]
    got = np.concatenate([outfits.logprobs(pairs[:2], adapter=tiny_lm.other),
                          outfits.logprobs(pairs[2:], adapter=tiny_lm.other)])
    reference, new = (load_outfit_model(tiny_lm.base, a, use_counts=False, scoring=PER_TOKEN).logprobs(pairs)
                      for a in (v0, tiny_lm.other))
    assert got[:2] == pytest.approx(reference[:2], abs=1e-5)  # unconditional: version 0's
    assert not np.allclose(got[:2], new[:2], atol=1e-3)
    assert got[2] == pytest.approx(new[2], abs=1e-5)  # conditional: the asked-for adapter's
    assert outfits.logprobs(pairs[2:]) == pytest.approx(reference[2:], abs=1e-5)  # and version 0 is still there
    if start == "adapter":  # version 0 named by its folder is version 0
        assert outfits.logprobs(pairs[2:], adapter=tiny_lm.adapter / ".") == pytest.approx(reference[2:], abs=1e-5)


def test_the_version_in_use_is_merged_and_switching_versions_gives_unmerged_figures(tiny_lm):
    """The recommender merges the LoRA of the version it runs into the LM's weights (a third of a small LM's
    FLOPs); switching versions takes it out first, so every version scores as its unmerged model does, before
    and after a switch."""
    from stylist.models.spec import LMSpec

    outfits = load_outfit_model(tiny_lm.base, tiny_lm.adapter, use_counts=False, scoring=PER_TOKEN)
    pairs = [(outfit_prompt([g], slot), completion(h)) for slot in ("shoes", "bags", "hats")
             for g in CAPTIONS for h in CAPTIONS]
    third = len(pairs) // 3  # each part new to the caches, so each is computed with the weights of its moment
    prompts = [outfit_prompt([g], "shoes") for g in CAPTIONS]
    got = [outfits.logprobs(pairs[:third]), outfits.logprobs(pairs[third:2 * third], adapter=tiny_lm.other),
           outfits.logprobs(pairs[2 * third:])]
    for part, (adapter, begin) in zip(got, [(tiny_lm.adapter, 0), (tiny_lm.other, third), (tiny_lm.adapter, 2 * third)]):
        model, tokenizer = load_lm(LMSpec(str(tiny_lm.base), str(adapter)))  # unmerged
        reference = completion_logprobs(model, tokenizer, *zip(*pairs[begin:begin + third]))
        assert np.allclose(part, reference[0] / reference[1], atol=1e-5)
    model, tokenizer = load_lm(LMSpec(str(tiny_lm.base), str(tiny_lm.adapter)))
    assert outfits.generate(prompts, 4) == generate(model, tokenizer, prompts, max_new_tokens=4)


def test_threads_with_different_adapters_get_what_sequential_calls_get(tiny_lm):
    """The app serves visitors on several threads, each with its own adapter version: switching adapter and
    running the model must never interleave."""
    adapters = [None, tiny_lm.other]
    jobs = {a: [([(prompt, completion(h)) for h in CAPTIONS for prompt in (outfit_prompt([g]), outfit_prompt([], "shoes"))],
                 [outfit_prompt([g], "shoes")]) for g in CAPTIONS] for a in adapters}

    def run(outfits, adapter) -> list:
        return [(outfits.logprobs(pairs, adapter), outfits.generate(prompts, 4, adapter))
                for pairs, prompts in jobs[adapter]]

    def fresh():
        return load_outfit_model(tiny_lm.base, tiny_lm.adapter, use_counts=False, scoring=PER_TOKEN)

    alone = {a: run(fresh(), a) for a in adapters}
    together, shared = {}, fresh()
    threads = [threading.Thread(target=lambda a=a: together.__setitem__(a, run(shared, a))) for a in adapters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a in adapters:
        assert [text for _, text in together[a]] == [text for _, text in alone[a]]
        assert np.concatenate([lp for lp, _ in together[a]]) == pytest.approx(
            np.concatenate([lp for lp, _ in alone[a]]), abs=1e-5)
    assert not np.allclose(alone[None][0][0], alone[tiny_lm.other][0][0], atol=1e-3)


def test_unconditional_terms_are_kept_across_starts_for_the_same_lm_only(tiny_lm, tmp_path, capsys, monkeypatch):
    """Version 0's "nothing" terms are stored in the data folder and read by the next start of the same LM, so
    they are not computed again; another LM (another adapter) has its own file; a damaged file is said once and
    ignored; conditional terms are not stored."""
    import stylist.models.adapter_versions as versions

    pairs = [(outfit_prompt([], "shoes"), completion(c)) for c in CAPTIONS]
    first = load_outfit_model(tiny_lm.base, tiny_lm.adapter, use_counts=False, scoring=PER_TOKEN)
    first.keep_prior(tmp_path)
    expected = first.logprobs(pairs + [(outfit_prompt(["white cotton t-shirt"]), completion("blue denim jeans"))])
    assert first.save_prior() is True and first.save_prior() is None  # nothing new the second time
    [stored] = tmp_path.glob("lm-prior-*.jsonl")
    assert len(stored.read_text().splitlines()) == 1 + len(pairs)  # a header, then the unconditional terms only

    again = load_outfit_model(tiny_lm.base, tiny_lm.adapter, use_counts=False, scoring=PER_TOKEN)
    again.keep_prior(tmp_path)
    monkeypatch.setattr(versions, "completion_logprobs", lambda *a, **k: pytest.fail("a stored term was recomputed"))
    assert again.logprobs(pairs) == pytest.approx(expected[:len(pairs)], abs=1e-6)
    monkeypatch.undo()

    other = load_outfit_model(tiny_lm.base, tiny_lm.other, use_counts=False, scoring=PER_TOKEN)
    other.keep_prior(tmp_path)
    other.logprobs(pairs)
    other.save_prior()
    assert len(list(tmp_path.glob("lm-prior-*.jsonl"))) == 2

    lines = stored.read_text().splitlines()
    stored.write_text("\n".join(lines[:3]) + "\n" + lines[3][:9])  # a crash in the middle of an append
    damaged = load_outfit_model(tiny_lm.base, tiny_lm.adapter, use_counts=False, scoring=PER_TOKEN)
    damaged.keep_prior(tmp_path)
    assert "damaged LM term file" in capsys.readouterr().err
    assert damaged.logprobs(pairs) == pytest.approx(expected[:len(pairs)], abs=1e-5)
    assert damaged.save_prior() is True  # the file written anew, whole
    assert len(stored.read_text().splitlines()) == 1 + len(pairs) and json.loads(stored.read_text().splitlines()[-1])


def test_nothing_outside_the_outfit_model_reaches_into_it():
    """Its LM, adapter versions and caches are private to the outfit model (stylist/models/outfit.py and the
    adapter_versions.py it keeps them in): no other file uses an underscored attribute they set or names the
    classes that hold them."""
    sources = [REPO / "stylist" / "models" / "outfit.py", REPO / "stylist" / "models" / "adapter_versions.py"]
    trees = [ast.parse(source.read_text()) for source in sources]
    private = {node.attr for tree in trees for node in ast.walk(tree) if isinstance(node, ast.Attribute)
               and isinstance(node.ctx, ast.Store) and node.attr.startswith("_")}
    private |= {"AdapterVersions", "PriorFile"}
    assert {"_lm", "_counts"} <= private
    reaching = [f"{path.relative_to(REPO)}:{node.lineno}"
                for path in sorted(p for folder in ("stylist", "bench", "tests") for p in (REPO / folder).rglob("*.py"))
                if path not in sources for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, (ast.Attribute, ast.Name, ast.alias))
                and (getattr(node, "attr", None) or getattr(node, "id", None) or getattr(node, "name", None)) in private]
    assert not reaching, reaching


def test_only_the_empty_outfit_prompt_goes_to_the_prior():
    assert is_unconditional(outfit_prompt([])) and is_unconditional(outfit_prompt([], "shoes"))
    assert not is_unconditional(outfit_prompt(["white tee"], "shoes"))
    assert not is_unconditional(outfit_prompt([], "shoes", occasion="party"))

def test_split_is_deterministic_and_about_a_fifth():
    ids = [str(200000000 + 7919 * n) for n in range(2000)]
    parts = split_outfits(Outfit(i, []) for i in ids)
    assert 0.16 < len(parts["test"]) / len(ids) < 0.24
    assert all(part_of(o.id) == "test" for o in parts["test"]) and bucket("123") == bucket("123")
    assert len(parts["fit"]) == len(parts["train"]) + len(parts["valid"])


def pair(counts: CountModel, a: Item, b: Item) -> float:
    """How much more often than chance the counts see a and b in one outfit (0 = no evidence)."""
    return counts.candidate_scores([a], [b])[0]


def test_counts_prefer_pairs_seen_together(tmp_path):
    boots, tee, lipstick = (Item("x", "black boots", "Boots"), Item("y", "white tee", "T-Shirts"),
                            Item("z", "red lipstick", "Lipstick"))
    outfits = [[Item(f"{n}a", "black boots", "Boots"), Item(f"{n}b", "white tee", "T-Shirts")] for n in range(5)]
    outfits += [[Item(f"{n}c", "red lipstick", "Lipstick"), Item(f"{n}d", "pink blush", "Blush")] for n in range(5)]
    counts = CountModel.fit(outfits)
    assert pair(counts, boots, tee) > 0 > pair(counts, boots, lipstick)
    counts.save(tmp_path / "c.npz")
    again = CountModel.load(tmp_path / "c.npz")
    assert again.candidate_scores([tee], [boots, lipstick]) == pytest.approx(counts.candidate_scores([tee], [boots, lipstick]))


def test_counts_price_band_separates_price_ranges():
    cheap, dear = Item("c", "tee", "T-Shirts", price=12.0), Item("d", "tee", "T-Shirts", price=400.0)
    outfits = [[Item(f"{n}a", "boots", "Boots", price=p), Item(f"{n}b", "tee", "T-Shirts", price=p * 0.9)]
               for n in range(4) for p in (15.0, 500.0)]
    with_price = CountModel.fit(outfits, CountConfig(min_count=1, price_weight=1.0))
    boots = Item("q", "boots", "Boots", price=14.0)
    assert pair(with_price, boots, cheap) > pair(with_price, boots, dear)
    assert pair(CountModel.fit(outfits), boots, cheap) == pair(CountModel.fit(outfits), boots, dear)
    unpriced = Item("u", "boots", "Boots")  # no price listed: only category and words speak
    assert pair(with_price, unpriced, cheap) == pair(with_price, unpriced, dear)


def test_item_caption_names_category_and_price_band():
    assert item_caption(Item("a", "Black Ankle Boots", "Boots")) == "black ankle boots"  # already says it
    assert item_caption(Item("b", "gucci", "Shoes", price=120.0)) == "gucci, shoes, p7"  # 2**7 = 128
    assert item_caption(Item("c", "", "Shoes", price=-1)) == "shoes"
