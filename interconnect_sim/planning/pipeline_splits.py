"""How the layout search cuts the layers over pipeline ranks.

Megatron splits ``L`` layers over ``pp`` ranks (each cut again into ``vpp`` virtual stages) in
three ways, all of which :func:`~interconnect_sim.training.pipeline.stage_chunks` times:

* **even**: ``L / pp`` layers per rank (``L`` divisible by ``pp`` and the rank's count by
  ``vpp``);
* **embedding / loss in the split** (``--account-for-embedding-in-pipeline-split``,
  ``--account-for-loss-in-pipeline-split``): the input embedding and the output layer with the
  loss count as one layer each, so ``L + 1`` or ``L + 2`` slots divide over ``pp x vpp`` chunks;
* **first / last stage layers** (``--decoder-first-pipeline-num-layers``,
  ``--decoder-last-pipeline-num-layers``): the first rank gets ``f`` layers, the last ``l``, the
  ranks between split the rest evenly, ``m`` each.

The search tries every split of the first two kinds and those of the third that leave no rank empty
and whose busiest rank holds ``M0`` or ``M0 + vpp`` layers, ``M0`` being the fewest any split of
``L`` over ``pp`` ranks can give its busiest rank (``vpp x ceil(L / (pp vpp))``). A rank's time
grows with its layers and the slowest rank sets the pipeline's pace, so a split whose busiest rank
holds two or more ``vpp`` steps more than it has to runs the steady state at a slower pace; the
extra ``vpp`` step is what lets the first and last ranks carry less (the output layer and loss, the
pipeline's warm-up activations) while the middle ranks carry one step more.
``tests/unit/test_layout_search.py`` checks on small cases that no split of the third kind outside
this band beats the search's choice.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Split", "chunk_layers", "pipeline_splits"]


@dataclass(frozen=True, slots=True)
class Split:
    """One way to cut the layers over the pipeline ranks (:class:`~.parallel.ParallelConfig`'s
    ``pp_first_stage_layers``, ``pp_last_stage_layers``, ``pp_embedding_in_split``,
    ``pp_loss_in_split``)."""

    first: int | None = None
    last: int | None = None
    embedding: bool = False
    loss: bool = False

    @property
    def kind(self) -> int:
        """0 even, 1 embedding/loss counted as layers, 2 first/last stage layers."""
        if self.first is not None or self.last is not None:
            return 2
        return 1 if self.embedding or self.loss else 0

    def describe(self) -> str:
        """``even``, ``embedding+loss in split``, ``first 5 / last 9``."""
        if self.kind == 2:
            return f"first {self.first} / last {self.last}"
        if self.kind == 1:
            parts = [n for n, on in (("embedding", self.embedding), ("loss", self.loss)) if on]
            return "+".join(parts) + " in split"
        return "even"


def _accounting(layers: int, pp: int, vpp: int) -> list[Split]:
    """Embedding and/or loss counted as one layer each, where that makes the chunks equal."""
    found = []
    for embedding, loss in ((True, False), (False, True), (True, True)):
        slots = layers + embedding + loss
        if slots % (pp * vpp) == 0 and slots // (pp * vpp) >= 1 + (pp * vpp == 1):
            found.append(Split(embedding=embedding, loss=loss))
    return found


def _edges(layers: int, pp: int, vpp: int, busiest: int) -> list[Split]:
    """First/last stage layer counts whose busiest rank holds exactly ``busiest`` layers."""
    found = []
    steps = range(vpp, busiest + 1, vpp)
    middles = [0] if pp == 2 else list(steps)
    for middle in middles:
        rest = layers - (pp - 2) * middle
        for first in steps:
            last = rest - first
            if last < vpp or last > busiest or last % vpp:
                continue
            if max(first, last, middle) != busiest:
                continue
            if first == last == middle or (pp == 2 and first == last):
                continue  # the even split
            found.append(Split(first=first, last=last))
    return found


def chunk_layers(split: Split, layers: int, pp: int, vpp: int) -> tuple[int, ...]:
    """Layers of each of the ``pp x vpp`` chunks, in Megatron's order (chunk ``g`` on rank
    ``g % pp``), as :func:`~interconnect_sim.training.pipeline.stage_chunks` cuts them."""
    chunks = pp * vpp
    if split.kind == 1:
        per = (layers + split.embedding + split.loss) // chunks
        counts = [per] * chunks
        counts[0] -= split.embedding
        counts[-1] -= split.loss
        return tuple(counts)
    if split.kind == 0:
        return (layers // chunks,) * chunks
    assert split.first is not None
    assert split.last is not None
    middle = (layers - split.first - split.last) // (pp - 2) if pp > 2 else 0
    ranks = [split.first, *[middle] * (pp - 2), split.last]
    return tuple(ranks[g % pp] // vpp for g in range(chunks))


def pipeline_splits(layers: int, pp: int, vpp: int, *, uneven: bool = True) -> list[Split]:
    """The splits of ``layers`` over ``pp`` ranks of ``vpp`` virtual stages the search tries.

    Examples
    --------
    Ten layers over four ranks do not divide; the busiest rank needs at least three:

    >>> [s.describe() for s in pipeline_splits(10, 4, 1)][:4]
    ['embedding+loss in split', 'first 3 / last 3', 'first 1 / last 3', 'first 3 / last 1']
    """
    if pp == 1:
        return [Split()] if vpp == 1 else []
    splits = []
    if layers % pp == 0 and (layers // pp) % vpp == 0:
        splits.append(Split())
    if not uneven:
        return splits
    splits.extend(_accounting(layers, pp, vpp))
    fewest = vpp * -(-layers // (pp * vpp))
    for busiest in (fewest, fewest + vpp):
        splits.extend(_edges(layers, pp, vpp, busiest))
    # Different settings can cut the same chunks (embedding and loss in the split of 8 layers
    # over 2 ranks is the even split): keep the simplest of each.
    unique: dict[tuple[int, ...], Split] = {}
    for split in splits:
        unique.setdefault(chunk_layers(split, layers, pp, vpp), split)
    return list(unique.values())
