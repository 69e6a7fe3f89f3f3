"""Images in pixel space, ``[0, 1]`` per channel, and the two things every stage does to them the same way.

- :func:`normalize`: the images as the model sees them, ``(pixels − mean) / std`` per channel (the
  image set's ``mean`` and ``std``, :class:`cameval.data.images.ImageSet`);
- :func:`set_pixels`: one pixel of each image set to a colour given in 0..255 per channel (a one-pixel
  attack's image, :mod:`cameval.attacks.one_pixel`).

Both take numpy arrays or torch tensors and give back the same kind (in the dtype and on the device of
the images), so the torch-free readers (:mod:`cameval.experiments.sensitivity.rows`) and the jobs
compute the same numbers; this module itself does not import torch.
"""

from __future__ import annotations

import numpy as np


def _is_tensor(a) -> bool:
    return hasattr(a, "detach")  # a torch tensor, without importing torch here


def _like(values, images):
    """``values`` as a flat tensor or array in the dtype (and on the device) of ``images``."""
    if _is_tensor(images):
        import torch  # noqa: PLC0415  # a tensor was given: torch is loaded

        return torch.as_tensor(values, dtype=images.dtype, device=images.device).reshape(-1)
    dtype = images.dtype if np.issubdtype(images.dtype, np.floating) else np.float64
    return np.asarray(values, dtype=dtype).reshape(-1)


def normalize(pixels, mean, std, channel_axis: int = -3):
    """``(pixels − mean) / std``, ``mean`` and ``std`` one value per channel (or one for all).

    ``channel_axis`` counts from the end: ``-3`` for images ``[..., C, H, W]`` (the default), ``-1``
    for colours ``[..., C]`` (a pixel's value, a fill). The arithmetic is that of the images' dtype
    (float32 tensors stay float32: the numbers :meth:`cameval.data.images.ImageSet.tensor` gives)."""
    if channel_axis >= 0:
        raise ValueError(f"channel_axis: {channel_axis}, expected a negative axis (counted from the end)")
    shape = (-1,) + (1,) * (-channel_axis - 1)
    return (pixels - _like(mean, pixels).reshape(shape)) / _like(std, pixels).reshape(shape)


def set_pixels(pixels, rows, cols, colours):
    """Set pixel ``(rows[i], cols[i])`` of image ``i`` of ``pixels`` ``[N, C, H, W]`` (pixel space)
    to ``colours[i] / 255`` (``colours`` ``[N, C]`` in 0..255, divided in the images' dtype), in place;
    returns ``pixels``. Every other pixel is left as it is."""
    if _is_tensor(pixels):
        import torch  # noqa: PLC0415  # a tensor was given: torch is loaded

        at = {"dtype": torch.long, "device": pixels.device}
        # copies (np.array): indices read from a file come as read-only arrays, which torch would share
        r, c = (torch.as_tensor(np.array(v, dtype=np.int64), **at) for v in (rows, cols))
        k = torch.arange(len(pixels), **at)
        values = torch.as_tensor(np.array(colours), device=pixels.device).to(pixels.dtype) / 255
    else:
        k, r, c = np.arange(len(pixels)), np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        values = np.asarray(colours).astype(pixels.dtype) / pixels.dtype.type(255)
    if values.shape != (len(pixels), pixels.shape[1]):
        raise ValueError(
            f"colours: shape {tuple(values.shape)}, expected one value per channel of each image "
            f"({len(pixels)}, {pixels.shape[1]})"
        )
    pixels[k, :, r, c] = values
    return pixels
