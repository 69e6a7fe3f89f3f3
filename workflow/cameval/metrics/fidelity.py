"""Fidelity and contrastivity of binarized maps (Nagy et al., Table 7; Pope et al., CVPR 2019).

- :func:`binarize`: a map's mask at a percentile of its *positive* values;
- :func:`contrastivity`: how different the masks of the positive class and the other classes are;
- :func:`fidelity`: how much the label's probability (and the accuracy) drops when the masked
  pixels are set to the dataset's mean (zero after normalization, as the study did).
"""

from __future__ import annotations

import numpy as np

from cameval.metrics.localization import as_array


def binarize(hmap, percentile: float = 10) -> np.ndarray:
    """Boolean mask ``hmap > np.percentile(hmap[hmap > 0], percentile)``, shape ``[H, W]``.

    A pixel map ``[C, H, W]`` (SHAP, IG) is summed over its channels first (the study took
    channel 0 only). ``np.percentile``'s default linear interpolation; nothing positive gives an
    all-False mask. With percentile 1 nearly every positive pixel is kept, with 10 the top 90 %.
    """
    m = as_array(hmap, name="hmap")
    if m.ndim == 3:
        m = m.sum(axis=0)
    if m.ndim != 2:
        raise ValueError(f"hmap: shape {m.shape}, expected [H, W] or [C, H, W]")
    if not 0 <= percentile <= 100:
        raise ValueError(f"percentile: {percentile}, expected a value in [0, 100]")
    positive = m[m > 0]
    if positive.size == 0:
        return np.zeros(m.shape, dtype=bool)
    return m > np.percentile(positive, percentile)


def hamming_ratio(mask_a, mask_b) -> float:
    """Normalized Hamming distance of two binary masks: ``|a XOR b| / |a OR b|``.

    1 when the masks share no pixel, 0 when they are equal; nonzero entries count as set; two
    empty masks (an empty union) give 0.0 (nothing highlighted, nothing differs).
    """
    a, b = as_array(mask_a, name="mask_a") != 0, as_array(mask_b, name="mask_b") != 0
    if a.shape != b.shape:
        raise ValueError(f"mask_a: shape {a.shape}, mask_b: shape {b.shape}; expected the same shape")
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a ^ b) / union) if union else 0.0


def contrastivity(masks, positive: int) -> float:
    """Contrastivity of one image's masks ``[K, H, W]`` (one per class):
    ``mean_{j != positive} Hamming(m_pos, m_j) / |m_pos OR m_j|`` (:func:`hamming_ratio`; a
    pair with an empty union counts 0). Pope et al. (2019), as Nagy et al. use it in Table 7.
    """
    m = as_array(masks, 3, "masks") != 0
    k = m.shape[0]
    if not 0 <= positive < k or k < 2:
        raise ValueError(f"positive: {positive}, expected a class in 0..{k - 1} of at least 2 masks")
    return float(np.mean([hamming_ratio(m[positive], m[j]) for j in range(k) if j != positive]))


def fidelity(model, x, masks, labels, fill: float = 0.0, batch_size: int = 256) -> dict:
    """The label's softmax probability and the prediction before and after masking, per image.

    ``x``: normalized images ``[N, C, H, W]``; ``masks``: bool ``[N, H, W]`` (every channel of a
    masked pixel is set to ``fill``, in ``x``'s space: 0 is the dataset's mean); ``labels`` ``[N]``.
    Returns numpy arrays ``p_before``, ``p_after``, ``drop = p_before - p_after``,
    ``pred_before``, ``pred_after``. Fidelity is the mean ``drop`` (Nagy et al., Table 7),
    alongside the accuracy before and after.
    """
    # torch here only: cameval.metrics serves the table jobs, which start without it
    import torch  # noqa: PLC0415

    from cameval.explain import logits_of  # noqa: PLC0415  # loads torch (as above)

    x = torch.as_tensor(x)
    mk = torch.as_tensor(np.asarray(masks, dtype=bool), device=x.device)[:, None]
    labels = torch.as_tensor(labels, dtype=torch.long, device=x.device)
    if mk.shape[0] != x.shape[0] or mk.shape[-2:] != x.shape[-2:]:
        raise ValueError(f"masks: shape {tuple(mk.shape[::2])}, expected [N, H, W] = {(x.shape[0], *x.shape[-2:])}")
    masked = torch.where(mk, torch.as_tensor(fill, dtype=x.dtype, device=x.device), x)
    out = {}
    with torch.no_grad():
        for key, inp in (("before", x), ("after", masked)):
            prob = torch.cat(
                [
                    torch.softmax(logits_of(model(inp[i : i + batch_size])).float(), 1)
                    for i in range(0, len(inp), batch_size)
                ]
            )
            out[f"p_{key}"] = prob.gather(1, labels[:, None])[:, 0].cpu().numpy().astype(np.float64)
            out[f"pred_{key}"] = prob.argmax(1).cpu().numpy()
    out["drop"] = out["p_before"] - out["p_after"]
    return out
